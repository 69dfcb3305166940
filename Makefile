# dunix: `make cluster` boots a 3-node cluster; `make run` boots a node;
# `make test` runs every test.
# Both install what they need first (QEMU from Debian, modules from the
# Go module proxy). The kernel is built with the stock go command.

GO       ?= go
BIN      := bin
KERNEL   := $(BIN)/dunix-kernel-amd64
DUNIX    := $(BIN)/dunix
SOURCES  := $(shell find arch boot drivers kernel tools qemu fs proc userland net -name '*.go' -o -name '*.s' 2>/dev/null) go.mod go.sum
APT_PKGS := qemu-system-x86 qemu-utils grub-pc-bin grub-common xorriso mtools busybox-static bash-static musl-tools gcc

# Packages that are plain Go and tested on the host with the race detector.
HOST_PKGS = $(shell $(GO) list ./... | grep -v -e /qemu/boottest -e /qemu/usertest)

.PHONY: all deps cluster run test test-host test-boot vet fmt bench bench-boot bench-smp bench-sys clean

all: $(KERNEL) $(DUNIX)

$(KERNEL): $(SOURCES)
	@mkdir -p $(BIN)
	$(GO) run ./tools/mkkernel -o $@

$(DUNIX): $(SOURCES)
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./tools/dunix

# deps installs what is missing (Debian/Ubuntu): QEMU; GRUB with xorriso
# and mtools (multiboot2 boot test); the static programs the user-mode
# tests run (busybox-static, bash-static) and musl-gcc to build the C test
# programs and the benchmark.
deps:
	@command -v qemu-system-x86_64 >/dev/null 2>&1 && command -v grub-mkrescue >/dev/null 2>&1 && \
	  command -v xorriso >/dev/null 2>&1 && command -v mformat >/dev/null 2>&1 && \
	  command -v busybox >/dev/null 2>&1 && ! ldd "$$(command -v busybox)" >/dev/null 2>&1 && \
	  command -v bash-static >/dev/null 2>&1 && \
	  command -v musl-gcc >/dev/null 2>&1 && command -v gcc >/dev/null 2>&1 || { \
	  echo "installing $(APT_PKGS) with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PKGS); }
	@$(GO) mod download

# cluster boots three nodes on a virtual LAN of this host (cluster
# "default"), waits until each sees the others, and shows the fabric as
# each node sees it. `bin/dunix cluster console n1` opens a shell on a
# node; `bin/dunix cluster down` stops them.
cluster: deps all
	$(DUNIX) cluster up -n 3
	$(DUNIX) status

# run boots a node into Debian's busybox sh, its applets in PATH.
run: deps all
	$(DUNIX) run --add "$$(command -v busybox)":/bin/busybox -- /bin/sh

test: deps all vet test-host test-boot

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

test-host: all
	DUNIX_KERNEL=$(abspath $(KERNEL)) $(GO) test -race -count=1 $(HOST_PKGS)

test-boot: all
	DUNIX_KERNEL=$(abspath $(KERNEL)) DUNIX=$(abspath $(DUNIX)) $(GO) test -count=1 -p 1 -parallel 2 -timeout 40m -v ./qemu/boottest/ ./qemu/usertest/

bench: bench-boot bench-smp bench-sys

bench-boot: deps all
	$(GO) run ./tools/bench boot

bench-smp: all
	$(GO) run ./tools/bench smp

bench-sys: deps all
	$(GO) run ./tools/bench sys

clean:
	rm -rf $(BIN)
