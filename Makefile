# wgnet — top-level Makefile. Quiet unless V=1.
#
#   make            build everything (installs missing Debian packages first)
#   make test       unit tests (plain and ASan/UBSan) + namespace integration tests
#   make check      unit tests only
#   make asan       unit + integration tests built with ASan/UBSan
#   make valgrind   unit tests under valgrind
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS
#   make demo       a lab with two micro-VMs talking through WireGuard
#   make demo-docker  two dockerd machines on wgnet's Docker plugin + etcd
#   make bench      the benchmark report (docs/perf.md)

BUILD ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell $(CC) -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
OPT ?= -O2 -g
CFLAGS := $(OPT) -std=gnu11 $(WARN) -MMD -MP -D_GNU_SOURCE -Iinclude -I$(BUILD) $(EXTRA_CFLAGS)
LDFLAGS += -Wl,--as-needed $(EXTRA_LDFLAGS)
LDLIBS := -lbpf -lelf -lz -lmnl -lnftnl -lsodium -lsqlite3 -ljansson \
	  -lmicrohttpd -lcurl -lpthread
BPF_CFLAGS := -g -O2 -target bpf -Wall -Wextra -Werror -Iinclude -Ibpf \
	      -I/usr/include/$(ARCH)

# Debian packages the build, the tests and the demo need.
PKGS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libmnl-dev \
	libnftnl-dev libcunit1-dev libsqlite3-dev libjansson-dev \
	libmicrohttpd-dev libsodium-dev libcurl4-openssl-dev libclang-rt-14-dev \
	wireguard-go wireguard-tools iperf3 iputils-ping nftables iproute2 \
	busybox-static netcat-openbsd valgrind util-linux procps psmisc tcpdump gnuplot-nox \
	python3
# Installed without their Recommends: prometheus (for promtool in the metrics
# test) would pull prometheus-node-exporter, a daemon.
PKGS_NORECS := prometheus

# The Docker plugin's demo and tests: Debian's docker.io (dockerd 20.10) and
# etcd. Installed with a policy-rc.d that refuses service starts when the
# machine has none, so that no system dockerd starts (it would take over the
# machine's iptables and /run/docker); the tests run dockerds of their own.
DOCKER_PKGS := docker.io etcd-server etcd-client

