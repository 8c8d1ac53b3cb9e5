# mattn: one plain Makefile, no recursion; every output goes under build/.
#   make            build/mattn-ref, build/mattn-gles, build/mattn-diff
#   make test       the cmocka suites and the command-line checks
#   make check      the suites under ASan+UBSan, the small ones under valgrind
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each, plus the committed corpora
#   make deps       installs every Debian 12 package the build and the tests need (root)
#   make format     clang-format every C file; make format-check fails on a difference
# Test data is read from $(SHARED) (../shared by default); tests whose file is absent skip.
#
# What links what (docs/LAYOUT.md):
#   shared/  both engines' library: GGUF, quants, tokenizers, sampler, model, graph, families/
#   ref/     the FP64 engine            gles/   the GLES engine (+ shaders/)
#   tools/   GGUF producers (convert, safetensors): mattn-ref, the tests and the fuzzers only
#   app/     the binaries' mains and their command plumbing

MAKEFLAGS += -r
SHARED ?= ../shared
CC ?= cc
OPT ?= -O2
WARN := -Wall -Wextra -Wpedantic -Wpointer-arith -Werror
CFLAGS_BASE := -std=c11 $(WARN) -g -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -MMD -MP -Ishared
# Per top-level directory: ref/ must stay FP64 (no float may slip in silently); app/ and
# tests/ are the places that may see both engines.
CFLAGS_ref := -Wdouble-promotion -Wfloat-conversion
CFLAGS_tools := -Itools
CFLAGS_app := -Iapp -Itools -Iref -Igles
CFLAGS_tests := -Iapp -Itools -Iref -Igles -Itests
DIR_CFLAGS = $(CFLAGS_$(firstword $(subst /, ,$<)))
LIBS := -lm -lpthread -lpcre2-8 -lcjson
GL_LIBS := -lEGL -lGLESv2 -lgbm

