# Otus build. One GNU Makefile; every output goes under $(BUILD).
#
#   make            the agent, libotus (.so with SONAME, .a, otus.pc), unit tests
#   make run        dependency step, build, run the agent on its embedded config
#   make test       dependency step, build, unit + integration tests, one summary line
#   make asan       the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan       libotus's threaded tests under ThreadSanitizer
#   make bench      benchmarks (results in build/bench/)
#   make fuzz       libFuzzer targets for every parser (FUZZ_SECONDS each)
#   make install    PREFIX=/usr/local DESTDIR=
#   make format / make lint / make clean

VERSION    := 0.1.0
SOVERSION  := 0
BUILD      ?= build
PREFIX     ?= /usr/local
DESTDIR    ?=
CC         ?= cc
PYTHON     ?= /usr/bin/python3
SANITIZE   ?=
FUZZ_SECONDS ?= 20

# Dependencies come from pkg-config, read when a recipe first needs them (after the
# dependency step of make run / make test has installed them).
PKGS       := libuv libcurl libprotobuf-c zlib libdeflate yaml-0.1 jansson
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS    = $(shell pkg-config --libs $(PKGS)) -lhttp_parser -lpthread -lm
# The agent loads libcurl when it first sends over HTTP (agent/curl_load.c), so it does
# not link it: its headers only.
AGENT_LIBS  = $(shell pkg-config --libs $(filter-out libcurl,$(PKGS))) -lhttp_parser \
              -lpthread -lm -ldl

OPT        ?= -O2 -g
WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wpointer-arith -Wformat=2 -Wno-format-nonliteral \
              -Wno-missing-field-initializers
CSTD       := -std=c11 -D_GNU_SOURCE
INCLUDES   := -I. -Iinstrument-lib/include -I$(BUILD)/gen
SANFLAGS   := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all)
BASE_CFLAGS = $(CSTD) $(OPT) $(WARN) $(SANFLAGS) $(INCLUDES) $(PKG_CFLAGS) -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(EXTRA_LDFLAGS)

