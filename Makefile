# Sluice — `make run` starts the server with its embedded defaults,
# `make test` installs test dependencies and runs every test.
GO       ?= go
FUZZTIME ?= 3s
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: all build run test deps vet unit fuzz bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/sluice ./cmd/sluice

run: build
	./bin/sluice

deps:
	@scripts/deps.sh

vet:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

test: deps vet unit fuzz

clean:
	rm -rf bin
