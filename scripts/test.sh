#!/bin/sh
# Runs the whole test suite inside a network namespace that has only
# loopback (WebRTC and browser tests must never probe a real network), with a
# throwaway Redis and PostgreSQL (scripts/test-postgres.sh) on free loopback
# ports; the e-mail tests start Mailpit (scripts/test-mailpit.sh) themselves. Called by `make test`.
# Usage: scripts/test.sh [go test args...]   (default: ./...)
set -eu
cd "$(dirname "$0")/.."

if [ "${PARLEY_TEST_NETNS:-}" != "1" ]; then
	# Outside the namespace: fetch and compile everything first, the
	# namespace has no network.
	go mod download
	go build ./...
	go test -count=1 -run '^$' ./... >/dev/null
	exec unshare -n -- env PARLEY_TEST_NETNS=1 "$0" "$@"
fi

ip link set lo up
export GOFLAGS="${GOFLAGS:--mod=readonly}" GOPROXY=off

redis_pid=""
cleanup() {
	if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
	if [ -n "${redis_dir:-}" ]; then rm -rf "$redis_dir"; fi
	if [ -n "${pg_dir:-}" ]; then scripts/test-postgres.sh stop "$pg_dir"; fi
	s3_stop 2>/dev/null || true
}
trap cleanup EXIT INT TERM
if command -v redis-server >/dev/null 2>&1; then
	redis_dir=$(mktemp -d)
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 6390)
	redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" --daemonize no >"$redis_dir/log" 2>&1 &
	redis_pid=$!
	i=0
	until redis-cli -p "$port" ping >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -gt 50 ] && { echo "redis did not start" >&2; cat "$redis_dir/log" >&2; exit 1; }
		sleep 0.1
	done
	export PARLEY_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
fi

pg_dir=$(mktemp -d)
PARLEY_TEST_POSTGRES_URL=$(scripts/test-postgres.sh start "$pg_dir"); export PARLEY_TEST_POSTGRES_URL
. scripts/test-s3.sh && s3_start # a throwaway S3 server: PARLEY_TEST_S3_*
. scripts/test-mailpit.sh && mailpit_export # the SMTP server the e-mail tests start: PARLEY_TEST_MAILPIT

if [ $# -eq 0 ]; then set -- ./...; fi
go test -count=1 -timeout 25m "$@"
