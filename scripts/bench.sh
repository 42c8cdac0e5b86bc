#!/bin/sh
# make bench: Go benchmarks and the load generator (scripts/loadgen), each
# figure beside a floor measured in the same run, printed as one table and
# written to docs/BENCHMARKS.md. See docs/BENCHMARKS.md for what is
# measured and how.
#
# Everything is built first; the measurements run in a network namespace
# with nothing but loopback (WebRTC must not probe other interfaces), which
# has no network, so nothing is downloaded there.
#
# Environment: BENCH_COUNT (runs per Go benchmark, default 5),
# BENCH_TIME (-benchtime, default 300ms), LOADGEN_FLAGS (extra flags for
# `loadgen bench`, e.g. "-reps 3"), BENCH_PROFILES (a directory to keep
# the server's CPU and heap profiles, and goroutine dumps of set-ups that
# hung, in; default: a temporary one), BENCH_BASELINE (a git revision: its
# load generator is built once, cached under the user's cache directory,
# and its server measured against this tree's in the same run; default
# b045324, the tree before issue 19's changes; "none" skips the
# comparison).
set -eu
cd "$(dirname "$0")/.."

if [ "${PARLEY_BENCH_NETNS:-}" != "1" ]; then
	start=$(date +%s)
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT INT TERM
	echo "bench: building" >&2
	go build -o "$dir/loadgen" ./scripts/loadgen
	baseline=${BENCH_BASELINE:-b045324}
	PARLEY_BENCH_BASELINE=""
	export PARLEY_BENCH_BASELINE
	if [ "$baseline" != none ]; then
		rev=$(git rev-parse --verify --quiet "$baseline^{commit}") || {
			echo "bench: baseline revision $baseline not found (fetch it, or BENCH_BASELINE=none)" >&2
			exit 1
		}
		cache=${XDG_CACHE_HOME:-$HOME/.cache}/parley-bench
		bin=$cache/loadgen-$rev-$(go env GOVERSION)
		if [ ! -x "$bin" ]; then
			echo "bench: building the baseline load generator ($baseline)" >&2
			mkdir -p "$cache"
			src=$(mktemp -d)
			git archive "$rev" | tar -x -C "$src"
			(cd "$src" && go build -buildvcs=false -o "$bin.tmp" ./scripts/loadgen) || {
				rm -rf "$src"
				exit 1
			}
			rm -rf "$src"
			mv "$bin.tmp" "$bin"
		fi
		export PARLEY_BENCH_BASELINE="$bin"
		PARLEY_BENCH_BASELINE_NAME=$(git rev-parse --short "$rev")
		export PARLEY_BENCH_BASELINE_NAME
	fi
	for p in sfu signature contracts scripts/loadgen; do
		go test -c -o "$dir/$(echo "$p" | tr / _).test" "./$p"
	done
	status=0
	unshare -n -- env PARLEY_BENCH_NETNS=1 PARLEY_BENCH_DIR="$dir" "$0" "$@" || status=$?
	echo "bench: total $(($(date +%s) - start)) s" >&2
	exit "$status"
fi

ip link set lo up
export GOPROXY=off GOTOOLCHAIN=local
dir=$PARLEY_BENCH_DIR
count=${BENCH_COUNT:-5}
benchtime=${BENCH_TIME:-300ms}
out=$dir/gobench.txt
: >"$out"

# gobench PKG REGEXP [COUNT]: run a package's benchmarks in its directory.
gobench() {
	echo "bench: go benchmarks in $1 ($2)" >&2
	(cd "$1" && "$dir/$(echo "$1" | tr / _).test" -test.run '^$' -test.bench "$2" \
		-test.benchmem -test.count "${3:-$count}" -test.benchtime "$benchtime") >>"$out"
}
gobench sfu '^BenchmarkFanout$'
gobench signature '^Benchmark(Sign1Page|Sign20Pages|Verify1Page|Verify20Pages|EnvelopeSeal|EnvelopeOpen)$'
gobench scripts/loadgen '^BenchmarkFloor'
# The slowest file of the attack and hostile corpora against its 1 s target
# (one pass over ~150 files is an iteration: a few runs are enough).
gobench contracts '^BenchmarkVerifySlowestFile$' 3

profiles=${BENCH_PROFILES:-$dir}
mkdir -p "$profiles"
if [ -n "${PARLEY_BENCH_BASELINE:-}" ]; then
	set -- -baseline "$PARLEY_BENCH_BASELINE" -baseline-name "$PARLEY_BENCH_BASELINE_NAME" "$@"
fi
# shellcheck disable=SC2086 # LOADGEN_FLAGS is a list of flags
exec "$dir/loadgen" bench -gobench "$out" -out docs/BENCHMARKS.md -profile "$profiles/server" ${LOADGEN_FLAGS:-} "$@"
