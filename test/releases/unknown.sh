#!/bin/sh
# unknown.sh PLUGIN EXE: EXE run against a copy of the libcriterion it loads
# whose release string says "v9.9.9", a release the plugin does not know:
# refused.sh's checks must hold (exit 2, one line, nothing run; inert
# without --mproc).
set -eu
plugin=$1 exe=$2
lib=$(ldd "$exe" | awk '/libcriterion\.so/ { print $3; exit }')
[ -f "$lib" ] || { echo "FAILED: $exe loads no libcriterion"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Same length, so nothing else in the file moves.
perl -0777 -pe 's/(Criterion v)\d\.\d\.\d/${1}9.9.9/g' "$lib" > "$dir/$(basename "$lib")"
grep -q "Tests compiled with Criterion v9.9.9" "$dir/$(basename "$lib")" \
    || { echo "FAILED: no release string to fake in $lib"; exit 1; }
out=$("$(dirname "$0")/refused.sh" "$plugin" "$exe" "$dir")
printf '%s\n' "$out"
case $out in same) ;; *) exit 1 ;; esac
# The line names what was found.
msg=$(LD_LIBRARY_PATH=$dir LD_PRELOAD=$plugin "$exe" --mproc=2 2>&1 || true)
case $msg in
*"release 9.9.9"*) ;;
*) echo "FAILED: the refusal does not name release 9.9.9: $msg"; exit 1 ;;
esac
