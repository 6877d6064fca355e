#!/usr/bin/env python3
"""The CI features, end to end: --mproc-junit, --mproc-retries,
--mproc-rerun-failed and the GitHub annotations.

    ci.py --plugin LIB --exe NAME=PATH... --schemas DIR CASE

Each case runs test binaries with the plugin preloaded, in a fixed
environment and a temporary directory of its own (also their TMPDIR and
CI_STATE_DIR, where test/ci/ci_sample.c counts its tries), and checks what
they printed and wrote.  A JUnit report is checked for consistency (counts
against elements, unique names) and validated with xmllint against both
schemas of DIR (see test/junit/README.md).  Exit status: 0 pass, 1 fail.
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

RUN_TIMEOUT_S = 45

# Per-test elements Ant's schema does not know (Surefire's), and the
# attributes Surefire's does not know (Ant's aggregated form).
SUREFIRE_ONLY = ('system-out', 'system-err', 'rerunFailure', 'flakyFailure', 'rerunError',
                 'flakyError')
ANT_ONLY_ATTRS = ('timestamp', 'hostname', 'package', 'id')


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Ctx:
    def __init__(self, args, tmp):
        self.plugin = args.plugin
        self.exe = dict(e.split('=', 1) for e in args.exe)
        self.schemas = args.schemas
        self.tmp = tmp
        self.state = os.path.join(tmp, 'state')
        os.makedirs(self.state, exist_ok=True)

    def run(self, exe, *argv, env=None, plugin=True):
        e = {
            'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
            'TERM': 'dumb',
            'LC_ALL': 'C.UTF-8',
            'TMPDIR': self.tmp,
            'CI_STATE_DIR': self.state,
            'CRITERION_DISABLE_TIME_MEASUREMENTS': '1',
        }
        if plugin:
            e['LD_PRELOAD'] = self.plugin
        e.update(env or {})
        p = subprocess.run([self.exe[exe]] + list(argv), env=e, cwd=self.tmp,
                           capture_output=True, timeout=RUN_TIMEOUT_S)
        return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')

    def path(self, name):
        return os.path.join(self.tmp, name)


# ---- JUnit ----------------------------------------------------------------------

def xmllint(schema, doc, label):
    p = subprocess.run(['xmllint', '--noout', '--schema', schema, doc], capture_output=True)
    check(p.returncode == 0, '%s does not validate against %s:\n%s' % (
        label, os.path.basename(schema), p.stderr.decode(errors='replace')))


def kind_of(tc):
    for k in ('failure', 'error', 'skipped'):
        if tc.find(k) is not None:
            return k
    return 'pass'


def junit_validate(ctx, path):
    """Consistency, then both schemas; returns {(classname, name): testcase}."""
    root = ET.parse(path).getroot()
    check(root.tag == 'testsuites', 'root is <%s>, not <testsuites>' % root.tag)
    cases = {}
    for ts in root.findall('testsuite'):
        tcs = ts.findall('testcase')
        kinds = collections.Counter(kind_of(tc) for tc in tcs)
        for attr, n in (('tests', len(tcs)), ('failures', kinds['failure']),
                        ('errors', kinds['error']), ('skipped', kinds['skipped'])):
            check(ts.get(attr) == str(n), 'suite %s: %s="%s" but %d elements' % (
                ts.get('name'), attr, ts.get(attr), n))
        check(re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d', ts.get('timestamp') or ''),
              'suite %s: bad timestamp %r' % (ts.get('name'), ts.get('timestamp')))
        check(ts.get('hostname'), 'suite %s: no hostname' % ts.get('name'))
        for tc in tcs:
            key = (tc.get('classname'), tc.get('name'))
            check(key not in cases, 'testcase %s::%s twice' % key)
            check(tc.get('classname') == ts.get('name'), 'classname %s in suite %s' % (
                key[0], ts.get('name')))
            cases[key] = tc

    ant = ET.parse(path)
    for tc in ant.getroot().iter('testcase'):
        for child in list(tc):
            if child.tag in SUREFIRE_ONLY:
                tc.remove(child)
    ant_path = path + '.ant.xml'
    ant.write(ant_path, encoding='UTF-8', xml_declaration=True)
    xmllint(os.path.join(ctx.schemas, 'JUnit.xsd'), ant_path, 'the report')

    for i, ts in enumerate(ET.parse(path).getroot().findall('testsuite')):
        for a in ANT_ONLY_ATTRS:
            ts.attrib.pop(a, None)
        for child in list(ts):
            if child.tag in ('system-out', 'system-err'):
                ts.remove(child)
        one = path + '.suite%d.xml' % i
        ET.ElementTree(ts).write(one, encoding='UTF-8', xml_declaration=True)
        xmllint(os.path.join(ctx.schemas, 'surefire-test-report-3.0.xsd'), one,
                'suite %s' % ts.get('name'))
    return cases


def criterion_xml_cases(path):
    """Criterion's own --xml: the multiset of (suite, test) it reports."""
    root = ET.parse(path).getroot()
    return collections.Counter((ts.get('name'), tc.get('name'))
                               for ts in root.iter('testsuite') for tc in ts.iter('testcase'))


