# Development tasks. `make test` is what CI runs (see .ci/run).

GO              ?= go
BIN             := $(CURDIR)/bin
STATICCHECK     := $(BIN)/staticcheck
STATICCHECK_VER := v0.8.2
# An execution count, not a duration: with a duration, Go 1.26's fuzz coordinator can fail a
# target with a spurious "context deadline exceeded" when the time runs out (golang/go#75804,
# fixed in Go 1.27). 100000 executions take about 2-25 s per target here.
FUZZTIME        ?= 100000x
BENCHARGS       ?=
# Runs a command with DYNAMODBQUEUE_ENDPOINT set, starting (and afterwards
# stopping) a private dynalite unless the variable is already set.
WITH_DYNALITE   := bash scripts/with-dynalite.sh

.PHONY: all tools dynalite dynalite-stop test gotest fuzz demo bench gobench lint vet fmt

all: test

tools: $(STATICCHECK)

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VER)

# A long-running local DynamoDB for development; prints its endpoint.
dynalite:
	bash scripts/dynalite.sh start

dynalite-stop:
	bash scripts/dynalite.sh stop

test: vet lint
	$(WITH_DYNALITE) $(MAKE) --no-print-directory gotest fuzz

gotest:
	$(GO) test -race -count=1 -timeout 12m ./...

# Runs every fuzz target found in *_test.go files for FUZZTIME (executions, or a duration) each
# (go test -fuzz takes one target in one package at a time).
fuzz:
	@set -e; \
	for f in $$(grep -rl --include='*_test.go' --exclude-dir=.local --exclude-dir=node_modules \
			--exclude-dir=testdata --exclude-dir=.git '^func Fuzz' . | sort); do \
		pkg=$$(dirname $$f); \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

demo:
	$(WITH_DYNALITE) $(GO) run ./cmd/ddbq demo

bench:
	$(WITH_DYNALITE) $(GO) run ./cmd/ddbq bench $(BENCHARGS)

gobench:
	$(WITH_DYNALITE) $(GO) test -run '^$$' -bench . -benchmem ./...

lint: $(STATICCHECK)
	$(STATICCHECK) ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
