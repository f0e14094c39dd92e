# SPDX-License-Identifier: GPL-2.0
#
# mkioq: kernel module, libmkioq, tests and demo.
#
#   make            build the modules, the library, the tests and the demo
#   make check      install what is missing, run every test (native, then
#                   QEMU once per kernel: KVER and KVER2)
#   make check-debug  the tests on a KASAN/lockdep/kmemleak kernel (built once)
#   make demo       boot the module in QEMU and run the demo
#   make bench      benchmarks in BOOTS QEMU boots (3): medians, spreads, CSV, PNG
#   make profile    perf in the guest over the small cases: time by thread, symbol
#   make tsan       the race test under ThreadSanitizer, 10^6 requests
#   make fuzz       the libFuzzer target for FUZZ_SECONDS (default 60)
#   make lint       checkpatch --strict, sparse (C=2) and W=1 on the driver,
#                   for both kernels
#   make gpu        the CUDA device header's tests and mkioq-gpu-bench (nvcc)
#   make gpu-check  build the GPU tests, and run them where a GPU is
#   make gpu-bench  the GPU benchmark (needs a GPU): table, CSV, PNG
#   make install    the module for KVER, libmkioq and libmkioq-uring,
#                   headers, pkg-config files, man pages, mkioq-stat, the
#                   udev rule and the DKMS source tree (DESTDIR, PREFIX
#                   honoured)
#   make uninstall  remove what `make install` put (same DESTDIR, PREFIX)
#   make dkms-source  the DKMS source tree alone, in
#                   $(DESTDIR)/usr/src/mkioq-$(VERSION)
#   make examples   the programs of examples/ (the GPU one with nvcc)
#   make clean

# The kernels: the newest installed Debian amd64 kernel of a series
# (6.1.0-57-amd64, 6.12.117+deb12-amd64; not -cloud or -rt). KVER, the
# primary one, is Debian's 6.1: `make module`, demo, bench and lint use
# it. KVER2 is Debian's 6.12 from bookworm-security (make deps installs
# it); make check runs the VM suite on both. Recursive (=) on purpose:
# after `deps` has installed a kernel, recipes see it.
newest_kver = $(shell ls /boot 2>/dev/null | sed -n 's/^vmlinuz-//p' | \
	grep -E '^$(subst .,\.,$(1))\.[0-9]+[-+][0-9a-z]+-amd64$$' | \
	sort -V | tail -n 1)
KVER ?= $(call newest_kver,6.1)
KVER2 ?= $(call newest_kver,6.12)
KDIR ?= /usr/src/linux-headers-$(KVER)
KDIR2 ?= /usr/src/linux-headers-$(KVER2)
# The headers to build kernel $(1) against.
kdir_of = $(if $(filter $(1),$(KVER)),$(KDIR),$(if $(filter $(1),$(KVER2)),$(KDIR2),/usr/src/linux-headers-$(1)))
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
BINDIR ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Outside PREFIX, where modprobe, udev and dkms look for them.
MODDIR ?= /lib/modules/$(KVER)/updates
UDEVRULESDIR ?= /lib/udev/rules.d
DKMSSRCDIR ?= /usr/src/mkioq-$(VERSION)

B := build
KSRC := $(B)/linux-source-6.1
SELFTESTS := $(KSRC)/tools/testing/selftests
CHECKPATCH := $(KSRC)/scripts/checkpatch.pl
KSRC_STAMP := $(B)/.ksrc-extracted

VERSION := 0.1.0
SOVERSION := 0

CC ?= gcc
CLANG ?= clang
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter
CPPFLAGS_ALL := -D_GNU_SOURCE -Iuapi -Ilibmkioq/include
CFLAGS_ALL := -std=gnu11 $(WARN) $(CFLAGS) $(CPPFLAGS_ALL)
TEST_CFLAGS := -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	-Wno-sign-compare $(CFLAGS) $(CPPFLAGS_ALL) -I$(SELFTESTS) -Itests/include

