# A real S3 server for the tests: SeaweedFS (`weed mini`), built once from
# the Go module proxy at a pinned version and cached outside the repository.
#
#   PARLEY_S3_BUILD=1 scripts/test-s3.sh   build the binary when missing
#                                          (scripts/test-deps.sh does this)
#   . scripts/test-s3.sh                   (from scripts/test.sh) start it on
#                                          a free loopback port and export
#                                          PARLEY_TEST_S3_*; s3_stop stops it
#
# The tests make their own buckets; without PARLEY_TEST_S3_ENDPOINT they skip.

seaweedfs_version=v0.0.0-20261109003541-7506e5f91cd6
weed_bin="${XDG_CACHE_HOME:-$HOME/.cache}/parley-test/weed-$seaweedfs_version"

s3_build() {
	[ -x "$weed_bin" ] && return 0
	echo "building the SeaweedFS S3 server for the tests (once; cached in $(dirname "$weed_bin"))"
	work=$(mktemp -d)
	src=$(cd "$work" && GOFLAGS= go mod download -json "github.com/seaweedfs/seaweedfs@$seaweedfs_version" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
	[ -n "$src" ] || { echo "could not download SeaweedFS $seaweedfs_version" >&2; rm -rf "$work"; return 1; }
	# Its go.mod has replace directives, so `go install pkg@version` refuses
	# it: build inside a writable copy of the module instead.
	cp -R "$src" "$work/src" && chmod -R u+w "$work/src"
	mkdir -p "$(dirname "$weed_bin")"
	(cd "$work/src" && GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$weed_bin.tmp" ./weed) &&
		mv "$weed_bin.tmp" "$weed_bin"
	rc=$?
	rm -rf "$work"
	return $rc
}

s3_pid=""
s3_dir=""
s3_stop() {
	if [ -n "$s3_pid" ]; then
		kill "$s3_pid" 2>/dev/null || true
		wait "$s3_pid" 2>/dev/null || true
	fi
	if [ -n "$s3_dir" ]; then rm -rf "$s3_dir"; fi
	s3_pid="" s3_dir=""
}

s3_start() {
	if [ ! -x "$weed_bin" ]; then
		if [ "${CI:-}" = "true" ]; then
			echo "no S3 server for the tests: scripts/test-deps.sh builds it" >&2
			return 1
		fi
		echo "S3 tests will skip: no SeaweedFS binary yet (scripts/test-deps.sh builds it)" >&2
		return 0
	fi
	s3_dir=$(mktemp -d)
	s3_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	s3_key="parleytest"
	s3_secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	# The other services of `weed mini` take their default ports (free in
	# the test's own network namespace) or the next free ones.
	AWS_ACCESS_KEY_ID=$s3_key AWS_SECRET_ACCESS_KEY=$s3_secret \
		"$weed_bin" mini -dir="$s3_dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
		-s3.port="$s3_port" -s3.port.iceberg=0 -s3.port.lance=0 \
		-webdav=false -admin.ui=false -master.telemetry=false \
		>"$s3_dir/log" 2>&1 &
	s3_pid=$!
	i=0
	# Ready when an unsigned request gets an S3 answer (403 AccessDenied).
	until curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s3_port/" 2>/dev/null | grep -q '^[2-4]'; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 "$s3_pid" 2>/dev/null; then
			echo "the S3 server (SeaweedFS) did not start" >&2
			tail -n 40 "$s3_dir/log" >&2
			return 1
		fi
		sleep 0.1
	done
	export PARLEY_TEST_S3_ENDPOINT="127.0.0.1:$s3_port" PARLEY_TEST_S3_ACCESS_KEY="$s3_key" PARLEY_TEST_S3_SECRET_KEY="$s3_secret"
}

if [ "${PARLEY_S3_BUILD:-}" = "1" ]; then
	set -eu
	s3_build
fi
