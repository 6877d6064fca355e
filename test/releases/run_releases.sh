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
# A release the plugin cannot be built against (2.3.3: its structures are
# not 2.4's) is checked the other way: a sample built with it, run with the
# plugin preloaded and --mproc, must be refused with exit 2 (meson test
# 'refused-release', in the default build dir configured with
# -Drefused_criterion=PREFIX).
#
# CRITERION_VERSIONS_DIR overrides where build-criterion.sh is found.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 VERSION BUILDDIR" >&2; exit 2; }
version=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "$2")
prefix=$build-criterion
tools=${CRITERION_VERSIONS_DIR:-$root/../shared/criterion-versions}
[ -x "$tools/build-criterion.sh" ] || tools=/work/shared/criterion-versions

if ! find "$prefix" -name 'libcriterion.so' -print -quit 2>/dev/null | grep -q .; then
    rm -rf "$prefix" "$prefix.work"
    JOBS=${JOBS:-2} "$tools/build-criterion.sh" "$version" "$prefix" "$tools/src" "$prefix.work"
    rm -rf "$prefix.work"
fi
pc=$(dirname "$(find "$prefix" -name criterion.pc -print -quit)")
lib=$(dirname "$(find "$prefix" -name libcriterion.so -print -quit)")

export PKG_CONFIG_PATH=$pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
rm -rf "$build"
meson setup "$build" "$root" -Db_asneeded=true
ninja -C "$build"
meson test -C "$build" --suite release --print-errorlogs
