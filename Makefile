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
	$(MAKE) fuzz FUZZTIME=$${FUZZTIME:-10s}

test-short:
	$(GO) test -short -count=1 ./...

FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
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
