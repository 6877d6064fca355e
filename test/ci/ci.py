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
    # parser and cpp_shapes exist only where Criterion has the new assertion API (2.4+).
    for exe in [e for e in ('strlib', 'parser', 'containers', 'cpp_shapes') if e in ctx.exe]:
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


# ---- retries --------------------------------------------------------------------

def tries_of(ctx, name):
    try:
        with open(os.path.join(ctx.state, name)) as f:
            return int(f.read())
    except FileNotFoundError:
        return 0


def tap_results(path):
    with open(path) as f:
        return [l for l in f.read().splitlines() if re.match(r'(not )?ok ', l)]


def case_retries_flaky(ctx, isolation):
    tap = ctx.path('r.tap')
    cases, out, err = junit_run(ctx, 'ci', '--mproc-isolation=' + isolation, '--mproc-retries=1',
                                '--tap=' + tap, expect_rc=1)
    # Each try ran, on whichever worker: counted in the state files.
    check(tries_of(ctx, 'fails_first_try') == 2, 'fails_first_try ran %d times' % tries_of(ctx, 'fails_first_try'))
    check(tries_of(ctx, 'crashes_first_try') == 2, 'crashes_first_try ran %d times' % tries_of(ctx, 'crashes_first_try'))
    check(tries_of(ctx, 'always_fails') == 2, 'always_fails ran %d times, not 2' % tries_of(ctx, 'always_fails'))
    # The console: each failed try's block, marked, then FLAKY.
    check(re.search(r'\[TRY \] ci::fails_first_try: try 1 of 2 failed.*\n(\[----\].*\n)*'
                    r'\[FAIL\] ci::fails_first_try', err), 'no marked failed try:\n' + err)
    check('[FLKY] ci::fails_first_try: FLAKY, passed on try 2 of 2' in err, 'no FLAKY line:\n' + err)
    check('[FLKY] ci::crashes_first_try: FLAKY, passed on try 2 of 2' in err, 'no FLAKY crash:\n' + err)
    check('[TRY ] ci::always_fails: try 1 of 2 failed' in err, 'always_fails not retried:\n' + err)
    check('[TRY ] ci::skipped' not in err and '[TRY ] ci::passes' not in err, 'a passing test was retried')
    check(re.search(r'Synthesis: Tested: 7 \| Passing: 5 \| Failing: 2 \| Crashing: 0', err),
          'flaky tests do not count as passing:\n' + err)
    # One result per test in every report, the final try's.
    results = tap_results(tap)
    check(len(results) == 8, 'TAP has %d results, not 8' % len(results))
    check(any(re.match(r'ok - ci::fails_first_try', r) for r in results), 'flaky test not ok in TAP')
    tc = expect_kind(cases, 'ci', 'fails_first_try', 'pass')
    fl = tc.findall('flakyFailure')
    check(len(fl) == 1 and 'try 1' in fl[0].get('message') and
          fl[0].findtext('system-out') == 'fails_first_try: try 1\n', 'flakyFailure wrong')
    check(tc.findtext('system-out') == 'fails_first_try: try 2\n', 'the final try\'s output is not the case\'s')
    tc = expect_kind(cases, 'ci', 'crashes_first_try', 'pass')
    check(len(tc.findall('flakyError')) == 1, 'no flakyError for a crashed try')
    tc = expect_kind(cases, 'ci', 'always_fails', 'failure')
    check(len(tc.findall('rerunFailure')) == 1, 'no rerunFailure for a failed try')
    expect_kind(cases, 'ci', 'params[1]', 'failure')


