#!/bin/sh
# Runs the benchmarks (media fan-out etc.) inside a loopback-only namespace.
set -eu
cd "$(dirname "$0")/.."
if [ "${PARLEY_TEST_NETNS:-}" != "1" ]; then
	go test -count=1 -run '^$' ./... >/dev/null
	exec unshare -n -- env PARLEY_TEST_NETNS=1 "$0" "$@"
fi
ip link set lo up
export GOPROXY=off
go test -run '^$' -bench . -benchmem -count=1 ./... "$@"
