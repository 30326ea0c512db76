# hookq — see README.md. Every target works on a fresh machine after .ci/run's installs.
GO        ?= go
BIN       ?= bin/hookq
PKGS_RACE := ./storage/... ./raftfsm/... ./broker/... ./cluster/... ./api/...
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)

.PHONY: build install run test test-short race fuzz proto bench lint clean docker docker-test

# The release and commit stamped into the binary (hookq version, and the
# version each node reports in GET /v1/cluster).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/hookq

# Installs hookq into $(go env GOBIN), or $(go env GOPATH)/bin, which is
# then on PATH for "hookq …" (else use bin/hookq after make build).
install:
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/hookq

run: build
	./$(BIN) serve --dev

# The whole suite: unit + property + cluster + process tests, -race on the
# concurrent packages, then a short run of every fuzz target.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -race -timeout 20m $(PKGS_RACE)
	$(MAKE) fuzz FUZZTIME=$${FUZZTIME:-100000x}

test-short:
	$(GO) test -short -count=1 ./...

# A count, not a duration: Go 1.26's fuzz coordinator can report a bare
# "context deadline exceeded" at the end of a -fuzztime duration with no
# failing input (golang/go#75804, fixed in 1.27). 100000 execs is about
# 5-10 s per target here.
FUZZTIME ?= 100000x
# Targets that drive a real node (every accepted input is an fsynced Raft
# commit) run for fewer execs.
FUZZ_SLOW ?= FuzzRequestToCommand
FUZZTIME_SLOW ?= 5000x
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    t=$(FUZZTIME); case " $(FUZZ_SLOW) " in *" $$f "*) t=$(FUZZTIME_SLOW);; esac; \
	    echo "fuzz $$pkg $$f ($$t)"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$$t $$pkg; \
	  done; \
	done

proto:
	protoc -I proto \
	  --go_out=proto --go_opt=paths=source_relative \
	  --go-grpc_out=proto --go-grpc_opt=paths=source_relative \
	  $$(find proto -name '*.proto')

# The Go benchmarks (verifier, storage, FSM, one broker node; 1 KiB
# messages); then `hookq bench cluster` with the reference settings (3
# local voters, 1 KiB bodies signed as Standard Webhooks, 64 ingest
# connections through the leader, then open loop at half the rate
# reached, 4 consumers leasing 100 and settling in batches; hookq always
# fsyncs before it answers); then, in the same invocation, the JetStream
# anchor (R3, fsync always) when $(ANCHOR) exists; then one table of both
# with the ratios (bench/compare.go). See docs/PERFORMANCE.md.
ANCHOR         ?= ../shared/anchors/jetstream-bench
BENCH_DURATION ?= 20s
BENCH_WARMUP   ?= 3s
BENCH_CLUSTER  ?= --size 1024 --provider standard --concurrency 64 --consumers 4 --batch 100 \
                  --duration $(BENCH_DURATION) --warmup $(BENCH_WARMUP) --half-rate
# The anchor runs the two phases the table compares with (16 sync
# publishers; pull Fetch(100) + ack), once, at R3 with fsync always. It
# waits at most ANCHOR_QUIET for the machine to calm down before each
# phase; hookq's run does not wait, so keep it short on a shared machine.
ANCHOR_QUIET   ?= 20s
ANCHOR_FLAGS   ?= -runs 1 -replicas 3 -sync-always -phases syncN,consume -wait-quiet $(ANCHOR_QUIET)
# BENCH_GO= skips the Go benchmarks; BENCH_OUT=dir keeps both JSON
# results (hookq.json, jetstream.json) there.
BENCH_GO  ?= 1
BENCH_OUT ?=
bench: build
	@if [ -n "$(BENCH_GO)" ]; then $(GO) test -run '^$$' -bench . -benchtime 2s ./ingest ./storage ./raftfsm ./broker; fi
	@set -e; if [ -n "$(BENCH_OUT)" ]; then out="$(BENCH_OUT)"; mkdir -p "$$out"; else out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; fi; \
	./$(BIN) bench cluster $(BENCH_CLUSTER) --json "$$out/hookq.json"; \
	if [ -d "$(ANCHOR)" ]; then \
	  echo "JetStream anchor: building $(ANCHOR)"; \
	  if (cd "$(ANCHOR)" && $(GO) build -o "$$out/jetstream-bench" .); then \
	    (cd "$$out" && ./jetstream-bench $(ANCHOR_FLAGS) -json "$$out/jetstream.json") || \
	      echo "JetStream anchor exited with an error; the table uses whatever it wrote"; \
	  else echo "JetStream anchor did not build; skipped"; fi; \
	else \
	  echo "JetStream anchor skipped: $(ANCHOR) not found"; \
	fi; \
	./$(BIN) bench compare --hookq "$$out/hookq.json" --anchor "$$out/jetstream.json"

# The image: a static binary on scratch (no base image to pull), built
# from a staged context (docker/build: the binary and an empty data dir).
IMAGE ?= hookq:dev
docker:
	rm -rf docker/build && mkdir -p -m 700 docker/build/data
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o docker/build/hookq ./cmd/hookq
	docker build -t $(IMAGE) -f docker/Dockerfile docker/build

# docker compose v2 when present, else Debian's docker-compose 1.29.
COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo 'docker compose'; \
                   elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi)

# The compose cluster under faults (docker/dockertest): partition, kill,
# rolling restart, down/up. Needs a Docker daemon; tears everything down.
docker-test: docker
	@test -n "$(COMPOSE)" || { echo "docker-test: neither 'docker compose' nor docker-compose found" >&2; exit 1; }
	HOOKQ_COMPOSE='$(COMPOSE)' HOOKQ_IMAGE=$(IMAGE) $(GO) test -tags docker -count=1 -v -timeout 10m ./docker/dockertest/

# staticcheck and gosec: installed by .ci/run (pinned versions).
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	staticcheck ./...
	gosec -quiet -exclude-generated ./...

clean:
	rm -rf bin hookq-data
