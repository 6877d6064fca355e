#!/usr/bin/env bash
# bench/run.sh: wall time of Criterion with and without criterion-mproc.
#
# For each benchmark suite (bench/meson.build) it times, interleaved, RUNS
# times each, and prints the medians:
#
#   plain    Criterion alone:                     ./suite -jN
#   mproc    the plugin, N workers:               LD_PRELOAD=plugin ./suite --mproc=N
#   off      the plugin loaded but not asked for: LD_PRELOAD=plugin ./suite -jN
#   fork     the plugin's fork isolation, when it has it
#   floor    (empty suite) bench/fork_floor: N processes with Criterion's
#            libraries mapped fork and wait for one empty child per test, the
#            least any fork-per-test runner costs on this machine
#
# with the ratios mproc/plain (target <= 1.05) and off/plain (target <= 1.02),
# and, for the skewed suite, the ideal lower bound max(total/N, longest) read
# from the generated source, with mproc/bound.
#
# When the plugin records test durations (--mproc-durations), mproc runs with
# a private durations file seeded by one untimed run (the steady state of a
# project that runs its tests often), and a fourth measurement, cold, runs
# with --mproc-durations=none (a first run: no history).
#
# Usage: bench/run.sh [-n WORKERS] [-r RUNS] [-B BUILDDIR] [-s SUITES]
#                     [--no-build] [--build-only] [--strict]
#   -n WORKERS   workers for --mproc and jobs for -j (default 2)
#   -r RUNS      runs per measurement, the median is reported (default 3)
#   -B BUILDDIR  meson build directory (default build)
#   -s SUITES    comma-separated list among empty,skewed (default both)
#   --no-build   use the binaries already in BUILDDIR (e.g. on a machine
#                without meson: see bench/bundle.sh)
#   --build-only build the benchmarks and stop
#   --strict     exit 1 when a target ratio is missed
set -euo pipefail
export LC_ALL=C

workers=2
runs=3
builddir=build
suites=empty,skewed
build=1
build_only=0
strict=0

usage() {
    sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while (($#)); do
    case $1 in
        -n) workers=${2:?-n needs a value}; shift 2 ;;
        -r) runs=${2:?-r needs a value}; shift 2 ;;
        -B) builddir=${2:?-B needs a value}; shift 2 ;;
        -s) suites=${2:?-s needs a value}; shift 2 ;;
        --no-build) build=0; shift ;;
        --build-only) build_only=1; shift ;;
        --strict) strict=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "bench/run.sh: unknown argument: $1" >&2; usage 2 >&2 ;;
    esac
done

[[ $workers =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: -n: not a count: $workers" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: -r: not a count: $runs" >&2; exit 2; }

cd "$(dirname "$0")/.."
plugin=$builddir/plugin/libcriterion-mproc.so

# The environment must not change what is measured.
unset CRITERION_MPROC CRITERION_JOBS CRITERION_OUTPUTS CRITERION_ENABLE_TAP LD_PRELOAD

if ((build)); then
    [[ -f $builddir/build.ninja ]] || meson setup "$builddir" >/dev/null
    plugin_target=$(ninja -C "$builddir" -t targets all |
        awk -F: '/^plugin\/libcriterion-mproc\.so[.0-9]*:/ { print $1; exit }')
    if ! log=$(ninja -C "$builddir" ${plugin_target:+"$plugin_target"} bench/bench_empty bench/bench_small bench/bench_skewed bench/fork_floor 2>&1); then
        printf '%s\n' "$log" >&2
        echo "bench/run.sh: the build failed" >&2
        exit 1
    fi
fi
for f in "$plugin" "$builddir/bench/bench_empty" "$builddir/bench/bench_small" "$builddir/bench/bench_skewed" \
        "$builddir/bench/fork_floor"; do
    [[ -e $f ]] || { echo "bench/run.sh: missing $f (build it, or drop --no-build)" >&2; exit 1; }
done
((!build_only)) || exit 0

# Does this plugin keep a durations database?
history=0
if LD_PRELOAD=$plugin "$builddir/bench/bench_empty" --help 2>&1 | grep -q -- '--mproc-durations'; then
    history=1
    hist_dir=$(mktemp -d "${TMPDIR:-/tmp}/mproc-bench.XXXXXX")
    trap 'rm -rf "$hist_dir"' EXIT
fi

# run_variant VARIANT SUITE: one run, output discarded; returns its status.
run_variant() {
    local exe=$builddir/bench/bench_$2 hist=()
    ((history)) && hist=(--mproc-durations="$hist_dir/$2.durations")
    case $1 in
        plain) "$exe" -j"$workers" ;;
        mproc) LD_PRELOAD=$plugin "$exe" --mproc="$workers" "${hist[@]}" ;;
        cold)  LD_PRELOAD=$plugin "$exe" --mproc="$workers" --mproc-durations=none ;;
        fork)  LD_PRELOAD=$plugin "$exe" --mproc="$workers" --mproc-isolation=fork --mproc-durations=none ;;
        off)   LD_PRELOAD=$plugin "$exe" -j"$workers" ;;
        floor) "$builddir/bench/fork_floor" "$workers" "${tests[$2]}" ;;
    esac >/dev/null 2>&1
}