# libmkioq, the core: no liburing.
LIB_SRCS := $(wildcard libmkioq/src/*.c)
LIB_OBJS := $(LIB_SRCS:libmkioq/src/%.c=$(B)/lib/%.o)
# The public headers, installed as they are named: <libmkioq.h> (the core),
# <mkioq_engine.h>, <mkioq_uring.h> and the CUDA header.
PUBLIC_HDRS := libmkioq/include/libmkioq.h libmkioq/include/mkioq_engine.h \
	libmkioq/include/mkioq_uring.h libmkioq/include/mkioq_cuda.cuh
LIB_HDRS := $(wildcard libmkioq/include/*.h) uapi/linux/mkioq.h $(wildcard libmkioq/src/*.h)
LIBA := $(B)/lib/libmkioq.a
LIBSO := $(B)/lib/libmkioq.so.$(VERSION)
# libmkioq-uring, the library-owned io_uring of <mkioq_uring.h>: links
# libmkioq and liburing.
URING_SRCS := $(wildcard libmkioq/uring/*.c)
URING_OBJS := $(URING_SRCS:libmkioq/uring/%.c=$(B)/lib/uring/%.o)
URING_LIBA := $(B)/lib/libmkioq-uring.a
URING_LIBSO := $(B)/lib/libmkioq-uring.so.$(VERSION)

NATIVE_SRCS := $(wildcard tests/lib/*_test.c)
NATIVE_TESTS := $(NATIVE_SRCS:tests/lib/%.c=$(B)/tests/lib/%)
# The native tests that call libmkioq-uring; the others link the core
# alone, without liburing.
NATIVE_URING_TESTS := $(B)/tests/lib/ring_test
VM_SRCS := $(wildcard tests/vm/*_test.c)
VM_TESTS := $(VM_SRCS:tests/vm/%.c=$(B)/tests/vm/%)
VM_COMMON := $(wildcard tests/vm/common/*.c)
VM_LIBS := -luring -ldrm -lpthread
# tools/lib/: what the tools and the VM tests share (dma-bufs, patterns,
# the clock), as the kernel's tools/lib serves its selftests. The tests
# build on it; the tools never build from tests/.
TOOLS_LIB_SRCS := $(wildcard tools/lib/*.c)
TOOLS_LIB_OBJS := $(TOOLS_LIB_SRCS:tools/lib/%.c=$(B)/tools/lib/%.o)
TOOLS_LIB_HDRS := $(wildcard tools/lib/*.h)
TOOLS_LIBA := $(B)/tools/lib/libmkioq-tools.a
TOOLS_CFLAGS := $(CFLAGS_ALL) -Itools/lib -I/usr/include/libdrm
DEMO := $(B)/demo/mkioq-demo
BENCH := $(B)/demo/mkioq-bench
STAT := $(B)/demo/mkioq-stat
# Each kernel's module is built in its own tree of links to the sources
# (tests/scripts/kmod-tree.sh), so the builds never clobber each other.
KMOD := $(B)/kmod
module_of = $(KMOD)/$(1)/driver/mkioq.ko
MODULE = $(call module_of,$(KVER))
MODULE2 = $(call module_of,$(KVER2))
MODULES = $(foreach k,$(KVER) $(KVER2),$(call module_of,$(k)))
DRIVER_SRCS := Kbuild $(wildcard driver/*.c driver/*.h driver/Kbuild) \
	uapi/linux/mkioq.h
# What dkms builds from: the tree of the repository, less all but the module.
DKMS_FILES := dkms.conf Kbuild driver/Kbuild \
	$(filter-out %.mod.c,$(wildcard driver/*.c)) $(wildcard driver/*.h) \
	uapi/linux/mkioq.h
MAN3 := $(notdir $(wildcard libmkioq/man/*.3))
MAN7 := $(notdir $(wildcard libmkioq/man/*.7))

.PHONY: all lib module modules tests demo bench profile check check-debug check-native check-vm \
	tsan fuzz lint install install-lib install-module install-udev install-tools dkms-source \
	uninstall clean deps headers gpu gpu-check gpu-bench gpu-bench-plot FORCE

all: lib modules tests $(DEMO) $(BENCH) $(STAT)

deps:
	@sh tests/scripts/install-deps.sh

# kselftest headers and checkpatch come from Debian's linux-source-6.1,
# extracted here at build time and never committed.
$(KSRC_STAMP):
	@sh tests/scripts/install-deps.sh
	@mkdir -p $(B)
	tar -xJf /usr/src/linux-source-6.1.tar.xz -C $(B) \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/tools/testing/selftests/kselftest.h \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	@touch $@

headers: $(KSRC_STAMP)

# ---------------------------------------------------------------- library
lib: $(LIBA) $(LIBSO) $(B)/lib/mkioq.pc \
	$(URING_LIBA) $(URING_LIBSO) $(B)/lib/mkioq-uring.pc

$(B)/lib/%.o: libmkioq/src/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=default -c -o $@ $<

$(LIBA): $(LIB_OBJS)
	$(AR) rcs $@ $^

$(LIBSO): $(LIB_OBJS) libmkioq/libmkioq.map
	$(CC) -shared -Wl,-soname,libmkioq.so.$(SOVERSION) -Wl,--no-undefined \
		-Wl,--version-script=libmkioq/libmkioq.map -o $@ $(LIB_OBJS)
	ln -sf libmkioq.so.$(VERSION) $(B)/lib/libmkioq.so.$(SOVERSION)
	ln -sf libmkioq.so.$(VERSION) $(B)/lib/libmkioq.so

# libmkioq/src/ for util.h alone, which is header-only.
$(B)/lib/uring/%.o: libmkioq/uring/%.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Ilibmkioq/src -fPIC -fvisibility=default -c -o $@ $<

$(URING_LIBA): $(URING_OBJS)
	$(AR) rcs $@ $^

$(URING_LIBSO): $(URING_OBJS) libmkioq/libmkioq-uring.map $(LIBSO)
	$(CC) -shared -Wl,-soname,libmkioq-uring.so.$(SOVERSION) -Wl,--no-undefined \
		-Wl,--version-script=libmkioq/libmkioq-uring.map -o $@ $(URING_OBJS) \
		-L$(B)/lib -lmkioq -luring
	ln -sf libmkioq-uring.so.$(VERSION) $(B)/lib/libmkioq-uring.so.$(SOVERSION)
	ln -sf libmkioq-uring.so.$(VERSION) $(B)/lib/libmkioq-uring.so

# The .pc files hold the install paths: the stamp changes, and they are
# made again, when PREFIX, LIBDIR or INCDIR do.
PC_PATHS := $(B)/lib/pc-paths
$(PC_PATHS): FORCE
	@mkdir -p $(@D)
	@echo '$(PREFIX) $(LIBDIR) $(INCDIR) $(VERSION)' | cmp -s - $@ || \
		echo '$(PREFIX) $(LIBDIR) $(INCDIR) $(VERSION)' >$@

FORCE:

$(B)/lib/%.pc: libmkioq/%.pc.in Makefile $(PC_PATHS)
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# ----------------------------------------------------------------- module
# The primary kernel's module; `modules` builds it for both kernels.
module: $(MODULE)

modules: $(MODULES)

$(KMOD)/%/driver/mkioq.ko: $(DRIVER_SRCS)
	@test -n "$*" -a -d "$(call kdir_of,$*)" || \
		{ echo "no kernel headers for '$*' (make deps)" >&2; exit 1; }
	@sh tests/scripts/kmod-tree.sh $(KMOD)/$*
	$(MAKE) -C $(call kdir_of,$*) M=$(CURDIR)/$(KMOD)/$* modules

# ------------------------------------------------------------------ tests
tests: $(NATIVE_TESTS) $(VM_TESTS)

$(NATIVE_URING_TESTS): $(URING_LIBA)
$(NATIVE_URING_TESTS): NATIVE_URING_LIBS = $(URING_LIBA) -luring

$(B)/tests/lib/%: tests/lib/%.c $(LIBA) $(KSRC_STAMP) $(wildcard tests/include/*.h)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(NATIVE_URING_LIBS) $(LIBA) -lpthread

$(B)/tests/vm/%: tests/vm/%.c $(VM_COMMON) $(TOOLS_LIBA) $(URING_LIBA) $(LIBA) \
		$(KSRC_STAMP) $(wildcard tests/include/*.h) $(TOOLS_LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Itools/lib -I/usr/include/libdrm -static -o $@ $< \
		$(VM_COMMON) $(TOOLS_LIBA) $(URING_LIBA) $(LIBA) $(VM_LIBS)

$(B)/tools/lib/%.o: tools/lib/%.c $(TOOLS_LIB_HDRS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TOOLS_CFLAGS) -c -o $@ $<

$(TOOLS_LIBA): $(TOOLS_LIB_OBJS)
	$(AR) rcs $@ $^

# The tools: libmkioq and tools/lib, statically (they run in the VM too).
$(B)/demo/%: tools/%.c $(TOOLS_LIBA) $(LIBA) $(TOOLS_LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(TOOLS_CFLAGS) -static -o $@ $< $(TOOLS_LIBA) $(LIBA) \
		-luring -ldrm -lpthread

# The race test again, under ThreadSanitizer.
$(B)/tsan/race_test: tests/lib/race_test.c $(LIB_SRCS) $(LIB_HDRS) $(KSRC_STAMP)
	@mkdir -p $(@D)
	$(CLANG) $(TEST_CFLAGS) -O1 -fsanitize=thread -o $@ $< $(LIB_SRCS) \
		-lpthread

FUZZ_SECONDS ?= 60
$(B)/fuzz/ring_fuzz: tests/fuzz/ring_fuzz.c $(LIB_SRCS) $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS_ALL) -g -O1 -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(LIB_SRCS)

# The engine's test too, with the engine's sources instrumented.
$(B)/tsan/engine_test: tests/lib/engine_test.c $(LIB_SRCS) $(LIB_HDRS) $(KSRC_STAMP)
	@mkdir -p $(@D)
	$(CLANG) $(TEST_CFLAGS) -O1 -fsanitize=thread -o $@ $< $(LIB_SRCS) \
		-lpthread

tsan: $(B)/tsan/race_test $(B)/tsan/engine_test
	TSAN_OPTIONS=halt_on_error=1 $<
	TSAN_OPTIONS=halt_on_error=1 $(B)/tsan/engine_test

fuzz: $(B)/fuzz/ring_fuzz
	@mkdir -p $(B)/fuzz/corpus
	$< -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(B)/fuzz/corpus

# ------------------------------------------------------------------ check
# The VM lanes: NAME:KVER:MODULE, one per kernel. An empty KVER (a kernel
# not installed) fails its lane in check.sh.
VM_LANES = 6.1:$(KVER):$(MODULE) 6.12:$(KVER2):$(MODULE2)
# The kernels the install and DKMS tests build for; one not installed
# fails them under its placeholder name.
CHECK_KVERS = $(or $(KVER),no-6.1-kernel) $(or $(KVER2),no-6.12-kernel)

check: deps
	@$(MAKE) --no-print-directory all $(B)/tsan/race_test $(B)/fuzz/ring_fuzz
	@NVCC="$(NVCC)" MKIOQ_VM_LANES="$(VM_LANES)" MKIOQ_KMOD="$(KMOD)/$(KVER)" \
		MKIOQ_KVERS="$(CHECK_KVERS)" sh tests/scripts/check.sh

check-native: deps
	@$(MAKE) --no-print-directory lib $(MODULE) $(NATIVE_TESTS) $(B)/tsan/race_test \
		$(B)/fuzz/ring_fuzz
	@NVCC="$(NVCC)" MKIOQ_SKIP_VM=1 MKIOQ_KMOD="$(KMOD)/$(KVER)" \
		MKIOQ_KVERS="$(CHECK_KVERS)" sh tests/scripts/check.sh

# The reliability lane on a debug kernel built (once) from linux-source-6.1.
check-debug: deps
	@$(MAKE) --no-print-directory lib $(VM_TESTS) $(STAT)
	@sh tests/debug-kernel/check-debug.sh

demo: deps
	@$(MAKE) --no-print-directory module $(DEMO)
	@bash tests/vm/run-vm.sh --ko $(MODULE) --kver $(KVER) \
		--workdir $(B)/vm-demo -- "$(DEMO)"

# The full benchmark: not part of CI (make check runs a smoke of it).
# BOOTS boots (default 3), each ratio summarised over them.
bench: deps
	@$(MAKE) --no-print-directory module $(BENCH)
	@KVER=$(KVER) BOOTS=$(or $(BOOTS),3) bash tests/bench/run-bench.sh \
		$(MODULE) $(BENCH) $(B)/bench $(BENCH_ARGS)

# Where the per-request time goes: perf in the guest over the small cases
# the performance targets name (CASES: --filter strings of mkioq-bench).
profile: deps
	@$(MAKE) --no-print-directory module $(BENCH)
	@bash tests/bench/profile.sh $(MODULE) $(BENCH) $(B)/profile \
		$(or $(SECONDS),2) $(CASES)

# W=1 and sparse for each kernel, in trees of their own (build/kmod-lint/)
# so that the modules of `make modules` keep their flags.
lint: $(KSRC_STAMP)
	perl $(CHECKPATCH) --no-tree --strict \
		-f $(filter-out %.mod.c,$(wildcard driver/*.[ch])) uapi/linux/mkioq.h
	@test -n "$(KVER)" -a -n "$(KVER2)" || \
		{ echo "lint: a 6.1 and a 6.12 kernel are needed (make deps)" >&2; exit 1; }
	$(foreach k,$(KVER) $(KVER2),sh tests/scripts/kmod-tree.sh $(B)/kmod-lint/$(k) && \
		$(MAKE) -C $(call kdir_of,$(k)) M=$(CURDIR)/$(B)/kmod-lint/$(k) W=1 C=2 modules && ) true

# ---------------------------------------------------------------- install
# DESTDIR is a staging root: with it set, depmod does not run (the
# packager's tools run it on the target).
install: install-lib install-module install-udev install-tools dkms-source

install-lib: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCDIR)/linux $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/
	ln -sf libmkioq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmkioq.so.$(SOVERSION)
	ln -sf libmkioq.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmkioq.so
	install -m 644 $(URING_LIBA) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(URING_LIBSO) $(DESTDIR)$(LIBDIR)/
	ln -sf libmkioq-uring.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmkioq-uring.so.$(SOVERSION)
	ln -sf libmkioq-uring.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmkioq-uring.so
	install -m 644 $(PUBLIC_HDRS) $(DESTDIR)$(INCDIR)/
	install -m 644 uapi/linux/mkioq.h $(DESTDIR)$(INCDIR)/linux/
	install -m 644 $(B)/lib/mkioq.pc $(B)/lib/mkioq-uring.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 644 $(addprefix libmkioq/man/,$(MAN3)) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(addprefix libmkioq/man/,$(MAN7)) $(DESTDIR)$(MANDIR)/man7/

install-module: $(MODULE)
	install -d $(DESTDIR)$(MODDIR)
	install -m 644 $(MODULE) $(DESTDIR)$(MODDIR)/mkioq.ko
	$(if $(DESTDIR),,depmod -a $(KVER))

# The operator's tool: a static binary, so it runs in any container.
install-tools: $(STAT)
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(STAT) $(DESTDIR)$(BINDIR)/mkioq-stat

install-udev:
	install -d $(DESTDIR)$(UDEVRULESDIR)
	install -m 644 Documentation/99-mkioq.rules $(DESTDIR)$(UDEVRULESDIR)/

# The tree dkms copies: dkms.conf, Kbuild, driver/, uapi/linux/mkioq.h.
dkms-source:
	@grep -qx 'PACKAGE_VERSION="$(VERSION)"' dkms.conf || \
		{ echo "dkms.conf: PACKAGE_VERSION is not VERSION ($(VERSION))" >&2; exit 1; }
	install -d $(DESTDIR)$(DKMSSRCDIR)/driver $(DESTDIR)$(DKMSSRCDIR)/uapi/linux
	for f in $(DKMS_FILES); do \
		install -m 644 $$f $(DESTDIR)$(DKMSSRCDIR)/$$f || exit 1; done

# Exactly what install put; the directories it shares with others stay.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(LIBDIR)/,$(notdir $(LIBA) $(LIBSO) \
		$(URING_LIBA) $(URING_LIBSO)) libmkioq.so libmkioq.so.$(SOVERSION) \
		libmkioq-uring.so libmkioq-uring.so.$(SOVERSION))
	rm -f $(addprefix $(DESTDIR)$(INCDIR)/,$(notdir $(PUBLIC_HDRS)) linux/mkioq.h)
	rm -f $(addprefix $(DESTDIR)$(PKGCONFIGDIR)/,mkioq.pc mkioq-uring.pc)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(MAN3)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man7/,$(MAN7))
	rm -f $(DESTDIR)$(UDEVRULESDIR)/99-mkioq.rules
	rm -f $(DESTDIR)$(BINDIR)/mkioq-stat
	rm -f $(DESTDIR)$(MODDIR)/mkioq.ko
	rm -f $(addprefix $(DESTDIR)$(DKMSSRCDIR)/,$(DKMS_FILES))
	for d in $(addprefix $(DESTDIR)$(DKMSSRCDIR),/driver /uapi/linux /uapi ''); do \
		[ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d; done
	$(if $(DESTDIR),,depmod -a $(KVER))

# -------------------------------------------------------------------- GPU
# GPU code is built with nvcc where it is (CI has it, without a GPU);
# libmkioq itself never needs CUDA. CUDA 13's oldest target is sm_75.
NVCC ?= $(shell command -v nvcc 2>/dev/null || \
	{ [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; })
# nvcc may be a wrapper script (CI's /usr/local/bin/nvcc is one), so ask
# nvcc itself where the CUDA runtime headers are.
CUDA_INC ?= $(shell $(NVCC) --dryrun -x cu -c /dev/null -o /dev/null 2>&1 | \
	sed -n 's/^\#\$$ INCLUDES="-I\([^"]*\)".*/\1/p')
GPU_ARCHS ?= -gencode arch=compute_75,code=sm_75 \
	-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
NVCC_FLAGS := -std=c++17 -O2 $(GPU_ARCHS) -Iuapi -Ilibmkioq/include \
	-Xcompiler -Wall
CUDA_HDRS := libmkioq/include/mkioq_cuda.cuh uapi/linux/mkioq.h
GPU_TESTS := $(B)/gpu/gpu_ring_test $(B)/gpu/gpu_file_test
GPU_BENCH := $(B)/gpu/mkioq-gpu-bench

gpu: $(GPU_TESTS) $(GPU_BENCH)

$(B)/gpu/gpu_kernels.o: tests/gpu/gpu_kernels.cu tests/gpu/gpu_kernels.h $(CUDA_HDRS)
	@mkdir -p $(@D)
	$(NVCC) $(NVCC_FLAGS) -c -o $@ $<

$(GPU_TESTS): $(B)/gpu/%: tests/gpu/%.c $(B)/gpu/gpu_kernels.o $(LIBA) $(KSRC_STAMP)
	$(CC) $(TEST_CFLAGS) -I$(CUDA_INC) -c -o $@.o $<
	$(NVCC) -o $@ $@.o $(B)/gpu/gpu_kernels.o $(LIBA) -lpthread

$(B)/gpu/gpu_bench_kernels.o: tools/gpu_bench_kernels.cu tools/gpu_bench_kernels.h $(CUDA_HDRS)
	@mkdir -p $(@D)
	$(NVCC) $(NVCC_FLAGS) -Itools -c -o $@ $<

$(GPU_BENCH): tools/mkioq-gpu-bench.c $(B)/gpu/gpu_bench_kernels.o $(LIBA)
	$(CC) $(CFLAGS_ALL) -Itools -I$(CUDA_INC) -c -o $@.o $<
	$(NVCC) -o $@ $@.o $(B)/gpu/gpu_bench_kernels.o $(LIBA) -lpthread

gpu-check:
	@NVCC="$(NVCC)" sh tests/gpu/gpu-check.sh

gpu-bench: gpu
	$(GPU_BENCH) -o $(B)/gpu-bench $(GPU_BENCH_ARGS)

CSV ?= $(B)/gpu-bench/gpu-bench.csv
gpu-bench-plot:
	sh tools/gpu-bench-plot.sh $(CSV) $(dir $(CSV))gpu-bench.png

# --------------------------------------------------------------- examples
# examples/: small programs, one file each (examples/README.md), built
# as a user would build them: against the in-tree library by default
# (-Ilibmkioq/include -Iuapi, build/lib/*.a), or with
# EXAMPLES_PKGCONFIG=1 against the installed one (`make install`), through
# pkg-config mkioq / mkioq-uring. The CPU ones are static, as the VM tests
# are: make check runs them in the VM. gpu_producer is built where nvcc is.
.PHONY: examples
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLES := $(EXAMPLE_SRCS:examples/%.c=$(B)/examples/%)
GPU_EXAMPLES := $(patsubst examples/%.cu,$(B)/examples/%,$(wildcard examples/*.cu))
EX_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS)
ifeq ($(EXAMPLES_PKGCONFIG),1)
EX_PC = $(shell pkg-config $(1) || echo __pkg-config-failed__)
EX_INC = $(call EX_PC,--cflags mkioq-uring libdrm)
EX_LIBS = $(call EX_PC,--static --libs mkioq libdrm) -lpthread
EX_URING_LIBS = $(call EX_PC,--static --libs mkioq-uring libdrm) -lpthread
EX_GPU_INC = $(call EX_PC,--cflags mkioq)
EX_GPU_LIBS = $(call EX_PC,--libs mkioq) -lpthread
EX_DEPS :=
else
EX_INC := -Ilibmkioq/include -Iuapi -I/usr/include/libdrm
EX_LIBS := $(LIBA) -ldrm -lpthread
EX_URING_LIBS := $(URING_LIBA) $(LIBA) -luring -ldrm -lpthread
EX_GPU_INC := -Ilibmkioq/include -Iuapi
EX_GPU_LIBS := $(LIBA) -lpthread
EX_DEPS := $(LIBA) $(URING_LIBA) $(LIB_HDRS)
endif

examples: $(EXAMPLES) $(if $(NVCC),$(GPU_EXAMPLES))
	@$(if $(NVCC),true,echo "examples: nvcc not found (PATH, /usr/local/cuda/bin): $(notdir $(GPU_EXAMPLES)) not built")

# The examples that use io_uring link libmkioq-uring and liburing.
$(B)/examples/completions_uring: EX_LIBS = $(EX_URING_LIBS)

$(B)/examples/%: examples/%.c $(EX_DEPS)
	@mkdir -p $(@D)
	$(CC) $(EX_CFLAGS) $(EX_INC) -static -o $@ $< $(EX_LIBS)

$(B)/examples/%: examples/%.cu $(EX_DEPS) $(CUDA_HDRS)
	@mkdir -p $(@D)
	$(NVCC) -std=c++17 -O2 $(GPU_ARCHS) -Xcompiler -Wall $(EX_GPU_INC) \
		-o $@ $< $(EX_GPU_LIBS)

# make check builds them all, and check.sh runs the CPU ones in the VM.
check: examples

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null
	rm -rf $(B)