# Three archives, one a layer (docs/architecture.md, "Layers"): src/ is shared,
# guest/ and host/ each build on it and never on each other. Each program links
# only the archives of its layer, so a call across layers fails to link; the
# layer checks below link every object of an archive, used or not.
SHARED_SRCS := $(wildcard src/*.c)
GUEST_SRCS := $(filter-out guest/main.c,$(wildcard guest/*.c))
# The CLI's commands (host/cli_*.c) call host/cli.c: they link with it alone.
CLI_SRCS := $(wildcard host/cli_*.c)
HOST_SRCS := $(filter-out host/main.c host/cli.c $(CLI_SRCS),$(wildcard host/*.c))
SHARED_LIB := $(BUILD)/libwgnet.a
GUEST_LIB := $(BUILD)/libwgnet-guest.a
HOST_LIB := $(BUILD)/libwgnet-host.a
LIB_OBJS := $(SHARED_SRCS:%.c=$(BUILD)/%.o) $(GUEST_SRCS:%.c=$(BUILD)/%.o) \
	    $(HOST_SRCS:%.c=$(BUILD)/%.o) $(CLI_SRCS:%.c=$(BUILD)/%.o)
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.bpf.o)
SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/unit/runner.o
SIM_OBJS := $(BUILD)/sim/simstate.o
BINS := $(BUILD)/wgnet-guest $(BUILD)/wgnet-host $(BUILD)/wgnet $(BUILD)/wgnet-lab \
	$(BUILD)/wgnet-simguest
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 60

.PHONY: all deps test check unit asan valgrind fuzz fuzz-build fuzz-replay \
	netns-test demo demo-docker docker-deps bench clean format analyze install
.DEFAULT_GOAL := all
.SECONDARY:

all: deps $(BINS) $(BUILD)/test_unit $(BUILD)/layers.ok

# Install what is missing (CI starts from a clean clone on a fresh machine).
deps: $(BUILD)/.deps
$(BUILD)/.deps: Makefile
	@mkdir -p $(BUILD)
	@missing=$$(for p in $(PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	norecs=$$(for p in $(PKGS_NORECS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing$$norecs" ]; then \
		echo "  APT      $$missing $$norecs"; \
		if [ "$$(id -u)" != 0 ]; then echo "need root to install: $$missing $$norecs" >&2; exit 1; fi; \
		apt-get update -qq || exit 1; \
		if [ -n "$$missing" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; fi; \
		if [ -n "$$norecs" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$norecs >/dev/null || exit 1; fi; \
	fi
	@touch $@

docker-deps: $(BUILD)/.docker-deps
$(BUILD)/.docker-deps: Makefile
	@mkdir -p $(BUILD)
	@missing=$$(for p in $(DOCKER_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "  APT      $$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "need root to install: $$missing" >&2; exit 1; fi; \
		prc=; if [ ! -e /usr/sbin/policy-rc.d ]; then prc=1; printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; rc=$$?; \
		[ -z "$$prc" ] || rm -f /usr/sbin/policy-rc.d; \
		[ $$rc = 0 ] || exit 1; \
	fi
	@touch $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c include/wgnet/bpf_shared.h $(wildcard bpf/lib/*.h) | $(BUILD)/.deps
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/%.o: %.c | $(BUILD)/.deps $(SKELS)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(SHARED_LIB): $(SHARED_SRCS:%.c=$(BUILD)/%.o) Makefile
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(GUEST_LIB): $(GUEST_SRCS:%.c=$(BUILD)/%.o) Makefile
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(HOST_LIB): $(HOST_SRCS:%.c=$(BUILD)/%.o) Makefile
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

$(BUILD)/wgnet-guest: $(BUILD)/guest/main.o $(GUEST_LIB) $(SHARED_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The simulated guests (sim/): one process, N guests, for scale benchmarks.
$(BUILD)/wgnet-simguest: $(BUILD)/sim/main.o $(SIM_OBJS) $(GUEST_LIB) $(SHARED_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/wgnet-host: $(BUILD)/host/main.o $(HOST_LIB) $(SHARED_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/wgnet: $(BUILD)/host/cli.o $(CLI_SRCS:%.c=$(BUILD)/%.o) $(HOST_LIB) $(SHARED_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Layer checks: every object of an archive, linked with only what its layer
# may use (an empty main stands in for the program). The shared archive links
# alone, the guest and host archives each with the shared one.
$(BUILD)/layers/main.c:
	@mkdir -p $(@D)
	$(Q)echo 'int main(void); int main(void) { return 0; }' > $@

$(BUILD)/layers/shared: $(BUILD)/layers/main.o $(SHARED_LIB)
$(BUILD)/layers/guest: $(BUILD)/layers/main.o $(GUEST_LIB) $(SHARED_LIB)
$(BUILD)/layers/host: $(BUILD)/layers/main.o $(HOST_LIB) $(SHARED_LIB)
$(BUILD)/layers/shared $(BUILD)/layers/guest $(BUILD)/layers/host:
	$(call msg,LAYER,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--whole-archive $(word 2,$^) \
		-Wl,--no-whole-archive $(wordlist 3,3,$^) $(LDLIBS)

$(BUILD)/layers.ok: $(BUILD)/layers/shared $(BUILD)/layers/guest $(BUILD)/layers/host
	$(Q)touch $@

$(BUILD)/wgnet-lab: lab/wgnet-lab
	$(call msg,INSTALL,$@)
	@mkdir -p $(@D)
	$(Q)install -m 0755 $< $@

# The unit-test runner: one CUnit registry with a suite per tests/unit/test_*.c
# (each file defines suite_<name>(void)).
$(BUILD)/tests/unit/suites.h: $(UNIT_SRCS) Makefile
	@mkdir -p $(@D)
	$(Q)( for f in $(notdir $(UNIT_SRCS:.c=)); do echo "void suite_$${f#test_}(void);"; done; \
	  echo "#define SUITES \\"; \
	  for f in $(notdir $(UNIT_SRCS:.c=)); do echo "	X(suite_$${f#test_}) \\"; done; echo ) > $@

# Suites are found by name, not through a header: no prototype to miss.
$(BUILD)/tests/unit/%.o: tests/unit/%.c | $(BUILD)/.deps $(SKELS)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(BUILD)/tests/unit/runner.o: tests/unit/runner.c $(BUILD)/tests/unit/suites.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(BUILD)/tests/unit -c $< -o $@

$(BUILD)/test_unit: $(UNIT_OBJS) $(SIM_OBJS) $(HOST_LIB) $(GUEST_LIB) $(SHARED_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit

check unit: all
	$(Q)WGNET_BPF_OBJ_DIR=$(BUILD) $(BUILD)/test_unit

# Sanitizer build in its own tree.
asan-build: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan \
		EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" OPT="-O1 -g" \
		build/asan/test_unit build/asan/wgnet-guest build/asan/wgnet-host build/asan/wgnet build/asan/wgnet-lab \
		build/asan/wgnet-simguest

asan-unit: asan-build
	$(Q)ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/asan/test_unit

asan: asan-unit
	$(Q)rm -f build/asan/asan.log.*
	@# The lab script finds its lab/*.sh helpers next to itself.
	$(Q)ln -sf $(CURDIR)/lab/wgnet-lab build/asan/wgnet-lab
	$(Q)WGNET_BIN=$(CURDIR)/build/asan ASAN_OPTIONS=detect_leaks=1:log_path=$(CURDIR)/build/asan/asan.log \
		tests/netns/run-all.sh
	$(Q)if ls build/asan/asan.log.* >/dev/null 2>&1; then cat build/asan/asan.log.*; exit 1; fi

valgrind: all
	$(Q)WGNET_BPF_OBJ_DIR=$(BUILD) valgrind -q --suppressions=tests/unit/valgrind.supp \
		--leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
		$(BUILD)/test_unit

netns-test: all docker-deps
	$(Q)WGNET_BIN=$(CURDIR)/$(BUILD) tests/netns/run-all.sh

fuzz-build: deps
	$(Q)$(MAKE) --no-print-directory -f tests/fuzz/Makefile.fuzz

fuzz: fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh run

fuzz-replay: fuzz-build
	$(Q)tests/fuzz/run.sh replay

test: all docker-deps
	$(Q)$(BUILD)/test_unit
	$(Q)$(MAKE) --no-print-directory asan-unit
	$(Q)if [ -f tests/fuzz/Makefile.fuzz ]; then $(MAKE) --no-print-directory fuzz-replay; fi
	$(Q)WGNET_BIN=$(CURDIR)/$(BUILD) tests/netns/run-all.sh

demo: all
	$(Q)WGNET_BIN=$(CURDIR)/$(BUILD) lab/demo.sh

demo-docker: all docker-deps
	$(Q)WGNET_BIN=$(CURDIR)/$(BUILD) lab/demo-docker.sh

bench: all
	$(Q)WGNET_BIN=$(CURDIR)/$(BUILD) bench/run $(BENCH_ARGS)

analyze: deps
	$(Q)scan-build --status-bugs $(MAKE) --no-print-directory BUILD=build/analyze all

format:
	$(Q)clang-format -i $(wildcard src/*.c guest/*.c host/*.c host/*.h guest/*.h sim/*.c sim/*.h include/wgnet/*.h bpf/*.c bpf/lib/*.h tests/unit/*.c tests/fuzz/*.c)

clean:
	$(Q)rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