# median VALUES...
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# verdict RATIO TARGET
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "ok" : "MISSED" }'; }

IFS=, read -r -a suite_list <<<"$suites"
for s in "${suite_list[@]}"; do
    [[ $s == empty || $s == small || $s == skewed ]] || { echo "bench/run.sh: unknown suite: $s" >&2; exit 2; }
done
variants=(plain mproc off)
((history)) && variants=(plain mproc cold off)
fork=0
if LD_PRELOAD=$plugin "$builddir/bench/bench_empty" --help 2>&1 | grep -q -- '--mproc-isolation'; then
    fork=1
    variants+=(fork)
fi
progress=0
[[ -t 2 ]] && progress=1
declare -A times tests
failures=0

for s in "${suite_list[@]}"; do
    tests[$s]=$("$builddir/bench/bench_$s" --list 2>/dev/null | awk -F': ' '/: [0-9]+ tests$/ { n += $2 } END { print n + 0 }')
done

ncpu=$(nproc)
echo "criterion-mproc benchmark: $workers workers, median of $runs runs, $ncpu CPUs, $(uname -m)," \
    "$("$builddir/bench/bench_empty" --version 2>&1 | head -n1)"
((workers <= ncpu)) || echo "note: $workers workers on $ncpu CPUs: the machine is oversubscribed"

if ((history)); then
    for s in "${suite_list[@]}"; do
        ((progress)) && printf '\rseeding the durations of %-6s' "$s" >&2
        run_variant mproc "$s" || true
    done
fi

for ((r = 1; r <= runs; ++r)); do
    for s in "${suite_list[@]}"; do
        vs=("${variants[@]}")
        [[ $s == empty ]] && ((fork)) && vs+=(floor)
        for v in "${vs[@]}"; do
            ((progress)) && printf '\rrun %d/%d: %-6s %-5s' "$r" "$runs" "$s" "$v" >&2
            t0=$EPOCHREALTIME
            status=0
            run_variant "$v" "$s" || status=$?
            t1=$EPOCHREALTIME
            if ((status)); then
                ((progress)) && echo >&2
                echo "bench/run.sh: $s/$v exited with status $status" >&2
                failures=$((failures + 1))
            fi
            times[$s.$v]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') "
        done
    done
done
((progress)) && printf '\r%40s\r' '' >&2