def case_retries_exit_status(ctx, isolation):
    flt = '--filter=ci/*_first_try'
    rc, _, err = ctx.run('ci', '--mproc=2', '--mproc-durations=none', '--mproc-isolation=' + isolation,
                         '--mproc-retries=1', flt)
    check(rc == 0, 'flaky tests alone: exit status %d, not 0\n%s' % (rc, err))
    check('2 flaky tests (passed on a later try)' in err, 'no flaky count:\n' + err)
    check(re.search(r'criterion-mproc:   FLAKY   ci::fails_first_try  passed on try 2 of 2', err),
          'the flaky test is not listed with its try:\n' + err)
    for f in os.listdir(ctx.state):
        os.unlink(os.path.join(ctx.state, f))
    rc, _, err = ctx.run('ci', '--mproc=2', '--mproc-durations=none', '--mproc-isolation=' + isolation,
                         '--mproc-retries=1', '--mproc-flaky-fails', flt)
    check(rc == 1, '--mproc-flaky-fails: exit status %d, not 1\n%s' % (rc, err))
    check('the run fails (--mproc-flaky-fails)' in err, 'no word on --mproc-flaky-fails:\n' + err)


def case_retries_env(ctx, isolation):
    rc, _, err = ctx.run('ci', '--mproc=2', '--mproc-durations=none', '--mproc-isolation=' + isolation,
                         '--filter=ci/fails_first_try', env={'CRITERION_MPROC_RETRIES': '1'})
    check(rc == 0 and tries_of(ctx, 'fails_first_try') == 2,
          'CRITERION_MPROC_RETRIES=1: exit %d, %d tries\n%s' % (rc, tries_of(ctx, 'fails_first_try'), err))
    rc, _, err = ctx.run('ci', '--mproc=2', env={'CRITERION_MPROC_RETRIES': 'many'})
    check(rc == 2 and 'CRITERION_MPROC_RETRIES=many' in err, 'a bad value: exit %d\n%s' % (rc, err))
    rc, _, err = ctx.run('ci', '--mproc=2', '--mproc-retries=-1')
    check(rc == 2 and '--mproc-retries=-1' in err, 'a bad option: exit %d\n%s' % (rc, err))


def case_retries_annotation(ctx, isolation):
    rc, _, err = ctx.run('ci_annotated', '--mproc=2', '--mproc-durations=none',
                         '--mproc-isolation=' + isolation)
    check(rc == 1, 'exit status %d\n%s' % (rc, err))
    check(tries_of(ctx, 'fails_first_try') == 2, '.retries = 1 did not run it again:\n' + err)
    check(tries_of(ctx, 'always_fails') == 1, 'a test without .retries was run again')
    check('[FLKY] ci::fails_first_try' in err, 'no FLAKY line:\n' + err)


