#!/bin/sh
# Starts a local three-node Parley cluster for trying it out: Redis,
# PostgreSQL and an S3 server (the same throwaway servers the tests use),
# shared non-development keys made into a temporary directory, three
# `parley serve` nodes in cluster mode, and a round-robin load balancer
# (scripts/lb) in front of them. Prints the URL and the first admin's
# password; Ctrl-C stops everything and removes every file it made.
#
# Usage: scripts/cluster.sh [--check]
#   PORT=8080     the load balancer's port (the URL to open)
#   --check       start, log in through the balancer on every node, stop
#                 (exit 0 when the cluster worked)
# Not part of `make test`; the cluster tests (clustertest/) cover the same.
set -eu
cd "$(dirname "$0")/.."

check=""
if [ "${1:-}" = "--check" ]; then check=1; fi
port=${PORT:-8080}
nodes=3

T=$(mktemp -d)
chmod 755 "$T"
pids=""
redis_pid=""
cleanup() {
	trap - EXIT INT TERM
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; fi
	if [ -d "$T/pg" ]; then scripts/test-postgres.sh stop "$T/pg"; fi
	s3_stop 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for() { # wait_for WHAT COMMAND...: up to 60 s
	what=$1
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 600 ]; then echo "cluster.sh: $what did not come up" >&2; return 1; fi
		sleep 0.1
	done
}

echo "building parley and the load balancer..."
go build -o "$T/parley" .
go build -o "$T/lb" ./scripts/lb

# Redis, as scripts/test.sh starts it.
redis_port=$(free_port)
mkdir "$T/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$T/redis" --daemonize no >"$T/redis/log" 2>&1 &
redis_pid=$!
wait_for Redis redis-cli -p "$redis_port" ping

# PostgreSQL (scripts/test-postgres.sh), one database for all nodes.
mkdir "$T/pg"
pg_url=$(scripts/test-postgres.sh start "$T/pg")

# S3 (scripts/test-s3.sh; builds its server once if needed) and a bucket.
. scripts/test-s3.sh
s3_build
s3_start
[ -n "${PARLEY_TEST_S3_ENDPOINT:-}" ] || { echo "cluster.sh: no S3 server" >&2; exit 1; }
empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
curl -sf -X PUT -H "x-amz-content-sha256: $empty_sha256" --user "$PARLEY_TEST_S3_ACCESS_KEY:$PARLEY_TEST_S3_SECRET_KEY" --aws-sigv4 "aws:amz:us-east-1:s3" \
	"http://$PARLEY_TEST_S3_ENDPOINT/parley" >/dev/null || { echo "cluster.sh: could not create the bucket" >&2; exit 1; }

# What every node shares: keys (given by path, so cluster mode accepts
# them; made with `parley keys`, so still not for production), the storage
# key, the TURN secret and the cluster secret.
"$T/parley" keys --out "$T/keys" >/dev/null
storage_key=$("$T/parley" storage genkey --id k1 2>/dev/null)
turn_secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
cluster_secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')

export PARLEY_CLUSTER_ENABLED=true \
	PARLEY_SESSION_STORE=redis PARLEY_SESSION_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
	PARLEY_RECORDS_DRIVER=postgres PARLEY_RECORDS_URL="$pg_url" \
	PARLEY_STORAGE_BACKEND=s3 PARLEY_STORAGE_S3_ENDPOINT="$PARLEY_TEST_S3_ENDPOINT" PARLEY_STORAGE_S3_BUCKET=parley \
	PARLEY_STORAGE_S3_REGION=us-east-1 PARLEY_STORAGE_S3_ACCESS_KEY_ID="$PARLEY_TEST_S3_ACCESS_KEY" \
	PARLEY_STORAGE_S3_SECRET_ACCESS_KEY="$PARLEY_TEST_S3_SECRET_KEY" PARLEY_STORAGE_S3_USE_TLS=false PARLEY_STORAGE_S3_PATH_STYLE=true \
	PARLEY_STORAGE_KEY="$storage_key" PARLEY_TURN_SECRET="$turn_secret" PARLEY_CLUSTER_SECRET="$cluster_secret" \
	PARLEY_SIGNATURE_SEAL_CERT="$T/keys/seal-cert.pem" PARLEY_SIGNATURE_SEAL_KEY="$T/keys/seal-key.pem" \
	PARLEY_SIGNATURE_ESCROW_PUBLIC_KEY="$T/keys/escrow-public.pem" PARLEY_SIGNATURE_TRUST_ANCHORS="$T/keys/dev-ca.pem" \
	PARLEY_HTTP_PUBLIC_URL="http://localhost:$port" PARLEY_HTTP_TRUSTED_PROXIES=127.0.0.1