SRC_SHARED := $(wildcard shared/*.c shared/families/*.c)
SRC_REF := $(wildcard ref/*.c)
SRC_GLES := $(wildcard gles/*.c)
SRC_TOOLS := $(wildcard tools/*.c)
APP_MAINS := app/mattn_ref.c app/mattn_gles.c app/mattn_diff.c
# what every binary's main uses; the rest of app/ is mattn-ref's own commands
SRC_APP_COMMON := app/session.c app/cli.c app/info.c app/engine_cmd.c
# the GLES engine's options from the environment: mattn-gles, mattn-diff and the tests
SRC_APP_GL := app/gl_env.c
SRC_APP := $(filter-out $(APP_MAINS) $(SRC_APP_GL),$(wildcard app/*.c))
SRC_TESTS := $(wildcard tests/test_*.c)
SHADERS := $(wildcard shaders/*.comp)

BIN := build/mattn-ref build/mattn-gles build/mattn-diff
TESTS := $(patsubst tests/%.c,build/tests/%,$(SRC_TESTS))

all: $(BIN)
.PHONY: all test check fuzz fuzz-smoke deps format format-check clean demo

# ---------------------------------------------------------------------------------------
# objects: build/<variant>/<path>.o, one variant per flag set

define objs
$(patsubst %.c,build/$(1)/%.o,$(2))
endef

# ---------------------------------------------------------------------------------------
# shaders: each shaders/<op>.comp (and common.glsl) becomes build/gen/shaders/<op>.comp.h with
# xxd -i; kernels.h holds enum Kernel { K_<OP>, ... } and registry.inc the {name, data, len}
# table that gles/programs.c includes. GL_SHADER_DIR=shaders loads the files at run time instead.

GEN := build/gen/shaders
SHADER_NAMES := $(sort $(basename $(notdir $(SHADERS))))
SHADER_HDRS := $(patsubst %,$(GEN)/%.comp.h,$(SHADER_NAMES)) $(GEN)/common.glsl.h
GEN_HDRS := $(SHADER_HDRS) $(GEN)/kernels.h $(GEN)/registry.inc

$(GEN)/%.comp.h: shaders/%.comp
	@mkdir -p $(GEN)
	(cd shaders && xxd -i $*.comp) > $@.tmp && mv $@.tmp $@

$(GEN)/common.glsl.h: shaders/common.glsl
	@mkdir -p $(GEN)
	(cd shaders && xxd -i common.glsl) > $@.tmp && mv $@.tmp $@

$(GEN)/kernels.h: $(SHADERS) Makefile
	@mkdir -p $(GEN)
	{ echo '// generated from shaders/*.comp by the Makefile'; echo '#pragma once'; \
	  echo 'enum Kernel {'; \
	  for n in $(SHADER_NAMES); do echo "    K_$$(echo $$n | tr a-z A-Z),"; done; \
	  echo '    K_COUNT,'; echo '};'; } > $@.tmp && mv $@.tmp $@

# writes: bit b is set when the kernel declares SSBO binding b (a number) without `readonly`,
# in any variant (matvec.comp's binding 5 is a readonly residual or a writeonly cache);
# gl_dispatch() elides barriers by it. The weights (common.glsl, W_BINDING) are readonly.
WRITES_AWK := 'match($$0, /binding *= *[0-9]+\)/) && $$0 ~ /buffer/ && $$0 !~ /readonly/ { \
  b = substr($$0, RSTART, RLENGTH); gsub(/[^0-9]/, "", b); w[b] = 1 } \
  END { m = 0; for (b in w) m += 2 ^ b; printf "0x%03xu", m }'
$(GEN)/registry.inc: $(SHADERS) Makefile
	@mkdir -p $(GEN)
	{ echo '// generated from shaders/*.comp by the Makefile; included by gles/programs.c only'; \
	  echo '#include "shaders/common.glsl.h"'; \
	  for n in $(SHADER_NAMES); do echo "#include \"shaders/$$n.comp.h\""; done; \
	  echo '#define COMMON_SRC common_glsl'; echo '#define COMMON_LEN common_glsl_len'; \
	  echo 'static const struct {'; echo '    const char* name;'; \
	  echo '    const unsigned char* data;'; echo '    unsigned len;'; \
	  echo '    unsigned writes; // bit b: SSBO binding b is not readonly'; \
	  echo '} KERNELS[K_COUNT] = {'; \
	  for n in $(SHADER_NAMES); do \
	    w=$$(awk $(WRITES_AWK) shaders/$$n.comp) || exit 1; \
	    echo "    {\"$$n\", $${n}_comp, sizeof($${n}_comp), $$w},"; done; \
	  echo '};'; } > $@.tmp && mv $@.tmp $@

build/rel/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(OPT) $(DIR_CFLAGS) $(EXTRA_CFLAGS) -Ibuild/gen -c $< -o $@

build/asan/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	  -fno-sanitize-recover=all $(DIR_CFLAGS) -Ibuild/gen -c $< -o $@

LIB_SRC := $(SRC_SHARED) $(SRC_REF) $(SRC_GLES) $(SRC_TOOLS) $(SRC_APP) $(SRC_APP_GL)
LIB_OBJS_rel := $(call objs,rel,$(LIB_SRC))
LIB_OBJS_asan := $(call objs,asan,$(LIB_SRC))
ALL_LIBS := $(LIBS) $(GL_LIBS)

build/mattn-ref: $(call objs,rel,app/mattn_ref.c $(SRC_APP) $(SRC_TOOLS) $(SRC_SHARED) $(SRC_REF))
	$(CC) -o $@ $^ $(LIBS)

build/mattn-gles: $(call objs,rel,app/mattn_gles.c $(SRC_APP_COMMON) $(SRC_APP_GL) $(SRC_SHARED) $(SRC_GLES))
	$(CC) -o $@ $^ $(LIBS) $(GL_LIBS)

build/mattn-diff: $(call objs,rel,app/mattn_diff.c $(SRC_APP_COMMON) $(SRC_APP_GL) $(SRC_SHARED) $(SRC_REF) $(SRC_GLES))
	$(CC) -o $@ $^ $(ALL_LIBS)

# ---------------------------------------------------------------------------------------
# tests: one cmocka binary per tests/test_<module>.c, linked with everything but the mains

build/tests/%: $(call objs,rel,tests/%.c tests/check.c) $(LIB_OBJS_rel)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(ALL_LIBS) -lcmocka

build/asan/tests/%: $(call objs,asan,tests/%.c tests/check.c) $(LIB_OBJS_asan)
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=address,undefined -o $@ $^ $(ALL_LIBS) -lcmocka

# Runs every suite (each prints cmocka's summary), then the command-line checks.
test: $(TESTS) $(BIN)
	@fail=0; for t in $(TESTS); do \
	  echo "== $$t"; MATTN_SHARED=$(SHARED) $$t || fail=1; done; \
	  echo "== tests/cli.sh"; SHARED=$(SHARED) sh tests/cli.sh || fail=1; \
	  exit $$fail

# Suites whose run under valgrind stays short (valgrind is ~50x slower).
VALGRIND_TESTS ?= test_gguf test_gguf_corrupt test_quant test_sampler test_tokenizer test_ref_forward
ASAN_TESTS := $(patsubst tests/%.c,build/asan/tests/%,$(SRC_TESTS))
# LeakSanitizer: tests/lsan.supp names the GL driver's libraries, and tests/asan_run.sh fails
# a run on any leak allocated from mattn's own code (a driver-internal one, e.g. from llvmpipe's
# JIT, is listed and ignored); lsan_canary leaks in mattn code and must fail under both.
LSAN_ENV := ASAN_OPTIONS=detect_leaks=1:exitcode=23 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
check: $(ASAN_TESTS) build/asan/tests/lsan_canary $(addprefix build/tests/,$(VALGRIND_TESTS))
	@fail=0; echo "== asan lsan_canary (must report a leak)"; \
	  if $(LSAN_ENV) sh tests/asan_run.sh build/asan/tests/lsan_canary \
	    fuzz/corpus/pipeline/llama-1L-f32.gguf >build/asan/lsan_canary.log 2>&1 || \
	    ! grep -q "LeakSanitizer: detected memory leaks" build/asan/lsan_canary.log; then \
	    echo "FAIL: LeakSanitizer missed the canary's leak"; fail=1; \
	  else echo "ok: the canary's leak is reported and fails the run"; fi; \
	for t in $(ASAN_TESTS); do echo "== asan $$t"; \
	  $(LSAN_ENV) UBSAN_OPTIONS=print_stacktrace=1 \
	  MATTN_SHARED=$(SHARED) sh tests/asan_run.sh $$t || fail=1; done; \
	for t in $(VALGRIND_TESTS); do [ -f tests/$$t.c ] || continue; echo "== valgrind $$t"; \
	  MATTN_SHARED=$(SHARED) MATTN_QUICK=1 valgrind -q --error-exitcode=9 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect --suppressions=tests/valgrind.supp \
	  build/tests/$$t || fail=1; done; exit $$fail

# ---------------------------------------------------------------------------------------
# fuzzing: clang + libFuzzer (the same sources build for AFL++ with -DAFL_MAIN)

FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=c11 -g -O1 -D_DEFAULT_SOURCE -DFUZZING -Ishared \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

# Every target links shared/, ref/ and tools/ (fuzz_pipeline runs a tiny FP64 forward pass).
FUZZ_LINK := $(SRC_SHARED) $(SRC_REF) $(SRC_TOOLS)
build/fuzz/%: fuzz/%.c $(FUZZ_LINK) $(wildcard shared/*.h shared/families/*.h ref/*.h tools/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Iref -Itools -o $@ $< $(FUZZ_LINK) $(LIBS)

# Replays the committed regression corpus, then fuzzes each target for FUZZ_SECONDS
# starting from a seed corpus made from ../shared files and the test fixtures.
fuzz: $(FUZZ_BIN)
	@SHARED=$(SHARED) FUZZ_SECONDS=$(FUZZ_SECONDS) sh fuzz/run.sh $(FUZZ_BIN)

# ---------------------------------------------------------------------------------------
# housekeeping

# A story from the real 260K-parameter TinyStories model (the README's first command).
demo: build/mattn-ref
	build/mattn-ref info -m $(SHARED)/models/stories260K.gguf
	@if build/mattn-ref run --help >/dev/null 2>&1; then \
	  build/mattn-ref run -m $(SHARED)/models/stories260K.gguf -p "Once upon a time" -n 200 --seed 42; fi

DEPS_PKGS := gcc make clang libclang-rt-14-dev pkg-config xxd valgrind libegl-dev libgles-dev \
  libgbm-dev libegl-mesa0 libgl1-mesa-dri libcmocka-dev libcjson-dev libpcre2-dev clang-format
deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEPS_PKGS)

# Every C file is kept as .clang-format writes it: `make format` rewrites, `make format-check`
# (run by .ci/run) fails on any difference.
FORMAT_SRC := $(sort $(shell find shared ref gles app tools tests fuzz -name '*.[ch]' 2>/dev/null))
format:
	clang-format -i $(FORMAT_SRC)

format-check:
	@clang-format --dry-run -Werror $(FORMAT_SRC) && echo "format-check: $(words $(FORMAT_SRC)) files as clang-format writes them"

clean:
	rm -rf build

# generated headers are kept between builds
.SECONDARY:

-include $(shell find build -name '*.d' 2>/dev/null)
