#!/usr/bin/env bash
# hydra.sh: this project's provider and ORY Hydra under the same load, on
# this machine, one after the other, with local/loadgen in external mode
# (-token-url) against both: refresh (RFC 6749 §6) and introspect (RFC 7662).
#
#   local/compare/hydra.sh                      # -c 4 -n 2000 -duration 15s
#   C=8 N=5000 DURATION=30s local/compare/hydra.sh
#   HYDRA_STRATEGIES=jwt HYDRA_PBKDF2_ITERATIONS=1 local/compare/hydra.sh
#   HYDRA_DBS="memory sqlite postgres" local/compare/hydra.sh
#
# Environment (all optional):
#   C, N, DURATION            loadgen's -c, -n and -duration (4, 2000, 15s)
#   HYDRA_STRATEGIES          Hydra runs, one per access token strategy, in
#                             order: "jwt opaque" (default), "jwt", "opaque"
#   HYDRA_PBKDF2_ITERATIONS   Hydra's client secret hashing (PBKDF2-SHA256,
#                             its default algorithm): 25000 (Hydra's default)
#   HYDRA_JWT_RSA_BITS        with it (e.g. 2048, this provider's size), the
#                             JWT access token signing key is replaced by an
#                             RS256 key of that size; by default Hydra keeps
#                             the RS256 key of 4096 bits it generates
#   HYDRA_DBS                 Hydra's databases, one run per database and
#                             strategy, default "memory sqlite": "memory"
#                             (DSN=memory: SQLite in memory, shared cache,
#                             whose table locks fail some concurrent
#                             refreshes with a 500), "sqlite" (a file in
#                             the run directory, WAL, busy timeout 10s),
#                             "postgres" (a throw-away PostgreSQL cluster of
#                             the installed server, on 127.0.0.1, started as
#                             user postgres when run as root; fsync on,
#                             synchronous_commit=$HYDRA_PG_SYNC, default off)
#   SKIP_APPLINKS=1           run Hydra only
#
# What it does: builds Hydra v2.3.0 into .local/bin/hydra-v2.3.0 if missing
# (from the module proxy's source, built as the main module because its
# go.mod has replace directives that `go install mod@version` refuses; the
# nested module internal/httpclient, which the module zip leaves out, comes
# from github.com/ory/hydra-client-go/v2 v2.2.1; CGO and the sqlite build
# tag, which DSN=memory needs). Then, one server at a time so that they do
# not share the two CPUs: it builds and starts this provider (./local, the
# embedded emulator, data in a fresh directory) on a free loopback port with
# a fixed admin token, gets C refresh tokens with `go run ./local/compare
# applinks`, runs loadgen, stops the provider; then for each database and
# strategy it starts `hydra serve all --dev` on two free loopback ports
# (public and admin), gets C refresh tokens with `go run ./local/compare
# hydra`, runs loadgen (introspection on Hydra's admin port), stops Hydra.
# Every listener is on 127.0.0.1; everything started is stopped on exit
# (trap); logs, reports and data stay under .local/compare/run.* (Postgres's
# cluster in a /tmp directory, removed when it stops). Failed operations are
# reported, not fatal: the remaining runs go on.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
C=${C:-4}
N=${N:-2000}
DURATION=${DURATION:-15s}
HYDRA_STRATEGIES=${HYDRA_STRATEGIES:-jwt opaque}
HYDRA_PBKDF2_ITERATIONS=${HYDRA_PBKDF2_ITERATIONS:-25000}
HYDRA_DBS=${HYDRA_DBS:-memory sqlite}
HYDRA_PG_SYNC=${HYDRA_PG_SYNC:-off}
HYDRA_JWT_RSA_BITS=${HYDRA_JWT_RSA_BITS:-0}
SKIP_APPLINKS=${SKIP_APPLINKS:-}
HYDRA_VERSION=v2.3.0
HYDRA_CLIENT_VERSION=v2.2.1
HYDRA=$ROOT/.local/bin/hydra-$HYDRA_VERSION

for cmd in go curl gcc; do
	command -v "$cmd" >/dev/null || { echo "hydra.sh: $cmd is missing" >&2; exit 1; }
done
mkdir -p "$ROOT/.local/compare" "$ROOT/.local/bin"
WORK=$(mktemp -d "$ROOT/.local/compare/run.XXXXXX")

PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
	stop_postgres
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '\n== %s\n' "$*"; }

# stop PID: ends one server this script started and forgets it.
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() pid
	for pid in "${PIDS[@]}"; do
		[[ $pid == "$1" ]] || keep+=("$pid")
	done
	PIDS=("${keep[@]}")
}

