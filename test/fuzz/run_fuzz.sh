#!/bin/sh
# Runs one libFuzzer target over a scratch copy of its seed corpus, so that
# the checked-in seeds are never modified; fails on any crash, leak, timeout
# or sanitizer report.  New inputs are discarded with the copy; a crashing
# input is kept as ARTIFACTS/<target>-crash-<sha1>.
#
#   run_fuzz.sh FUZZER CORPUS_DIR ARTIFACTS_DIR [libFuzzer options...]
#
# CRMPI_FUZZ_SECONDS overrides the run time (default 60).
set -eu

if [ $# -lt 3 ]; then
    echo "usage: $0 FUZZER CORPUS_DIR ARTIFACTS_DIR [libFuzzer options...]" >&2
    exit 2
fi
fuzzer=$1
corpus=$2
artifacts=$3
shift 3

scratch=$(mktemp -d "${TMPDIR:-/tmp}/crmpi-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 1' INT TERM
cp -R "$corpus/." "$scratch/"
mkdir -p "$artifacts"

# libFuzzer exits with 77 on a finding by default, which meson reads as a
# skip: every finding must fail the test instead.
"$fuzzer" \
    -max_total_time="${CRMPI_FUZZ_SECONDS:-60}" \
    -timeout=10 \
    -error_exitcode=1 \
    -timeout_exitcode=1 \
    -print_final_stats=1 \
    -artifact_prefix="$artifacts/$(basename "$fuzzer")-" \
    "$@" \
    "$scratch"
