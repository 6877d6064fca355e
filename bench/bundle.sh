#!/usr/bin/env bash
# bench/bundle.sh [-B BUILDDIR] OUTDIR
#
# Copies what `bench/run.sh --no-build` needs into OUTDIR, laid out like a
# build directory, for a machine that has neither Criterion nor nng
# installed: the benchmark binaries, the plugin, and every shared library
# they load except glibc's (libnng too, which the plugin dlopen()s and ldd
# does not list).  On that machine:
#
#   LD_LIBRARY_PATH=$PWD/OUTDIR/lib bench/run.sh --no-build -B OUTDIR -n 16
set -euo pipefail

builddir=build
if [[ ${1-} == -B ]]; then
    builddir=${2:?-B needs a value}
    shift 2
fi
out=${1:?usage: bench/bundle.sh [-B BUILDDIR] OUTDIR}

cd "$(dirname "$0")/.."
bench/run.sh -B "$builddir" --build-only
bins=("$builddir/bench/bench_empty" "$builddir/bench/bench_small" "$builddir/bench/bench_skewed"
      "$builddir/bench/fork_floor")
for f in "$builddir/plugin/libcriterion-mproc.so" "${bins[@]}" "$builddir/bench/bench_skewed.c"; do
    [[ -e $f ]] || { echo "bench/bundle.sh: missing $f" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out/plugin" "$out/bench" "$out/lib"
cp -L "$builddir/plugin/libcriterion-mproc.so" "$out/plugin/"
cp "${bins[@]}" "$builddir/bench/bench_skewed.c" "$out/bench/"

nng=$(ldconfig -p | awk '$1 == "libnng.so.1" { print $NF; exit }')
[[ -n $nng ]] || { echo "bench/bundle.sh: libnng.so.1 not found" >&2; exit 1; }

# glibc's own libraries stay: the target machine has a compatible glibc.
ldd "${bins[@]}" "$out/plugin/libcriterion-mproc.so" "$nng" |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
    grep -Ev '/(libc|libm|libdl|libpthread|librt|libresolv|ld-linux[^/]*)\.so' |
    sort -u |
    while read -r lib; do cp -L "$lib" "$out/lib/"; done
cp -L "$nng" "$out/lib/"

du -sh "$out" | awk '{ print "bench/bundle.sh: " $2 ": " $1 }'