def case_retries_reports_as_serial(ctx, isolation):
    """Every failing test of the failing sample fails again: its reports are the serial run's,
    as test/compare.py compares them (one result per test, the final try's)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
    import compare
    files = {r: 'report.' + r for r in ('tap', 'xml', 'json')}
    for d in ('serial', 'mproc'):
        os.makedirs(ctx.path(d))
    rc_s, _, _ = ctx.run('failing', '-j1', *['--%s=serial/%s' % (k, f) for k, f in files.items()],
                         plugin=False)
    rc_p, _, err = ctx.run('failing', '--mproc=2', '--mproc-durations=none', '--mproc-retries=1',
                           '--mproc-isolation=' + isolation,
                           *['--%s=mproc/%s' % (k, f) for k, f in files.items()])
    check(rc_s == rc_p == 1, 'exit status %d serially, %d with retries' % (rc_s, rc_p))
    check('[TRY ] failing::average_rounds_to_nearest: try 1 of 2' in err, 'no retry happened:\n' + err)
    problems = compare.compare_reports(ctx.path('serial'), ctx.path('mproc'), files)
    # Content only: compare.py's lower bound on times (the e2e suite's) is no business of
    # retries, and two runs on a loaded machine break it either way.
    problems = [p for p in ('\n'.join(l for l in p.splitlines() if 'XML time of' not in l)
                            for p in problems) if '\n' in p]
    check(not problems, '\n'.join(problems))


# ---- rerun failed -----------------------------------------------------------------

def synthesis(err):
    m = re.search(r'Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+)', err)
    check(m, 'no Synthesis:\n' + err)
    return tuple(int(x) for x in m.groups())


def case_rerun_failed(ctx, isolation):
    args = ('--mproc=2', '--mproc-isolation=' + isolation, '--mproc-rerun-failed')
    rc, _, err = ctx.run('ci', *args)
    check(rc == 1, 'first run: exit status %d' % rc)
    check('--mproc-rerun-failed: no failed test recorded in .criterion-mproc/ci_sample.durations: '
          'running them all' in err, 'no line saying all run:\n' + err)
    check(synthesis(err) == (7, 3, 4), 'first run: %s' % (synthesis(err),))
    # Failed last time: fails_first_try, crashes_first_try (a crash), always_fails, params[1].
    rc, _, err = ctx.run('ci', *args)
    check('running the 4 tests that failed last time' in err, 'second run:\n' + err)
    check(synthesis(err) == (4, 2, 2), 'second run: %s' % (synthesis(err),))
    check(tries_of(ctx, 'fails_first_try') == 2 and tries_of(ctx, 'always_fails') == 2,
          'the failed tests did not run again')
    rc, _, err = ctx.run('ci', *args)
    check(rc == 1 and 'running the 2 tests that failed last time' in err, 'third run:\n' + err)
    check(synthesis(err) == (2, 0, 2), 'third run: %s' % (synthesis(err),))
    check(tries_of(ctx, 'fails_first_try') == 2, 'a test that passed last time ran again')
    # Durations off: nothing recorded, everything runs, said in one line.
    rc, _, err = ctx.run('ci', *args, '--mproc-durations=none')
    check('no failed test recorded (durations are off): running them all' in err, err)
    check(synthesis(err)[0] == 7, 'durations off: %s' % (synthesis(err),))


# ---- GitHub annotations --------------------------------------------------------------

def annotations(err):
    return [l for l in err.splitlines() if l.startswith('::error ')]


def case_annotations(ctx, isolation):
    gh = {'GITHUB_ACTIONS': 'true'}
    base = ('--mproc=2', '--mproc-durations=none', '--mproc-isolation=' + isolation)
    rc, out, err = ctx.run('failing', *base, '--tap=-', env=gh)
    check(rc == 1, 'exit status %d' % rc)
    ann = annotations(err)
    for want in (
            r'::error file=\S*test_failing\.c,line=193,title=failing%3A%3Aaverage_table\[1\]::'
            r'average of 2 values starting with 1',
            r'::error file=\S*test_failing\.c,line=79,title=failing%3A%3Amulti_line_message::'
            r'average of \{10, 11\} is wrong%0A  expected: 11',
            r'title=failing%3A%3Achecksum_of_null_buffer_crashes::crashed: signal 11',
            r'title=failing%3A%3Awaits_forever_and_times_out::timed out after 0\.5 s'):
        check(any(re.search(want, a) for a in ann), 'no annotation %s in:\n%s' % (want, '\n'.join(ann)))
    check(len([a for a in ann if 'several_expectations_in_order' in a]) == 3,
          'not one annotation per failed assertion')
    check(not any('::error' in l for l in out.splitlines()), 'an annotation went to stdout (TAP)')
    rc, _, err = ctx.run('failing', *base, '--mproc-annotations=off', env=gh)
    check(not annotations(err), '--mproc-annotations=off printed annotations')
    rc, _, err = ctx.run('failing', *base)
    check(not annotations(err), 'annotations without GITHUB_ACTIONS=true')
    # Only a test's final try: a flaky one is no error.
    rc, _, err = ctx.run('ci', *base, '--mproc-retries=1', '--filter=ci/*_first_try', env=gh)
    check(rc == 0 and not annotations(err), 'a flaky test was annotated:\n' + err)


CASES = {
    'annotations': case_annotations,
    'rerun-failed': case_rerun_failed,
    'retries-flaky': case_retries_flaky,
    'retries-exit-status': case_retries_exit_status,
    'retries-env': case_retries_env,
    'retries-annotation': case_retries_annotation,
    'retries-reports-as-serial': case_retries_reports_as_serial,
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
