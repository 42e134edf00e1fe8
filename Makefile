# Development tasks. `make test` is what CI runs (see .ci/run).

GO              ?= go
BIN             := $(CURDIR)/bin
STATICCHECK     := $(BIN)/staticcheck
STATICCHECK_VER := v0.8.2
GOTESTSUM       := $(BIN)/gotestsum
GOTESTSUM_VER   := v1.13.0
# An execution count, not a duration: with a duration, Go 1.26's fuzz coordinator can fail a
# target with a spurious "context deadline exceeded" when the time runs out (golang/go#75804,
# fixed in Go 1.27). 100000 executions take about 2-25 s per target here.
FUZZTIME        ?= 100000x
BENCHARGS       ?=
# Runs a command with DYNAMODBQUEUE_ENDPOINT set, starting (and afterwards
# stopping) a private dynalite unless the variable is already set.
WITH_DYNALITE   := bash scripts/with-dynalite.sh
# Runs a command once per local DynamoDB (dynalite, DynamoDB Local) in a private network
# namespace; DYNAMODBQUEUE_SERVERS=dynalite (or dynamodb-local) picks one.
WITH_SERVERS    := bash scripts/with-servers.sh

.PHONY: all tools servers dynalite dynalite-stop test gotest fuzz demo bench gobench lint vet fmt

all: test

tools: $(STATICCHECK) $(GOTESTSUM)

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VER)

$(GOTESTSUM):
	GOBIN=$(BIN) $(GO) install gotest.tools/gotestsum@$(GOTESTSUM_VER)

# Installs both local DynamoDB servers, and the JavaScript SQS clients the SQS endpoint is tested
# with, into .local/ (npm; idempotent). The tests run offline in
# a private network namespace, so everything they need is fetched here first.
servers:
	bash scripts/dynalite.sh install
	bash scripts/ddblocal.sh install
	bash scripts/sqs-js.sh

# A long-running local DynamoDB for development; prints its endpoint.
dynalite:
	bash scripts/dynalite.sh start

dynalite-stop:
	bash scripts/dynalite.sh stop

# vet, staticcheck, the launcher's tests, go test -race on every server, the fuzz targets; ends
# on one line "summary: N passed, N failed, N skipped" (scripts/test.sh).
test: tools servers
	$(GO) mod download
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/test.sh

# Only go test -race on both servers (or DYNAMODBQUEUE_SERVERS=dynalite), with the summary.
gotest: tools servers
	GO=$(GO) bash scripts/test.sh servers

# Runs every fuzz target for FUZZTIME (executions, or a duration) each.
fuzz: tools
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/test.sh fuzz

demo:
	$(WITH_DYNALITE) $(GO) run ./cmd/ddbq demo

bench:
	$(WITH_DYNALITE) $(GO) run ./cmd/ddbq bench $(BENCHARGS)

gobench:
	$(WITH_DYNALITE) $(GO) test -run '^$$' -bench . -benchmem ./...

lint: tools
	$(STATICCHECK) ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
