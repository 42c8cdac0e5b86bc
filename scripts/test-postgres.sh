#!/bin/sh
# Starts and stops a throwaway PostgreSQL server for the tests: Debian's
# server binaries, a fresh data directory, loopback only, its own socket
# directory, no fsync. Called by scripts/test.sh.
#   scripts/test-postgres.sh start DIR   prints the server's URL
#   scripts/test-postgres.sh stop DIR
# DIR must be an empty directory that this script may own. As root the
# server runs as the "postgres" user (initdb refuses root).
set -eu
cmd=${1:?usage: test-postgres.sh start|stop DIR}
dir=${2:?usage: test-postgres.sh start|stop DIR}

bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do bindir=$d; done
if [ -z "$bindir" ] && command -v initdb >/dev/null 2>&1; then bindir=$(dirname "$(command -v initdb)"); fi
[ -n "$bindir" ] || { echo "test-postgres.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}

case $cmd in
start)
	[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
	as_owner "'$bindir/initdb' -D '$dir/data' -A trust -U parley --no-sync >'$dir/initdb.log' 2>&1" ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	as_owner "'$bindir/pg_ctl' -D '$dir/data' -l '$dir/log' -w -t 60 \
		-o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300\" \
		start >/dev/null 2>&1" || { cat "$dir/log" >&2; exit 1; }
	echo "postgres://parley@127.0.0.1:$port/postgres?sslmode=disable"
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "'$bindir/pg_ctl' -D '$dir/data' -m immediate -w stop >/dev/null 2>&1" || true
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: test-postgres.sh start|stop DIR" >&2; exit 2
	;;
esac
