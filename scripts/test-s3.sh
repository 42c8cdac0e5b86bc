# A real S3 server for the tests: the Versity S3 gateway (versitygw) with
# its posix backend, built once from the Go module proxy at a pinned
# version and cached outside the repository.
#
#   PARLEY_S3_BUILD=1 sh scripts/test-s3.sh   build the binary when missing
#                                             (scripts/test-deps.sh does this)
#   . scripts/test-s3.sh && s3_start          (scripts/test.sh) start it on a
#                                             free loopback port, export
#                                             PARLEY_TEST_S3_*; s3_stop stops it
#
# Without PARLEY_TEST_S3_ENDPOINT the S3 tests skip; they make their own
# buckets. SeaweedFS was measured too and dropped: its build needs about
# ten times the CPU time (it links every filer store and message queue).

versitygw_version=v1.8.0
vgw_bin="${XDG_CACHE_HOME:-$HOME/.cache}/parley-test/versitygw-$versitygw_version"

s3_build() {
	[ -x "$vgw_bin" ] && return 0
	echo "building the S3 server for the tests (versitygw $versitygw_version, once; cached in $(dirname "$vgw_bin"))"
	mkdir -p "$(dirname "$vgw_bin")"
	work=$(mktemp -d)
	# Outside the repository, so its go.mod is not touched.
	(cd "$work" && GOFLAGS= GOBIN="$work" go install -trimpath -ldflags='-s -w' \
		"github.com/versity/versitygw/cmd/versitygw@$versitygw_version") &&
		mv "$work/versitygw" "$vgw_bin"
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
	if [ ! -x "$vgw_bin" ]; then
		if [ "${CI:-}" = "true" ]; then
			echo "no S3 server for the tests: scripts/test-deps.sh builds it" >&2
			return 1
		fi
		echo "S3 tests will skip: no S3 server binary yet (scripts/test-deps.sh builds it)" >&2
		return 0
	fi
	s3_dir=$(mktemp -d)
	mkdir "$s3_dir/data" "$s3_dir/meta"
	s3_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	s3_key="parleytest"
	s3_secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	# --sidecar keeps object metadata in files, so no xattrs are needed.
	ROOT_ACCESS_KEY="$s3_key" ROOT_SECRET_KEY="$s3_secret" \
		"$vgw_bin" --port "127.0.0.1:$s3_port" --quiet \
		posix --sidecar "$s3_dir/meta" "$s3_dir/data" >"$s3_dir/log" 2>&1 &
	s3_pid=$!
	i=0
	# Ready when an unsigned request gets an S3 answer (403 AccessDenied).
	until curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s3_port/" 2>/dev/null | grep -q '^[2-4]'; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$s3_pid" 2>/dev/null; then
			echo "the S3 server (versitygw) did not start" >&2
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