# free_port: a loopback TCP port nobody listens on, below the ephemeral
# range (so that no outgoing connection, such as the embedded emulator's,
# takes it before the server binds it).
free_port() {
	local p tries low=32768
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	((low > 12000)) || low=32768
	for ((tries = 0; tries < 200; tries++)); do
		p=$((10000 + RANDOM % (low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "hydra.sh: no free port" >&2
	return 1
}

# wait_for URL PID NAME: until URL answers 2xx, or PID exits, or 60s pass.
wait_for() {
	local i
	for ((i = 0; i < 600; i++)); do
		curl -sf -o /dev/null --max-time 2 "$1" && return 0
		kill -0 "$2" 2>/dev/null || { echo "hydra.sh: $3 exited; its log:" >&2; tail -20 "$WORK/$3.log" >&2; return 1; }
		sleep 0.1
	done
	echo "hydra.sh: $3 did not answer $1 within 60s" >&2
	return 1
}

# listeners PID: the TCP addresses PID listens on (ss, when present).
listeners() {
	command -v ss >/dev/null || return 0
	ss -ltnpH 2>/dev/null | awk -v pid="pid=$1," 'index($0, pid) { print "   listening on " $4 }'
}

# loadgen NAME TOKEN_URL INTROSPECT_URL DIR: the same load for every server.
loadgen() {
	log "$1: loadgen -c $C -n $N -duration $DURATION (load before: $(uptime | sed 's/.*load average: //'))"
	local rc=0
	LOADGEN_CLIENT_SECRET=$(cat "$4/client_secret") go run ./local/loadgen \
		-token-url "$2" -introspect-url "$3" -client-id "$(cat "$4/client_id")" \
		-refresh-tokens "$4/refresh_tokens" -c "$C" -n "$N" -duration "$DURATION" \
		2>&1 | tee "$WORK/$1.report" || rc=$?
	# Failed operations are part of the result: the next runs go on.
	[[ $rc == 0 ]] || echo "($1: loadgen exited with status $rc: some operations failed)"
	echo "load after: $(uptime | sed 's/.*load average: //')"
}

install_hydra() {
	[[ -x $HYDRA ]] && return 0
	log "building Hydra $HYDRA_VERSION into $HYDRA (minutes, a few GB of memory)"
	local src=$ROOT/.local/src/hydra-$HYDRA_VERSION dir cdir
	# Outside the main module, so that its go.mod and go.sum are untouched.
	dir=$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "github.com/ory/hydra/v2@$HYDRA_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	cdir=$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "github.com/ory/hydra-client-go/v2@$HYDRA_CLIENT_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -d $dir && -d $cdir ]] || { echo "hydra.sh: go mod download of Hydra failed" >&2; return 1; }
	rm -rf "$src"
	mkdir -p "$(dirname "$src")"
	cp -r "$dir" "$src"
	chmod -R u+w "$src"
	rm -rf "$src/internal/httpclient"
	cp -r "$cdir" "$src/internal/httpclient"
	chmod -R u+w "$src/internal/httpclient"
	(cd "$src" && CGO_ENABLED=1 go build -tags sqlite,sqlite_omit_load_extension \
		-ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$HYDRA_VERSION" -o "$HYDRA.tmp" .)
	mv "$HYDRA.tmp" "$HYDRA"
}

run_applinks() {
	local port token pid dir=$WORK/applinks
	mkdir -p "$dir" "$WORK/kumo"
	go build -o "$WORK/applinks-local" ./local
	port=$(free_port)
	token=compare-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
	log "this provider: ./local at http://127.0.0.1:$port (embedded emulator, KUMO_DATA_DIR=$WORK/kumo)"
	env -u AWS_ENDPOINT_URL -u TABLE_NAME -u ISSUER_URL \
		KUMO_DATA_DIR="$WORK/kumo" LISTEN_ADDR="127.0.0.1:$port" ADMIN_TOKEN="$token" \
		"$WORK/applinks-local" >"$WORK/applinks.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_for "http://127.0.0.1:$port/.well-known/oauth-authorization-server" "$pid" applinks
	listeners "$pid"
	ADMIN_TOKEN=$token go run ./local/compare applinks -issuer "http://127.0.0.1:$port" -n "$C" -dir "$dir"
	loadgen applinks "http://127.0.0.1:$port/oauth2/token" "http://127.0.0.1:$port/oauth2/introspect" "$dir"
	stop "$pid"
}

# start_postgres: a throw-away cluster on 127.0.0.1; sets PG_DSN.
PG_DIR=
PG_BIN=
PG_AS=()
start_postgres() {
	local port as=()
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[[ -x $PG_BIN/initdb ]] || PG_BIN=$(dirname "$(command -v initdb || echo /nonexistent/initdb)")
	[[ -x $PG_BIN/initdb ]] || { echo "hydra.sh: HYDRA_DBS=postgres needs PostgreSQL's initdb and pg_ctl" >&2; return 1; }
	PG_DIR=$(mktemp -d /tmp/compare-pg.XXXXXX)
	if [[ $(id -u) == 0 ]]; then
		chown postgres: "$PG_DIR"
		as=(runuser -u postgres --)
	fi
	port=$(free_port)
	"${as[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U hydra -A trust >"$WORK/postgres-initdb.log" 2>&1
	"${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -s start \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c synchronous_commit=$HYDRA_PG_SYNC -c max_connections=200"
	"${as[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U hydra hydra
	PG_DSN="postgres://hydra@127.0.0.1:$port/hydra?sslmode=disable"
	PG_AS=("${as[@]}")
}

stop_postgres() {
	[[ -n $PG_DIR ]] || return 0
	"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -s -m fast stop || true
	cp "$PG_DIR/postgres.log" "$WORK/postgres.log" 2>/dev/null || true
	rm -rf "$PG_DIR"
	PG_DIR=
}

# run_hydra DB STRATEGY
run_hydra() {
	local db=$1 strategy=$2 pub adm pid dsn name=hydra-$1-$2 dir=$WORK/hydra-$1-$2
	mkdir -p "$dir"
	case $db in
	memory) dsn=memory ;;
	sqlite) dsn="sqlite://$dir/hydra.sqlite?_fk=true&_journal_mode=WAL&_busy_timeout=10000" ;;
	postgres)
		start_postgres
		dsn=$PG_DSN
		;;
	*) echo "hydra.sh: HYDRA_DBS: unknown database $db (memory, sqlite or postgres)" >&2; return 1 ;;
	esac
	if [[ $dsn != memory ]]; then
		DSN=$dsn "$HYDRA" migrate sql up -e --yes >"$WORK/$name-migrate.log" 2>&1
	fi
	pub=$(free_port)
	adm=$(free_port)
	[[ $pub != "$adm" ]] || adm=$(free_port)
	log "Hydra $HYDRA_VERSION: public http://127.0.0.1:$pub, admin http://127.0.0.1:$adm, DSN=${dsn%%\?*}, access tokens $strategy$([[ $strategy == jwt ]] && echo " (RS256, $([[ $HYDRA_JWT_RSA_BITS == 0 ]] && echo "Hydra's 4096-bit key" || echo "$HYDRA_JWT_RSA_BITS-bit key"))"), client secrets PBKDF2-SHA256 x$HYDRA_PBKDF2_ITERATIONS"
	env DSN="$dsn" \
		SERVE_PUBLIC_HOST=127.0.0.1 SERVE_PUBLIC_PORT="$pub" \
		SERVE_ADMIN_HOST=127.0.0.1 SERVE_ADMIN_PORT="$adm" \
		URLS_SELF_ISSUER="http://127.0.0.1:$pub" \
		URLS_LOGIN="http://127.0.0.1:$pub/compare/login" URLS_CONSENT="http://127.0.0.1:$pub/compare/consent" \
		SECRETS_SYSTEM="$(head -c 32 /dev/urandom | base64)" \
		STRATEGIES_ACCESS_TOKEN="$strategy" \
		OAUTH2_HASHERS_ALGORITHM=pbkdf2 OAUTH2_HASHERS_PBKDF2_ITERATIONS="$HYDRA_PBKDF2_ITERATIONS" \
		LOG_LEVEL=warn SQA_OPT_OUT=true \
		"$HYDRA" serve all --dev >"$WORK/$name.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_for "http://127.0.0.1:$adm/health/ready" "$pid" "$name"
	listeners "$pid"
	go run ./local/compare hydra -public "http://127.0.0.1:$pub" -admin "http://127.0.0.1:$adm" -n "$C" -dir "$dir" \
		-jwt-rsa-bits "$([[ $strategy == jwt ]] && echo "$HYDRA_JWT_RSA_BITS" || echo 0)"
	loadgen "$name" "http://127.0.0.1:$pub/oauth2/token" "http://127.0.0.1:$adm/admin/oauth2/introspect" "$dir"
	stop "$pid"
	stop_postgres
}

install_hydra
log "machine: $(nproc) CPUs, $(uname -sr), $(go version | cut -d' ' -f3-), $("$HYDRA" version 2>/dev/null | grep -m1 -i version | tr -s ' ')"
[[ -n $SKIP_APPLINKS ]] || run_applinks
for db in $HYDRA_DBS; do
	for s in $HYDRA_STRATEGIES; do
		run_hydra "$db" "$s"
	done
done

log "summary (reports in $WORK/*.report)"
for f in "$WORK"/*.report; do
	echo "-- $(basename "$f" .report)"
	grep -E '^[[:space:]]*(op|refresh|introspect)[[:space:]]|first error' "$f" || cat "$f"
done
