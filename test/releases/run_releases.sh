#!/usr/bin/env bash
# run_releases.sh VERSION BUILDDIR: the plugin against another Criterion
# release, as a user of that release builds it.
#
# Builds Criterion VERSION with ../shared/criterion-versions/build-criterion.sh
# into BUILDDIR-criterion (kept: skipped when already there), configures this
# project in BUILDDIR against it (PKG_CONFIG_PATH), and runs the 'release'
# suite there: compare.py in exec and fork isolation with reports on every
# sample and the semantics suites, each against that release's own -j1, and
# the shadowed-plugin check.  Leaves BUILDDIR/meson-logs/testlog.json, as
# .ci/run's run_build wants.
#
# REFUSED (optional): a release of another structure layout (2.3.3 for a
# 2.4.x VERSION, or the reverse): it is built too (cached the same way) and a
# sample built with it, run with this plugin and --mproc, must be refused
# with exit 2 (test 'release-refused').  An unknown release is always checked
# (test 'release-unknown-refused').
#
# CRITERION_VERSIONS_DIR overrides where build-criterion.sh is found.
set -euo pipefail

[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $0 VERSION BUILDDIR [REFUSED]" >&2; exit 2; }
version=$1
refused=${3:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "$2")
prefix=$build-criterion
tools=${CRITERION_VERSIONS_DIR:-$root/../shared/criterion-versions}
[ -x "$tools/build-criterion.sh" ] || tools=/work/shared/criterion-versions

# build_criterion VERSION PREFIX: once; a complete earlier build is kept.
build_criterion() {
    if ! find "$2" -name 'libcriterion.so' -print -quit 2>/dev/null | grep -q .; then
        rm -rf "$2" "$2.work"
        JOBS=${JOBS:-2} "$tools/build-criterion.sh" "$1" "$2" "$tools/src" "$2.work"
        rm -rf "$2.work"
    fi
}
build_criterion "$version" "$prefix"
setup_args=()
if [ -n "$refused" ]; then
    build_criterion "$refused" "$build-refused-criterion"
    setup_args+=(-Drefused_criterion="$build-refused-criterion")
fi
pc=$(dirname "$(find "$prefix" -name criterion.pc -print -quit)")
lib=$(dirname "$(find "$prefix" -name libcriterion.so -print -quit)")

export PKG_CONFIG_PATH=$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
rm -rf "$build"
meson setup "$build" "$root" "${setup_args[@]}"
# meson test builds only what the selected tests need (CI's time is short).
meson test -C "$build" --suite release --print-errorlogs
