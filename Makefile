# shipd - store-and-forward shipping server.
#   make            build bin/shipd and bin/shipctl (warnings are errors)
#   make check      install deps, build, run every test (ends "N passed, N failed")
#   make demo       install deps, build, ship a file across a 3-node loopback network
#   make asan       the same binaries with ASan + UBSan under build/asan/bin
#   make fuzz       run the libFuzzer targets for FUZZ_SECONDS each
#   make bench      benchmarks (bench/), figures in bench/results/latest.md
#   make soak       the long variants of the reliability tests
#   make install    PREFIX=/usr/local DESTDIR= ; make uninstall

CC	?= cc
BUILD	?= build
BIN	?= bin
PREFIX	?= /usr/local
FUZZ_SECONDS ?= 60
PKGS	= libgcrypt libarchive libzstd
OPT	?= -O2
CFLAGS	?= -g
SAN	?=
CFLAGS	+= $(SAN) -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wshadow \
	   -Wno-unused-parameter -fno-common $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libarchive is linked from its static archive (libarchive-dev ships it):
# the shared library drags every format it knows into each start-up (libxml2,
# ICU, libstdc++, nettle, lzma, bz2, z, acl, lz4: 18 libraries, 4.5 M of the
# 5 M instructions of `shipctl --version`), and we use only the tar reader,
# the pax_restricted and raw writers and the zstd filter. --gc-sections drops the formats the archive's
# format table names but nothing calls, so zstd is the one library left; an
# unresolved symbol in kept code fails the link. ARCHIVE_A= (empty) on the
# command line, or no libarchive.a, links the shared library as before.
# zstd is linked either way: packet_seal.c compresses small files itself.
ARCHIVE_A ?= $(wildcard $(shell pkg-config --variable=libdir libarchive 2>/dev/null)/libarchive.a)
ZSTD_LIBS = $(shell pkg-config --libs libzstd 2>/dev/null || echo -lzstd)
ifneq ($(strip $(ARCHIVE_A)),)
ARCHIVE_LIBS = -Wl,--gc-sections $(ARCHIVE_A)
# test_packet writes a gzip tar to see it refused: zlib for the tests only
TEST_LIBS = $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
else
ARCHIVE_LIBS = $(shell pkg-config --libs libarchive 2>/dev/null)
endif
LDLIBS	+= $(shell pkg-config --libs libgcrypt 2>/dev/null) $(ARCHIVE_LIBS) $(ZSTD_LIBS)
SHIPD_LIBS = $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)

# The library layers, lowest first. Each is its own static archive and the
# programs link them highest first, so a call from a lower layer into a
# higher one has nothing to resolve it: scripts/layercheck turns any such
# call into a build error naming the caller and the callee.
LAYERS	= util crypto conf trust queue packet wire global sched
LAYER_LIBS = $(foreach l,$(LAYERS),$(BUILD)/lib/$(l).a)
LINK_LIBS = $(foreach l,$(call reverse,$(LAYERS)),$(BUILD)/lib/$(l).a)
reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))
LIB_SRC	= $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
LIB_OBJ	= $(LIB_SRC:src/%.c=$(BUILD)/%.o)
SHIPD_OBJ = $(patsubst src/%.c,$(BUILD)/%.o,$(wildcard src/shipd/*.c))
CTL_OBJ	= $(patsubst src/%.c,$(BUILD)/%.o,$(wildcard src/shipctl/*.c))
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC = $(wildcard tests/tools/*.c)
TOOL_BIN = $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)

.PHONY: all deps check demo asan fuzz bench soak install uninstall clean tests

all: $(BIN)/shipd $(BIN)/shipctl $(BUILD)/libshipd.a

$(BUILD)/%.o: src/%.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

define layer_lib
$(BUILD)/lib/$(1).a: $(patsubst src/%.c,$(BUILD)/%.o,$(wildcard src/$(1)/*.c))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_lib,$(l))))

# Fails the build when a layer calls into a layer above it.
$(BUILD)/lib/.layercheck: $(LAYER_LIBS) scripts/layercheck
	@scripts/layercheck $(LAYER_LIBS)
	@touch $@

# Every layer in one archive, for tools outside the tree's layering (bench/).
$(BUILD)/libshipd.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/shipd: $(SHIPD_OBJ) $(LAYER_LIBS) $(BUILD)/lib/.layercheck
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SHIPD_OBJ) $(LINK_LIBS) $(LDLIBS) $(SHIPD_LIBS)

$(BIN)/shipctl: $(CTL_OBJ) $(LAYER_LIBS) $(BUILD)/lib/.layercheck
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CTL_OBJ) $(LINK_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LAYER_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(LINK_LIBS) $(LDLIBS) $(TEST_LIBS)

# test tools (the hostile peer): programs the scenario tests drive
$(BUILD)/tests/%: tests/tools/%.c $(LAYER_LIBS) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(LINK_LIBS) $(LDLIBS)

tests: all $(TEST_BIN) $(TOOL_BIN) $(BUILD)/tests/shipd-hooks

# The daemon with its test hooks (sandbox.c: SHIPD_TEST_FORBIDDEN): only
# the scenario tests run it; bin/shipd never has them.
HOOKS_OBJ = $(patsubst src/%.c,$(BUILD)/hooks/%.o,$(wildcard src/shipd/*.c))
$(BUILD)/hooks/%.o: src/%.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSHIPD_TEST_HOOKS -c -o $@ $<
$(BUILD)/tests/shipd-hooks: $(HOOKS_OBJ) $(LAYER_LIBS) $(BUILD)/lib/.layercheck
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(HOOKS_OBJ) $(LINK_LIBS) $(LDLIBS) $(SHIPD_LIBS)

deps:
	@scripts/install-deps

# The sanitizer build lives beside the normal one; tests/run uses both.
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		OPT=-O1 tests

# builds use every CPU (JOBS=N to choose); tests/run runs tests side by side
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check: deps
	@$(MAKE) --no-print-directory -j$(JOBS) tests
	@$(MAKE) --no-print-directory -j$(JOBS) asan
	@$(MAKE) --no-print-directory -j$(JOBS) fuzz-build
	@tests/run

demo: deps all
	@scripts/demo

bench: deps all
	@scripts/install-deps --bench
	@bench/run

soak: deps tests
	@SOAK=1 tests/run
	@tests/soak/oldpeer.sh

FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN = $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
# the library once, instrumented for libFuzzer (fuzzer-no-link), then each
# target links against it: not the whole library compiled per target
FUZZ_CC = clang -g -O1 -std=c11 -D_GNU_SOURCE -Isrc $(shell pkg-config --cflags $(PKGS))
FUZZ_OBJ = $(LIB_SRC:src/%.c=build/fuzz/obj/%.o)
build/fuzz/obj/%.o: src/%.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build/fuzz/lib.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
build/fuzz/%: fuzz/%.c build/fuzz/lib.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $< build/fuzz/lib.a $(LDLIBS)
fuzz-build: $(FUZZ_BIN)
fuzz: deps fuzz-build
	@for f in $(FUZZ_BIN); do n=$${f##*/}; mkdir -p fuzz/corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=fuzz/crashes/ fuzz/corpus/$$n || exit 1; done

install: all
	@scripts/install "$(DESTDIR)" "$(PREFIX)"
uninstall:
	@scripts/install --uninstall "$(DESTDIR)" "$(PREFIX)"

clean:
	rm -rf build bin
