#!/bin/sh
# scripts/idle-rss.sh [RUNS]: the resident memory of an idle node on
# embedded defaults (what `make run` starts: SQLite, no Redis) after one
# advisor has logged in. Builds the binary, then RUNS times (default 3):
# a fresh data directory, an advisor made with `parley user add`, `parley
# serve` on free loopback ports, one `POST /api/v1/login`, IDLE seconds
# (default 10) of nothing, then VmRSS from /proc/PID/status and the
# anonymous and file-backed parts from /proc/PID/smaps_rollup. Prints one
# line per run and the median. Nothing forces a collection from outside.
#
# Environment: IDLE (seconds to wait after the login), IDLE_RSS_BIN (use
# this binary instead of building one), KEEP=1 (keep the data directories),
# CLIENT=1 (also fetch what a browser loads: the login page, the console
# and every script and stylesheet of web/static/js and web/static/css).
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
idle=${IDLE:-10}
dir=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	[ "${KEEP:-}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT INT TERM

bin=${IDLE_RSS_BIN:-}
if [ -z "$bin" ]; then
	bin=$dir/parley
	go build -o "$bin" .
fi

# freeport: a TCP port nobody listens on now (and the same number for UDP).
freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

kib() { awk -v k="$1" '$1==k":"{print $2}' "$2"; }

results=$dir/results
: >"$results"
i=0
while [ "$i" -lt "$runs" ]; do
	i=$((i + 1))
	data=$dir/data$i
	mkdir -p "$data"
	printf 'idle-rss-password-1\n' | "$bin" user add advisor1 --role advisor --data-dir "$data" >/dev/null
	http=$(freeport)
	admin=$(freeport)
	udp=$(freeport)
	PARLEY_RTC_TCP_PORT=0 PARLEY_RTC_LISTEN_IP=127.0.0.1 "$bin" serve --data-dir "$data" \
		--http-addr "127.0.0.1:$http" --admin-addr "127.0.0.1:$admin" --rtc-udp-port "$udp" \
		>"$data/stdout" 2>"$data/stderr" &
	pid=$!
	n=0
	until curl -fs "http://127.0.0.1:$http/healthz" >/dev/null 2>&1; do
		n=$((n + 1))
		if [ "$n" -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "idle-rss: the node did not come up" >&2
			cat "$data/stderr" >&2
			exit 1
		fi
		sleep 0.1
	done
	jar=$data/cookies
	base=http://127.0.0.1:$http
	if [ "${CLIENT:-}" = 1 ]; then
		for p in /login /static/img/logo.svg; do curl -fs -o /dev/null "$base$p"; done
	fi
	code=$(curl -s -c "$jar" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "Origin: http://127.0.0.1:$http" \
		-d '{"username":"advisor1","password":"idle-rss-password-1"}' "http://127.0.0.1:$http/api/v1/login")
	if [ "$code" != 200 ]; then
		echo "idle-rss: login answered $code" >&2
		exit 1
	fi
	if [ "${CLIENT:-}" = 1 ]; then
		curl -fs -b "$jar" -o /dev/null "$base/app"
		for f in web/static/js/*.js web/static/css/*.css; do
			curl -fs -b "$jar" -o /dev/null "$base/static/${f#web/static/}"
		done
	fi
	sleep "$idle"
	rss=$(kib VmRSS "/proc/$pid/status")
	hwm=$(kib VmHWM "/proc/$pid/status")
	anon=$(kib Anonymous "/proc/$pid/smaps_rollup")
	file=$(kib Rss "/proc/$pid/smaps_rollup")
	file=$((file - anon))
	printf 'run %d: VmRSS %d KiB (%.1f MiB), anonymous %d KiB, file-backed %d KiB, peak (VmHWM) %d KiB\n' \
		"$i" "$rss" "$(echo "$rss / 1024" | bc -l)" "$anon" "$file" "$hwm"
	echo "$rss" >>"$results"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
done
median=$(sort -n "$results" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
printf 'median VmRSS after a login and %s s idle: %d KiB (%.1f MiB)\n' "$idle" "$median" "$(echo "$median / 1024" | bc -l)"
