# hast: highly available block storage.
GO       ?= go
FUZZTIME ?= 60s
BINARIES := hastd hastctl hast-witness

.PHONY: all build test check fuzz bench demo clean

all: build

build:
	$(GO) build -o bin/ $(addprefix ./cmd/,$(BINARIES))

# Every test, with the race detector. Tests that need root skip elsewhere.
test: check
	$(GO) test -race -count=1 -timeout 25m ./...

check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=freebsd $(GO) vet ./...

# Each fuzz target for FUZZTIME (default 60s).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 20x $$pkg; \
		done; \
	done

# Two nodes and a witness on loopback, ext4 on /dev/hast/demo, switchover (root).
demo: build
	bash scripts/demo.sh

# Our fullsync pair against qemu-nbd and a qemu quorum (RAID1 over NBD),
# fio's nbd engine, one run; see docs/benchmarks.md.
bench: build
	$(GO) run ./cmd/hast-bench -bin bin

clean:
	rm -rf bin