def junit_run(ctx, exe, *extra, expect_rc=None):
    report = ctx.path('junit.xml')
    rc, out, err = ctx.run(exe, '--mproc=2', '--mproc-junit=' + report, '--xml=' + ctx.path('crit.xml'),
                           '--mproc-durations=none', *extra)
    check(expect_rc is None or rc == expect_rc, 'exit status %d, expected %s\n%s' % (rc, expect_rc, err))
    check(os.path.exists(report), 'no JUnit report written\n' + err)
    cases = junit_validate(ctx, report)
    # The same tests as Criterion's report, each parameter its own case.
    ours = collections.Counter((c, re.sub(r'\[\d+\]$', '', n)) for c, n in cases)
    check(ours == criterion_xml_cases(ctx.path('crit.xml')),
          'testcases differ from --xml: only ours %s, only --xml %s' % (
              ours - criterion_xml_cases(ctx.path('crit.xml')), criterion_xml_cases(ctx.path('crit.xml')) - ours))
    return cases, out, err


def expect_kind(cases, suite, name, kind, message=None):
    tc = cases.get((suite, name))
    check(tc is not None, 'no testcase %s::%s' % (suite, name))
    check(kind_of(tc) == kind, '%s::%s is %s, expected %s' % (suite, name, kind_of(tc), kind))
    if message:
        el = tc.find(kind)
        check(el is not None and re.search(message, el.get('message', '')),
              '%s::%s: message %r does not match %r' % (suite, name,
                                                       el.get('message') if el is not None else None,
                                                       message))
    return tc


def case_junit_failing(ctx, isolation):
    cases, _, _ = junit_run(ctx, 'failing', '--mproc-isolation=' + isolation, expect_rc=1)
    expect_kind(cases, 'failing', 'average_table[1]', 'failure', r'average of 2 values')
    expect_kind(cases, 'failing', 'average_table[4]', 'failure', r'average of 4 values')
    expect_kind(cases, 'failing', 'average_table[0]', 'pass')
    expect_kind(cases, 'failing', 'checksum_of_null_buffer_crashes', 'error', r'signal 11')
    expect_kind(cases, 'failing', 'waits_forever_and_times_out', 'error', r'timed out after 0.5 s')
    expect_kind(cases, 'failing', 'overflowing_add_exits_with_status_3', 'failure', r'status 3')
    expect_kind(cases, 'failing', 'setup_crashes_before_the_test', 'error', r'setup')
    tc = expect_kind(cases, 'failing', 'div_round_matches_reference', 'failure')
    check('(-7, 2)' in (tc.find('failure').text or ''), 'the theory\'s parameters are missing')
    tc = expect_kind(cases, 'failing', 'several_expectations_in_order', 'failure', r'^expectation 1 of 4')
    check(len(re.findall(r'test_failing\.c:\d+:', tc.find('failure').text)) == 3,
          'not every failed assertion is in the failure text')


def case_junit_samples(ctx, isolation):
    for exe in ('strlib', 'parser', 'containers', 'cpp_shapes'):
        cases, _, _ = junit_run(ctx, exe, '--mproc-isolation=' + isolation, expect_rc=0)
        check(cases and all(kind_of(tc) in ('pass', 'skipped') for tc in cases.values()),
              '%s: a test did not pass' % exe)


def case_junit_output(ctx, isolation):
    cases, _, _ = junit_run(ctx, 'ci', '--mproc-isolation=' + isolation, expect_rc=1)
    tc = expect_kind(cases, 'ci', 'passes', 'pass')
    check('<tag> & "quotes"' in (tc.findtext('system-out') or ''),
          'the test\'s stdout is not its system-out: %r' % tc.findtext('system-out'))
    check(tc.findtext('system-err') == 'err: plain\n', 'system-err: %r' % tc.findtext('system-err'))
    expect_kind(cases, 'ci', 'skipped', 'skipped', r'not on this machine')
    expect_kind(cases, 'ci', 'params[1]', 'failure', r'param 2 fails')
    expect_kind(cases, 'ci', 'params[0]', 'pass')
    expect_kind(cases, 'ci', 'always_fails', 'failure', r'fails on every try')


def case_junit_env(ctx, isolation):
    report = ctx.path('env.xml')
    rc, _, err = ctx.run('strlib', '--mproc=2', '--mproc-durations=none',
                         '--mproc-isolation=' + isolation, env={'CRITERION_MPROC_JUNIT': report})
    check(rc == 0, 'exit status %d\n%s' % (rc, err))
    check(junit_validate(ctx, report), 'CRITERION_MPROC_JUNIT wrote an empty report')


def case_junit_unwritable(ctx, isolation):
    rc, _, err = ctx.run('strlib', '--mproc=2', '--mproc-durations=none',
                         '--mproc-isolation=' + isolation, '--mproc-junit=' + ctx.path('no/such/dir.xml'))
    check(rc == 0, 'an unwritable report changed the exit status: %d' % rc)
    check('cannot write the JUnit report' in err, 'no warning for an unwritable report:\n' + err)


CASES = {
    'junit-failing': case_junit_failing,
    'junit-samples': case_junit_samples,
    'junit-output': case_junit_output,
    'junit-env': case_junit_env,
    'junit-unwritable': case_junit_unwritable,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--plugin', required=True)
    ap.add_argument('--exe', action='append', default=[], help='NAME=PATH')
    ap.add_argument('--schemas', required=True)
    ap.add_argument('--isolation', default='exec', choices=('exec', 'fork'))
    ap.add_argument('case', choices=sorted(CASES))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix='crmp-ci-') as tmp:
        try:
            CASES[args.case](Ctx(args, tmp), args.isolation)
        except Failure as e:
            print('FAIL %s (%s): %s' % (args.case, args.isolation, e))
            return 1
    print('ok %s (%s)' % (args.case, args.isolation))
    return 0


if __name__ == '__main__':
    sys.exit(main())
