#!/usr/bin/env python3
"""Tests of compare.py's console comparison itself: a comparison that reports a difference
that is not there fails CI at random; one that misses a difference hides a defect."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

FINI_ASSERT = ['[----] semantics.c:140: Assertion Failed', '[----]   ',
               '[----]   assert in a fixture', '[----]   ']


class Run:
    def __init__(self, lines):
        self.stderr = '\n'.join(lines)
        self.stdout = ''


def problems(serial, plugin):
    return compare.compare_console(Run(serial), Run(plugin), False)


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
    print('%d failed' % len(failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
