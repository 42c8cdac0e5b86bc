# A real SMTP server for the tests: Mailpit, built once from the Go module
# proxy at a pinned version and cached outside the repository. The tests
# (package mailtest) start their own instances from this binary on free
# loopback ports and read what arrived through its HTTP API.
#
#   PARLEY_MAILPIT_BUILD=1 sh scripts/test-mailpit.sh   build it when missing
#                                                      (scripts/test-deps.sh)
#   . scripts/test-mailpit.sh && mailpit_export         (scripts/test.sh)
#                                                      export PARLEY_TEST_MAILPIT
#
# Without PARLEY_TEST_MAILPIT the e-mail tests skip (in CI they fail).

mailpit_version=v1.33.1
mailpit_bin="${XDG_CACHE_HOME:-$HOME/.cache}/parley-test/mailpit-$mailpit_version"

mailpit_build() {
	[ -x "$mailpit_bin" ] && return 0
	echo "building the SMTP server for the tests (mailpit $mailpit_version, once; cached in $(dirname "$mailpit_bin"))"
	mkdir -p "$(dirname "$mailpit_bin")"
	work=$(mktemp -d)
	# Outside the repository, so its go.mod is not touched.
	(cd "$work" && GOFLAGS= GOBIN="$work" go install -trimpath -ldflags='-s -w' \
		"github.com/axllent/mailpit@$mailpit_version") &&
		mv "$work/mailpit" "$mailpit_bin"
	rc=$?
	rm -rf "$work"
	return $rc
}

mailpit_export() {
	if [ ! -x "$mailpit_bin" ]; then
		if [ "${CI:-}" = "true" ]; then
			echo "no SMTP server for the tests: scripts/test-deps.sh builds it" >&2
			return 1
		fi
		echo "e-mail tests will skip: no Mailpit binary yet (scripts/test-deps.sh builds it)" >&2
		return 0
	fi
	export PARLEY_TEST_MAILPIT="$mailpit_bin"
}

if [ "${PARLEY_MAILPIT_BUILD:-}" = "1" ]; then
	set -eu
	mailpit_build
fi