unset PARLEY_TEST_S3_ENDPOINT PARLEY_TEST_S3_ACCESS_KEY PARLEY_TEST_S3_SECRET_KEY

backends=""
for i in $(seq 1 $nodes); do
	hp=$(free_port)
	mkdir "$T/node-$i"
	PARLEY_CLUSTER_NODE_ID="node-$i" PARLEY_CLUSTER_INTERNAL_URL="http://127.0.0.1:$hp" PARLEY_HTTP_ADDR="127.0.0.1:$hp" \
		PARLEY_DATA_DIR="$T/node-$i" PARLEY_ADMIN_ADDR="127.0.0.1:$((9090 + i))" \
		PARLEY_RTC_UDP_PORT=$((50000 + i)) PARLEY_RTC_TCP_PORT=$((50000 + i)) \
		"$T/parley" serve >"$T/node-$i.log" 2>&1 &
	pids="$pids $!"
	backends="$backends -backend node-$i=http://127.0.0.1:$hp"
	eval "node_$i=http://127.0.0.1:$hp"
done
for i in $(seq 1 $nodes); do
	eval "url=\$node_$i"
	wait_for "node-$i (log: $T/node-$i.log)" curl -sf "$url/readyz" || { tail -n 30 "$T/node-$i.log" >&2; exit 1; }
done
# shellcheck disable=SC2086 # one word per flag
"$T/lb" -listen "127.0.0.1:$port" $backends >"$T/lb.log" 2>&1 &
pids="$pids $!"
wait_for "the load balancer (log: $T/lb.log)" curl -sf "http://127.0.0.1:$port/readyz"

pwfile=$(ls "$T"/node-*/initial-admin-password)
password=$(cat "$pwfile")

if [ -n "$check" ]; then
	jar="$T/cookies"
	curl -sf -c "$jar" -H 'Content-Type: application/json' -H 'X-Parley-Test-Node: node-1' \
		-d "{\"username\":\"admin\",\"password\":\"$password\"}" "http://127.0.0.1:$port/api/v1/login" >/dev/null
	for i in $(seq 1 $nodes); do
		curl -sf -b "$jar" -H "X-Parley-Test-Node: node-$i" "http://127.0.0.1:$port/api/v1/me" | grep -q '"admin"' ||
			{ echo "cluster.sh: the login made on node-1 does not work on node-$i" >&2; exit 1; }
	done
	echo "cluster.sh --check: $nodes nodes behind the balancer; one admin; a login on node-1 works on all nodes"
	exit 0
fi

cat <<EOF

Parley cluster: $nodes nodes behind a load balancer.

  Open         http://localhost:$port/login
  Log in as    admin / $password
  Nodes        $(for i in $(seq 1 $nodes); do eval "printf '%s ' \$node_$i"; done)
  Metrics      http://127.0.0.1:9091/metrics (node-1), 9092, 9093
  Logs         $T/node-*.log, $T/lb.log

Everything runs from $T and is removed on Ctrl-C.
EOF
while :; do
	sleep 3600 &
	pids="$pids $!"
	wait $! || true
done