runs_w=$((runs * 6 > 4 ? runs * 6 : 4))
fmt="%-7s %6s  %-42s %8s  %-${runs_w}s %6s  %s\n"
echo
# shellcheck disable=SC2059
printf "$fmt" suite tests measurement median runs ratio target
# shellcheck disable=SC2059
printf "$fmt" ------- ------ "$(printf '%042d' 0 | tr 0 -)" -------- "$(printf "%0${runs_w}d" 0 | tr 0 -)" ------ -----------
missed=0
for s in "${suite_list[@]}"; do
    declare -A med=()
    vs=("${variants[@]}")
    [[ $s == empty ]] && ((fork)) && vs+=(floor)
    for v in "${vs[@]}"; do
        # shellcheck disable=SC2086
        med[$v]=$(median ${times[$s.$v]})
    done
    r_mproc=$(ratio "${med[mproc]}" "${med[plain]}")
    r_off=$(ratio "${med[off]}" "${med[plain]}")
    v_mproc=$(verdict "$r_mproc" 1.05)
    v_off=$(verdict "$r_off" 1.02)
    [[ $v_mproc == ok && $v_off == ok ]] || missed=1
    mproc_label="criterion-mproc --mproc=$workers"
    if ((history)); then
        mproc_label+=", with history"
        r_cold=$(ratio "${med[cold]}" "${med[plain]}")
        v_cold=$(verdict "$r_cold" 1.05)
        [[ $v_cold == ok ]] || missed=1
    fi
    # shellcheck disable=SC2059
    {
        printf "$fmt" "$s" "${tests[$s]}" "criterion -j$workers (plugin not loaded)" \
            "$(printf '%.2f s' "${med[plain]}")" "${times[$s.plain]% }" "" ""
        printf "$fmt" "$s" "${tests[$s]}" "$mproc_label" \
            "$(printf '%.2f s' "${med[mproc]}")" "${times[$s.mproc]% }" "$r_mproc" "<=1.05 $v_mproc"
        if ((history)); then
            printf "$fmt" "$s" "${tests[$s]}" "criterion-mproc --mproc=$workers, no history" \
                "$(printf '%.2f s' "${med[cold]}")" "${times[$s.cold]% }" "$r_cold" "<=1.05 $v_cold"
        fi
        printf "$fmt" "$s" "${tests[$s]}" "plugin loaded but off, -j$workers" \
            "$(printf '%.2f s' "${med[off]}")" "${times[$s.off]% }" "$r_off" "<=1.02 $v_off"
        if ((fork)); then
            r_fork=$(ratio "${med[fork]}" "${med[plain]}")
            target=""
            [[ $s == empty ]] && target="<=0.10 $(verdict "$r_fork" 0.10)"
            printf "$fmt" "$s" "${tests[$s]}" "criterion-mproc --mproc=$workers, fork isolation" \
                "$(printf '%.2f s' "${med[fork]}")" "${times[$s.fork]% }" "$r_fork" "$target"
        fi
    }
    if [[ $s == empty ]]; then
        # A worker's time per test: wall time x workers / tests.
        per() { awk -v t="$1" -v n="$workers" -v k="${tests[$s]}" 'BEGIN { printf "%.0f us", t * n * 1e6 / k }'; }
        # shellcheck disable=SC2059
        printf "$fmt" "$s" "${tests[$s]}" "per-test cost: criterion -j$workers" "$(per "${med[plain]}")" "" "" ""
        if ((fork)); then
            # shellcheck disable=SC2059
            printf "$fmt" "$s" "${tests[$s]}" "per-test cost: fork isolation" "$(per "${med[fork]}")" "" "" ""
            # shellcheck disable=SC2059
            printf "$fmt" "$s" "${tests[$s]}" "fork()+exit floor, $workers processes" \
                "$(printf '%.2f s' "${med[floor]}")" "${times[$s.floor]% }" \
                "$(ratio "${med[floor]}" "${med[plain]}")" "floor/plain"
            # shellcheck disable=SC2059
            printf "$fmt" "" "" "" "" "" "$(ratio "${med[fork]}" "${med[floor]}")" "fork/floor"
        fi
    fi
    if [[ $s == skewed ]]; then
        # The tests' durations, from the generated source: bench_sleep_ms(MS).
        read -r total longest < <(grep -o 'bench_sleep_ms([0-9]*)' "$builddir/bench/bench_skewed.c" |
            tr -dc '0-9\n' | awk '{ t += $1; if ($1 > m) m = $1 } END { printf "%.2f %.2f\n", t / 1000, m / 1000 }')
        bound=$(awk -v t="$total" -v m="$longest" -v n="$workers" 'BEGIN { b = t / n; printf "%.2f", (b > m ? b : m) }')
        # shellcheck disable=SC2059
        printf "$fmt" "$s" "${tests[$s]}" "lower bound max($total/$workers, $longest)" \
            "$(printf '%.2f s' "$bound")" "" "$(ratio "${med[mproc]}" "$bound")" "mproc/bound"
        if ((history)); then
            # shellcheck disable=SC2059
            printf "$fmt" "" "" "" "" "" "$(ratio "${med[cold]}" "$bound")" "cold/bound"
        fi
    fi
done
echo
echo "ratio: the row's median over the 'criterion -j$workers' median of the same suite."
echo "lower bound: ideal, ignoring Criterion's own cost per test (about 8 ms each)."

if ((failures)); then
    echo "bench/run.sh: $failures run(s) exited non-zero: the times above include failed runs" >&2
    exit 1
fi
if ((strict && missed)); then
    exit 1
fi
exit 0
