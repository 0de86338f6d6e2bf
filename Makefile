# hast: highly available block storage.
GO       ?= go
FUZZTIME ?= 60s
BINARIES := hastd hastctl hast-witness

# make install; DESTDIR is prepended to every installed path (staging).
PREFIX     ?= /usr/local
DESTDIR    ?=
INSTALL    ?= install
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
RCDIR      ?= $(PREFIX)/etc/rc.d
UNAME_S    := $(shell uname -s)
MAN5       := man/hast.conf.5
MAN8       := man/hastd.8 man/hastctl.8 man/hast-witness.8
UNITS      := dist/systemd/hastd.service dist/systemd/hast-witness.service
RCSCRIPTS  := dist/rc.d/hastd dist/rc.d/hast_witness

.PHONY: all build test check fuzz bench demo clean install

all: build

build:
	$(GO) build -o bin/ $(addprefix ./cmd/,$(BINARIES))

# Every test, with the race detector (tests that need root skip
# elsewhere; as root this includes the nemesis suite's 20-fault TestChaos
# and the named scenarios), then each fuzz target for 30 s: what CI runs.
test: check
	$(GO) test -race -count=1 -timeout 25m ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=30s

check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=freebsd $(GO) vet ./...

# The nemesis suite's randomized run alone (cmd/hastd TestChaos, as root
# with iptables), FAULTS faults (default 200) drawn from SEED; without
# SEED the test picks a random seed and logs it: make chaos SEED=N
# FAULTS=M replays that run's schedule. make test runs 20 faults from a
# fixed seed.
FAULTS ?= 200
SEED   ?=

.PHONY: chaos
chaos:
	HAST_CHAOS_FAULTS=$(FAULTS) HAST_CHAOS_SEED=$(SEED) $(GO) test -race -count=1 -run 'TestChaos$$' -v -timeout 60m ./cmd/hastd

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
	$(GO) run ./cmd/hast-bench -bin bin -out docs/benchmarks.md

clean:
	rm -rf bin

# The binaries into SBINDIR, the manual pages into MANDIR/man5 and man8,
# and the service files, with /usr/local/sbin in them changed to SBINDIR:
# the systemd units on Linux, the rc.d scripts on FreeBSD.
install: build
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 $(addprefix bin/,$(BINARIES)) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
ifeq ($(UNAME_S),Linux)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSTEMDDIR)
	set -e; tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; for f in $(UNITS); do \
		sed 's|/usr/local/sbin/|$(SBINDIR)/|g' $$f >"$$tmp"; \
		$(INSTALL) -m 0644 "$$tmp" $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$f); \
	done
endif
ifeq ($(UNAME_S),FreeBSD)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(RCDIR)
	set -e; tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; for f in $(RCSCRIPTS); do \
		sed 's|/usr/local/sbin/|$(SBINDIR)/|g' $$f >"$$tmp"; \
		$(INSTALL) -m 0755 "$$tmp" $(DESTDIR)$(RCDIR)/$$(basename $$f); \
	done
endif
