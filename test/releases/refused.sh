#!/bin/sh
# refused.sh PLUGIN EXE [LIBDIR]: EXE uses a Criterion release the plugin
# does not support; with --mproc (or CRITERION_MPROC) it must exit 2 with one
# line naming what was found and what is supported, having run no test.
# LIBDIR: where that libcriterion is (LD_LIBRARY_PATH); without it, EXE finds
# its release through its runpath, which LD_LIBRARY_PATH would override.
plugin=$1 exe=$2
if [ -n "${3:-}" ]; then
    export LD_LIBRARY_PATH="$3"
else
    unset LD_LIBRARY_PATH
fi
for how in arg env; do
    if [ $how = arg ]; then
        out=$(LD_PRELOAD=$plugin "$exe" --mproc=2 2>&1); rc=$?
    else
        out=$(CRITERION_MPROC=2 LD_PRELOAD=$plugin "$exe" 2>&1); rc=$?
    fi
    case $out in
    *"unsupported libcriterion (release "*"supported releases: "*) ;;
    *) echo "FAILED ($how): no refusal line: $out"; exit 1 ;;
    esac
    [ $rc -eq 2 ] || { echo "FAILED ($how): exit $rc, not 2: $out"; exit 1; }
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || { echo "FAILED ($how): more than one line: $out"; exit 1; }
done
# Without --mproc the plugin stays out of the way.
out=$(LD_PRELOAD=$plugin "$exe" -j1 2>&1) || { echo "FAILED: plain run: $out"; exit 1; }
case $out in *Synthesis*) echo same ;; *) echo "FAILED: plain run: $out"; exit 1 ;; esac
