#!/bin/sh
# Installs what the test suite needs, only when it is missing (a warm machine
# skips every step): Debian packages for Redis, PostgreSQL, Chromium, the PDF verifiers,
# coturn's TURN test clients and network namespaces, the TypeScript
# checker and axe-core (accessibility checks in e2e/) from npm. Non-interactive; safe to run repeatedly.
set -eu
cd "$(dirname "$0")/.."

missing=""
want() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
want redis-server redis-server
want redis-cli redis-tools
want chromium chromium
want pdfsig poppler-utils
want qpdf qpdf
want turnutils_uclient coturn
want certutil libnss3-tools
want ip iproute2
want unshare util-linux
# PostgreSQL's server binaries live in /usr/lib/postgresql/VERSION/bin.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want initdb postgresql
want curl curl

if [ -n "$missing" ]; then
	echo "installing Debian packages:$missing"
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo -n"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq $missing </dev/null
fi

if [ ! -x node_modules/.bin/tsc ] || [ ! -f node_modules/axe-core/axe.min.js ]; then
	echo "installing the npm test tools: TypeScript checker, axe-core (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error </dev/null
fi

# A real S3 server (versitygw), built once from the module proxy and cached
# outside the repository (scripts/test-s3.sh).
PARLEY_S3_BUILD=1 sh scripts/test-s3.sh

# A real SMTP server (Mailpit), built once from the module proxy and cached
# outside the repository (scripts/test-mailpit.sh).
PARLEY_MAILPIT_BUILD=1 sh scripts/test-mailpit.sh
