#!/usr/bin/env bash
# make test-localstack: the store's conformance suite against the AWS-protocol
# endpoint AWS_ENDPOINT_URL (default http://localhost:4566): LocalStack, or a
# moto server. When nothing answers there and the endpoint is on this machine,
# it starts moto's server itself on that port and stops it afterwards, so the
# command works from a fresh clone (after `make tools`, which the Makefile
# runs first).
set -euo pipefail
cd "$(dirname "$0")/.."

endpoint=${AWS_ENDPOINT_URL:-http://localhost:4566}
export AWS_ENDPOINT_URL=$endpoint

answers() { curl -s -o /dev/null --max-time 2 "$endpoint"; }

moto_pid=
cleanup() { if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

if ! answers; then
	hostport=${endpoint#*://}
	hostport=${hostport%%/*}
	host=${hostport%:*}
	port=${hostport##*:}
	case "$host" in
	localhost | 127.0.0.1) ;;
	*)
		echo "test-localstack: nothing answers at $endpoint, and it is not on this machine: start LocalStack or moto there first" >&2
		exit 1
		;;
	esac
	moto=$(command -v moto_server || true)
	[ -n "$moto" ] || [ ! -x .local/py/bin/moto_server ] || moto=.local/py/bin/moto_server
	if [ -z "$moto" ]; then
		echo "test-localstack: nothing answers at $endpoint and moto_server is missing (make tools installs it where a Python package index is reachable)" >&2
		exit 1
	fi
	mkdir -p .local
	echo "test-localstack: nothing answers at $endpoint; starting moto's server there (log: .local/moto-test-localstack.log)"
	"$moto" -H 127.0.0.1 -p "$port" >.local/moto-test-localstack.log 2>&1 &
	moto_pid=$!
	for _ in $(seq 1 100); do
		answers && break
		kill -0 "$moto_pid" 2>/dev/null || { echo "test-localstack: moto_server exited; see .local/moto-test-localstack.log" >&2; exit 1; }
		sleep 0.2
	done
	answers || { echo "test-localstack: moto_server did not answer at $endpoint within 20 s" >&2; exit 1; }
fi

# One package at a time: storetest sends one request at a time to an
# endpoint like moto's (moto does not make concurrent conditional writes
# atomic), which holds within a process.
go test -p 1 -count=1 ./shared/store/...
