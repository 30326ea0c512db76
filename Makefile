# hookq — see README.md. Every target works on a fresh machine after .ci/run's installs.
GO        ?= go
BIN       ?= bin/hookq
PKGS_RACE := ./storage/... ./raftfsm/... ./broker/... ./api/...
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)

.PHONY: build run test test-short race fuzz proto bench lint clean docker

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/hookq

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

# Go benchmarks of the FSM and of one broker node (1 KiB messages).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./raftfsm ./broker

docker:
	CGO_ENABLED=0 $(GO) build -trimpath -o docker/hookq ./cmd/hookq
	docker build -t hookq:dev docker

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

clean:
	rm -rf bin hookq-data