# ---- sources --------------------------------------------------------------------------
PROTO_DIR   := proto
PROTOS      := $(sort $(shell find $(PROTO_DIR) -name '*.proto'))
PROTO_C     := $(patsubst $(PROTO_DIR)/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H     := $(PROTO_C:.c=.h)
PY_PROTOS   := $(filter-out $(PROTO_DIR)/google/protobuf/%,$(PROTOS))
PY_STAMP    := $(BUILD)/py/.stamp

COMMON_SRC  := $(sort $(wildcard common/*.c))
AGENT_SRC   := $(sort $(wildcard agent/*.c) $(wildcard exporters/*.c) $(wildcard exporters/*/*.c))
AGENT_MAIN  := agent/main.c
LIB_SRC     := $(sort $(wildcard instrument-lib/src/*.c))
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC   := $(sort $(wildcard bench/*.c))
EXAMPLE_SRC := $(sort $(wildcard examples/*.c))

# Agent side: plain objects. Library side: PIC objects, symbols hidden unless OTUS_API.
obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
pic = $(patsubst %.c,$(BUILD)/pic/%.o,$(1))
PROTO_OBJ      := $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(PROTO_C))
PROTO_PIC      := $(patsubst $(BUILD)/gen/%.c,$(BUILD)/pic/gen/%.o,$(PROTO_C))
COMMON_OBJ     := $(call obj,$(COMMON_SRC))
AGENT_OBJ      := $(call obj,$(filter-out $(AGENT_MAIN),$(AGENT_SRC)))
AGENT_MAIN_OBJ := $(call obj,$(AGENT_MAIN))
LIB_PIC        := $(call pic,$(LIB_SRC) $(COMMON_SRC)) $(PROTO_PIC)

AGENT_BIN   := $(BUILD)/bin/otus-agent
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/bin/%,$(EXAMPLE_SRC))
LIB_SO_REAL := $(BUILD)/lib/libotus.so.$(VERSION)
LIB_SO_NAME := $(BUILD)/lib/libotus.so.$(SOVERSION)
LIB_SO      := $(BUILD)/lib/libotus.so
LIB_A       := $(BUILD)/lib/libotus.a
LIB_PC      := $(BUILD)/lib/pkgconfig/otus.pc
AGENT_CORE_A := $(BUILD)/lib/libotus-agent-core.a

# Unit tests named test_lib_* exercise libotus and link its static archive; the rest
# link the agent's objects (everything but main).
UNIT_LIB_SRC   := $(filter tests/unit/test_lib_%,$(UNIT_SRC))
UNIT_AGENT_SRC := $(filter-out $(UNIT_LIB_SRC),$(UNIT_SRC))
UNIT_BINS      := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: docs all deps run test unit integration asan tsan bench fuzz demo install uninstall \
        clean format lint check-tools
.DEFAULT_GOAL := all

all: $(AGENT_BIN) $(LIB_SO) $(LIB_A) $(LIB_PC) $(UNIT_BINS) $(PY_STAMP) $(EXAMPLE_BINS)

deps:
	@scripts/deps.sh

# make run / make test: the dependency step first, then a fresh make that can read
# pkg-config now that the packages are there.
run: deps
	@$(MAKE) --no-print-directory $(AGENT_BIN)
	exec $(AGENT_BIN)

test: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) PYTHON=$(PYTHON) scripts/run-tests.sh

unit: all
	@BUILD=$(BUILD) PYTHON=$(PYTHON) scripts/run-tests.sh --unit $(T)

integration: all
	@BUILD=$(BUILD) PYTHON=$(PYTHON) scripts/run-tests.sh --integration $(T)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined OPT="-O1 -g" all
	@BUILD=build/asan PYTHON=$(PYTHON) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 scripts/run-tests.sh

tsan: deps
	@$(MAKE) --no-print-directory BUILD=build/tsan SANITIZE=thread OPT="-O1 -g" all
	@BUILD=build/tsan PYTHON=$(PYTHON) TSAN_OPTIONS=halt_on_error=1 \
	  scripts/run-tests.sh --unit test_lib_

# Generated sources are kept (not intermediate files make would delete).
.SECONDARY:

# Quiet by default: "CC file"; make V=1 prints every command.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

# ---- generated protobuf code -----------------------------------------------------------
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: $(PROTO_DIR)/%.proto
	@mkdir -p $(BUILD)/gen
	$(call say,PROTOC,$<)
	$(Q)protoc-c --c_out=$(BUILD)/gen -I$(PROTO_DIR) $<

# Python modules for the integration tests and stand-ins (protoc's own generator).
$(PY_STAMP): $(PY_PROTOS)
	@mkdir -p $(BUILD)/py
	$(call say,PROTOPY,$(BUILD)/py)
	$(Q)protoc --python_out=$(BUILD)/py -I$(PROTO_DIR) $(PY_PROTOS)
	@touch $@

# ---- compilation -------------------------------------------------------------------------
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(BASE_CFLAGS) -Wno-unused-parameter -Wno-missing-prototypes -c $< -o $@

$(BUILD)/pic/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(BASE_CFLAGS) -Wno-unused-parameter -Wno-missing-prototypes -fPIC -fvisibility=hidden -c $< -o $@

# Every C object may include any generated header, so they all come first.
$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(BASE_CFLAGS) -c $< -o $@

$(BUILD)/pic/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(BASE_CFLAGS) -fPIC -fvisibility=hidden -DOTUS_BUILDING_LIB -c $< -o $@

# ---- agent -------------------------------------------------------------------------------
$(AGENT_CORE_A): $(AGENT_OBJ) $(COMMON_OBJ) $(PROTO_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

$(AGENT_BIN): $(AGENT_MAIN_OBJ) $(AGENT_CORE_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(AGENT_MAIN_OBJ) $(AGENT_CORE_A) $(AGENT_LIBS)

# ---- libotus -----------------------------------------------------------------------------
$(LIB_SO_REAL): $(LIB_PIC)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -shared -Wl,-soname,libotus.so.$(SOVERSION) -Wl,--no-undefined \
	  -o $@ $(LIB_PIC) $(shell pkg-config --libs libcurl libprotobuf-c zlib libdeflate) -lpthread -lm

$(LIB_SO_NAME): $(LIB_SO_REAL)
	$(Q)ln -sf $(notdir $<) $@

$(LIB_SO): $(LIB_SO_NAME)
	$(Q)ln -sf $(notdir $<) $@

$(LIB_A): $(LIB_PIC)
	@mkdir -p $(@D)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

$(LIB_PC): instrument-lib/otus.pc.in Makefile
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

# ---- unit tests ----------------------------------------------------------------------------
$(BUILD)/tests/test_lib_%: $(BUILD)/obj/tests/unit/test_lib_%.o $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIB_A) $(PKG_LIBS) -lcmocka $(LIB_TEST_LDFLAGS_$*)

# test_lib_alloc counts the heap allocations libotus makes: its malloc family is
# wrapped at link time (only calls from the objects linked here, libotus's included).
LIB_TEST_LDFLAGS_alloc := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(AGENT_CORE_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(AGENT_CORE_A) $(AGENT_LIBS) -lcmocka

# ---- examples: programs that link libotus.so as a service does ---------------------------
$(BUILD)/bin/%: $(BUILD)/obj/examples/%.o $(LIB_SO)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< -L$(BUILD)/lib -lotus -Wl,-rpath,'$$ORIGIN/../lib'

# ---- benchmarks ----------------------------------------------------------------------------
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(AGENT_CORE_A) $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(if $(findstring bench_lib,$*),$(LIB_A) $(PKG_LIBS),$(AGENT_CORE_A) $(AGENT_LIBS))

bench: deps
	@scripts/deps.sh --bench
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@BUILD=$(BUILD) PYTHON=$(PYTHON) scripts/bench.sh

# ---- fuzzing (clang + libFuzzer, its own build tree) -------------------------------------
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

fuzz: deps
	@scripts/deps.sh --fuzz
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPT="-O1 -g" \
	  SANITIZE=address,undefined EXTRA_CFLAGS=-fsanitize=fuzzer-no-link fuzz-run

FUZZ_BINS = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(AGENT_CORE_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $< $(AGENT_CORE_A) $(AGENT_LIBS)

.PHONY: fuzz-run
fuzz-run: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do \
	  name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name#fuzz_}; \
	  mkdir -p $(BUILD)/fuzz/work/$$name; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/work/$$name $$corpus; \
	done

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

# ---- install -------------------------------------------------------------------------------
install: $(AGENT_BIN) $(LIB_SO) $(LIB_A) $(LIB_PC)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(AGENT_BIN) $(DESTDIR)$(PREFIX)/bin/otus-agent
	install -m 755 $(LIB_SO_REAL) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libotus.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libotus.so.$(SOVERSION)
	ln -sf libotus.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libotus.so
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' instrument-lib/otus.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/otus.pc
	install -m 644 instrument-lib/include/otus.h $(DESTDIR)$(PREFIX)/include/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/otus-agent $(DESTDIR)$(PREFIX)/lib/libotus.* \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/otus.pc $(DESTDIR)$(PREFIX)/include/otus.h

# ---- housekeeping
docs: $(AGENT_BIN)
	BUILD=$(BUILD) scripts/gen-config-doc.sh

C_FILES = $(shell git ls-files '*.c' '*.h')

format:
	clang-format -i $(C_FILES)

lint:
	clang-format --dry-run --Werror $(C_FILES)
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
	  --suppress=missingIncludeSystem --inline-suppr -I. -Iinstrument-lib/include \
	  -I$(BUILD)/gen $(filter %.c,$(C_FILES))

clean:
	rm -rf $(BUILD) build

-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' 2>/dev/null)
