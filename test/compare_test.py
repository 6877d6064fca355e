#!/usr/bin/env python3
"""Tests of compare.py's console comparison itself: a comparison that reports a difference
that is not there fails CI at random; one that misses a difference hides a defect."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

FINI_ASSERT = ['[----] semantics.c:140: Assertion Failed', '[----]   ',
               '[----]   assert in a fixture', '[----]   ']


class Run:
    def __init__(self, lines):
        self.stderr = '\n'.join(lines)
        self.stdout = ''


def problems(serial, plugin, recap=False):
    return compare.compare_console(Run(serial), Run(plugin), False, recap)


# A run with a failure, a crash, a timeout and a setup crash, and the plugin's recap of it.
FAILING = ['[----] /src/t.c:12: Assertion Failed', '[----]   ', '[----]   x', '[----]   ',
           '[----] /src/t.c:14: Assertion Failed', '[----]   ', '[----]   y', '[----]   ',
           '[FAIL] s::fails: (0.01s)',
           '[----] /src/t.c:30: Unexpected signal caught below this line!',
           '[FAIL] s::crashes: CRASH!',
           '[FAIL] s::hangs: Timed out. (1.00s)',
           '[----] Warning! The test `s::setup` crashed during its setup or teardown.',
           '[PASS] s::passes: (0.00s)',
           '[====] Synthesis: Tested: 5 | Passing: 1 | Failing: 4 | Crashing: 2 ']
RECAP = ['criterion-mproc: 4 tests failed, crashed or timed out:',
         'criterion-mproc:   CRASH   s::crashes  SIGSEGV after /src/t.c:30',
         'criterion-mproc:   FAIL    s::fails  /src/t.c:12',
         'criterion-mproc:   TIMEOUT s::hangs  timed out',
         'criterion-mproc:   CRASH   s::setup  crashed in its setup or teardown']
EFFICIENCY = 'criterion-mproc: 12.5s on 4 workers, lower bound 10.0s: efficiency 80%'


# A test that writes to stderr, fails twice and crashes after glibc's last word, serially.
RAW_ORDER = ['raw: first', '[----] /src/t.c:5: Assertion Failed', '[----]   ', '[----]   one',
             '[----]   ', 'raw: second', '[----] /src/t.c:7: Assertion Failed', '[----]   ',
             '[----]   two', '[----]   ', 'munmap_chunk(): invalid pointer',
             '[----] /src/t.c:7: Unexpected signal caught below this line!',
             '[FAIL] s::crashes: CRASH!', 'raw: a passing test']


def order_cases(check):
    check('the same order is no difference', problems(RAW_ORDER, RAW_ORDER) == [])
    raw = [l for l in RAW_ORDER[:-1] if not l.startswith('[')]
    check("the test's output before its assertions is a difference",
          problems(RAW_ORDER, raw + [l for l in RAW_ORDER[:-1] if l not in raw] + RAW_ORDER[-1:])
          != [])
    moved = RAW_ORDER[:10] + RAW_ORDER[11:12] + RAW_ORDER[10:11] + RAW_ORDER[12:]
    check("glibc's line after the crash line is a difference",
          problems(RAW_ORDER, moved) != [])
    swapped = RAW_ORDER[:5] + RAW_ORDER[10:11] + RAW_ORDER[6:10] + RAW_ORDER[5:6] + RAW_ORDER[11:]
    check('two lines of output swapped between assertions are a difference',
          problems(RAW_ORDER, swapped) != [])
    other = RAW_ORDER[-1:] + RAW_ORDER[:-1]
    check("another test's output before a block is no difference",
          problems(RAW_ORDER, other) == [])


def recap_cases(check):
    plugin = FAILING[9:-1] + FAILING[:9] + FAILING[-1:]    # the tests ended in another order
    check('a recap of every failure after the Synthesis is no difference',
          problems(FAILING, plugin + RECAP, True) == [])
    check('the efficiency line may end the recap',
          problems(FAILING, FAILING + RECAP + [EFFICIENCY], True) == [])
    check('a passing run may print the efficiency line alone',
          problems(FAILING[-2:], FAILING[-2:] + [EFFICIENCY], True) == [])
    check('a missing recap is a difference', problems(FAILING, FAILING, True) != [])
    check('a recap missing one test is a difference',
          problems(FAILING, FAILING + [RECAP[0].replace('4', '3')] + RECAP[1:-1], True) != [])
    check('a recap naming the second assertion is a difference',
          problems(FAILING, FAILING + [r.replace('t.c:12', 't.c:13') for r in RECAP], True)
          != [])
    check('a recap naming the file by another path than the console is a difference',
          problems(FAILING, FAILING + [r.replace('/src/t.c:12', '../src/t.c:12') for r in RECAP],
                   True) != []
          and problems(FAILING, FAILING + [r.replace('/src/t.c:30', 't.c:30') for r in RECAP],
                       True) != [])
    check('a timeout reported as a crash is a difference',
          problems(FAILING, FAILING + [r.replace('TIMEOUT', 'CRASH  ') for r in RECAP], True)
          != [])
    check('a recap before the Synthesis is a difference',
          problems(FAILING, FAILING[:-1] + RECAP + [FAILING[-1]], True) != [])
    check('a header that miscounts is a difference',
          problems(FAILING, FAILING + [RECAP[0].replace('4', '5')] + RECAP[1:], True) != [])
    colour = [l.replace('[FAIL]', '[\x1b[0;31mFAIL\x1b[0m]').replace('[====]', '[\x1b[0;34m====\x1b[0m]')
              for l in FAILING]
    check('colours do not hide the failures or the Synthesis',
          problems(colour, colour + RECAP, True) == [])
    exited = [l.replace('crashed during', 'exited during') for l in FAILING]
    check('a setup that exited is a crash that exited',
          problems(exited, exited + [r.replace('crashed in', 'exited in') for r in RECAP], True)
          == [] and problems(exited, exited + RECAP, True) != [])
    check('a recap with --mproc-recap=off is a difference',
          problems(FAILING, FAILING + RECAP, False) != [])
    lines, entries, bad = compare.split_recap(FAILING + RECAP)
    check('the golden form leaves the recap out', lines == FAILING and len(entries) == 4
          and bad == [] and compare.check_recap(lines, entries, True) == [])


def reference_cases(check):
    """execute_reference: one serial run shared by tests that would run it identically, and a
    fresh run whenever anything it depends on differs."""
    root = tempfile.mkdtemp(prefix='crmp-cache-')
    saved = os.environ.get('CRMP_COMPARE_CACHE')
    os.environ['CRMP_COMPARE_CACHE'] = os.path.join(root, 'cache')
    exe = os.path.join(root, 'count.sh')
    count = os.path.join(root, 'count')
    try:
        def write_exe(body):
            with open(exe, 'w') as f:
                f.write('#!/bin/sh\necho run >> %s\n%s\n' % (count, body))
            os.chmod(exe, 0o755)

        def ref(args, env=None, n=[0]):
            n[0] += 1
            wd = os.path.join(root, 'r%d' % n[0])
            os.makedirs(os.path.join(wd, 't'))
            e = compare.base_env(os.path.join(wd, 't'), 'token-%d' % n[0])
            e.update(env or {})
            run = compare.Run('serial', [exe] + args, e, wd)
            return run, compare.execute_reference(run)

        def runs():
            with open(count) as f:
                return len(f.read().splitlines())

        write_exe('echo "out $*"; echo err >&2; echo file > report.tap; exit 1')
        a, pa = ref(['-j1'])
        b, pb = ref(['-j1'], {'MALLOC_PERTURB_': '7'})
        check('a second identical reference run is taken from the first',
              runs() == 1 and pa == pb == [])
        check('the reused run has the same status, output and files',
              (b.status, b.stdout, b.stderr) == (1, 'out -j1\n', 'err\n')
              and compare.read(os.path.join(b.cwd, 'report.tap')) == 'file\n')
        ref(['-j1', '--tap=x'])
        check('other arguments are another run', runs() == 2)
        ref(['-j1'], {'CRITERION_USE_ASCII': '1'})
        check('another environment is another run', runs() == 3)
        write_exe('echo "changed $*"')
        c, _ = ref(['-j1'])
        check('a rebuilt binary is another run', runs() == 4 and c.stdout == 'changed -j1\n')
        write_exe('kill -9 $$')
        ref(['-j2'])
        ref(['-j2'])
        check('a run killed by a signal is never reused', runs() == 6)
    finally:
        if saved is None:
            del os.environ['CRMP_COMPARE_CACHE']
        else:
            os.environ['CRMP_COMPARE_CACHE'] = saved
        shutil.rmtree(root, ignore_errors=True)


def main():
    failed = []

    def check(name, cond):
        print('%s %s' % ('ok' if cond else 'FAILED', name))
        if not cond:
            failed.append(name)

    serial = FINI_ASSERT + ['[----] other', '[FAIL] ends::times_out: Timed out.',
                            '[FAIL] b::c: (0.00s)']
    # semantics-exec-full-stats failed in CI: the .fini assertion of a passing test, printed
    # loose, was followed by another test's block in the plugin's run (tests end in any order).
    check('loose fini assertion before another test is no difference',
          problems(serial, ['[FAIL] b::c: (0.00s)', '[----] other'] + FINI_ASSERT
                   + ['[FAIL] ends::times_out: Timed out.']) == [])
    check('an assertion printed outside its test block is a difference',
          problems(['[FAIL] b::c: (0.00s)', '[----] other'] + FINI_ASSERT
                   + ['[FAIL] ends::times_out: Timed out.'], serial) != [])
    check('a missing loose line is still a difference',
          problems(serial, ['[FAIL] b::c: (0.00s)'] + FINI_ASSERT
                   + ['[FAIL] ends::times_out: Timed out.']) != [])
    check('an assertion twice is still a difference',
          problems(serial, ['[FAIL] b::c: (0.00s)', '[----] other'] + FINI_ASSERT + FINI_ASSERT
                   + ['[FAIL] ends::times_out: Timed out.']) != [])
    check('an assertion moved into a test that had none is still a difference',
          problems(['[FAIL] ends::times_out: Timed out.'] + FINI_ASSERT + ['[FAIL] b::c: (0.00s)'],
                   ['[FAIL] ends::times_out: Timed out.', '[FAIL] b::c: (0.00s)'] + FINI_ASSERT)
          != [])
    order_cases(check)
    pid = ["[ERR ] [PID %d]: Expected message to change to state 'end', got 'teardown' instead.",
           '[----] Warning! The test `f::assert_in_fini` crashed during its setup or teardown.']
    check("the test process's pid in 2.3.3's protocol error is no difference",
          problems([pid[0] % 5292, pid[1]], [pid[0] % 7828, pid[1]]) == [])
    check('another protocol error is still a difference',
          problems([pid[0] % 5292, pid[1]], [pid[0].replace('end', 'main') % 7828, pid[1]]) != [])
    recap_cases(check)
    reference_cases(check)
    print('%d failed' % len(failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
