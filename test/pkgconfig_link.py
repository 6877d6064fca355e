#!/usr/bin/env python3
"""pkgconfig_link.py PCDIR LIBDIR CC: links a small program with the link
line of the generated criterion-mproc.pc between two mentions of libm,
under --as-needed and under --no-as-needed.  The plugin must always be
DT_NEEDED (nothing references it), and libm after it must get the linker's
state from before it: dropped under --as-needed, kept under --no-as-needed."""
import os
import subprocess
import sys
import tempfile


def needed(path):
    out = subprocess.run(['readelf', '-d', path], stdout=subprocess.PIPE, check=True).stdout.decode()
    return [l.split('[')[1].rstrip(']') for l in out.splitlines() if '(NEEDED)' in l]


def main():
    pcdir, libdir, cc = sys.argv[1:4]
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
    libs = subprocess.run(['pkg-config', '--define-variable=libdir=' + libdir, '--libs-only-L',
                           '--libs-only-other', '--libs-only-l', 'criterion-mproc'],
                          env=env, stdout=subprocess.PIPE, check=True).stdout.decode().split()
    libs = [a for a in libs if a != '-lcriterion']
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'p.c')
        with open(src, 'w') as f:
            f.write('int main(void) { return 0; }\n')
        for state, want_m in (('--as-needed', False), ('--no-as-needed', True)):
            exe = os.path.join(tmp, 'p' + state)
            cmd = [cc, src, '-o', exe, '-Wl,' + state] + libs + ['-lm']
            subprocess.run(cmd, check=True)
            got = needed(exe)
            if not any(n.startswith('libcriterion-mproc') for n in got):
                failures.append('%s: the plugin was dropped: %s' % (' '.join(cmd), got))
            if any(n.startswith('libm.') for n in got) != want_m:
                failures.append('%s: libm after the plugin %s: %s'
                                % (' '.join(cmd), 'dropped' if want_m else 'kept', got))
    for f in failures:
        print('FAILED:', f)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
