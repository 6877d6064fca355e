#!/usr/bin/env python3
"""shadowed.py EXE: EXE has the plugin linked but not in charge (after
-lcriterion).  Asked for --mproc, on the command line or in CRITERION_MPROC,
it must exit 2 with one line that says so, having run no test; without either
it is a plain Criterion run."""
import os
import subprocess
import sys


def run(exe, args, env):
    p = subprocess.run([exe] + args, env=dict(os.environ, TERM='dumb', **env),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode('utf-8', 'replace') + p.stderr.decode('utf-8', 'replace')


def main():
    exe = sys.argv[1]
    failures = []
    for args, env in ((['--mproc=2'], {}), (['--mproc', '2'], {}), ([], {'CRITERION_MPROC': '2'})):
        rc, out = run(exe, args, env)
        if rc != 2 or 'criterion-mproc: error:' not in out or 'link' not in out or 'Synthesis' in out:
            failures.append('%s %s: exit %d, output:\n%s' % (args, env, rc, out))
    rc, out = run(exe, ['-j1'], {})
    if rc != 0 or 'Synthesis' not in out:
        failures.append('plain -j1: exit %d, output:\n%s' % (rc, out))
    for f in failures:
        print('FAILED:', f)
    print('same' if not failures else 'FAILED')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
