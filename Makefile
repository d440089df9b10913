# SPDX-License-Identifier: Apache-2.0
# casulo build. `make` builds the VMM, `make check` runs every test tier,
# `make run` boots the default guest. Sources are found by wildcard so a new
# module needs no Makefile edit; header dependencies come from -MMD.

BUILD     ?= build
CC        ?= cc
CFLAGS    ?= -O2 -g
SAN       ?=
CPPFLAGS  += -Iinclude -D_GNU_SOURCE
WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
             -Wmissing-prototypes -Wstrict-prototypes -Wformat=2
BASEFLAGS := -std=gnu11 -fno-strict-aliasing -pthread $(WARN)
ifeq ($(SAN),1)
BASEFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN     := -fsanitize=address,undefined
endif
LDLIBS    += -pthread -luring -lseccomp -ljansson -lzstd -ldl

# `make V=1` shows full command lines.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif

SRCS      := $(shell find src -name '*.c' | LC_ALL=C sort)
MAIN_SRC  := src/cli/main.c
LIB_SRCS  := $(filter-out $(MAIN_SRC),$(SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
# The dashboard of `casulo serve`, generated from web/ (scripts/build-web.sh).
WEB_GEN   := $(BUILD)/gen/web_assets.c
WEB_OBJ   := $(BUILD)/gen/web_assets.o
LIB_OBJS  += $(WEB_OBJ)
MAIN_OBJ  := $(MAIN_SRC:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libcasulo.a
BIN       := $(BUILD)/casulo

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS := $(UNIT_HELPERS:%.c=$(BUILD)/%.o)

.PHONY: all casulo check unit unit-asan kvm-tests manager-tests cli-tests browser-tests lint integration fuzz \
        guests run bench clean distclean
.DEFAULT_GOAL := all

all: $(BIN) guests

casulo: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(BASEFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(WEB_GEN): scripts/build-web.sh $(wildcard web/*.html web/*.js web/*.css) web/package-lock.json
	$(call say,GEN,$@)
	$(Q)scripts/build-web.sh $(BUILD)

$(WEB_OBJ): $(WEB_GEN) include/manager/web_assets.h
	$(call say,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(BASEFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(BASEFLAGS) $(CFLAGS) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(UNIT_HELPER_OBJS) $(LIB)
	$(call say,LD,$@)
	$(Q)$(CC) $(BASEFLAGS) $(CFLAGS) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

include tests/guest/guest.mk
include tests/fuzz/fuzz.mk

UNIT_TIER ?= unit
unit: $(UNIT_BINS)
	@scripts/run-tests.sh $(UNIT_TIER) $(UNIT_BINS)

# The unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
unit-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 CFLAGS="-O1 -g" UNIT_TIER=unit-asan unit

# Test scripts are every *.sh of a tier's folder except its shared lib.sh.
tier_scripts = $(sort $(filter-out %/lib.sh,$(wildcard tests/$(1)/*.sh)))

kvm-tests: $(BIN) guests
	@scripts/run-tests.sh kvm $(call tier_scripts,kvm)

# casulo serve and casulo vm, with tiny guests on /dev/kvm.
manager-tests: $(BIN) guests
	@scripts/run-tests.sh manager $(call tier_scripts,manager)

cli-tests: $(BIN) guests
	@scripts/run-tests.sh cli $(call tier_scripts,cli)

# The dashboard in headless chromium against a real casulo serve.
browser-tests: $(BIN) guests
	@scripts/run-tests.sh browser $(call tier_scripts,browser)

# The OpenAPI spec: redocly lint + cross-checks against the route table.
lint:
	@scripts/run-tests.sh lint scripts/lint-openapi.sh

integration: $(BIN)
	@scripts/run-tests.sh integration $(call tier_scripts,integration)

check: all
	@scripts/check.sh

run: $(BIN)
	scripts/make-run.sh

bench: $(BIN) guests
	bench/startup.sh
	bench/migration.sh

clean:
	rm -rf build build-asan build-fuzz

distclean: clean
	rm -rf out

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
