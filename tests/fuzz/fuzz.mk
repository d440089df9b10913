# libFuzzer targets (clang). The project's sources are compiled once with
# ASan/UBSan and fuzzer coverage instrumentation into build-fuzz/libcasulo.a;
# each tests/fuzz/fuzz_NAME.c links against it, so only what a target uses
# is linked in.
FUZZ_BUILD := build-fuzz
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
               -Iinclude -D_GNU_SOURCE -pthread
FUZZ_OBJS  := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_LIB   := $(FUZZ_BUILD)/libcasulo.a
FUZZ_TIME  ?= 20

$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(call say,CC-FUZZ,$<)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(@D)
	$(call say,FUZZ,$@)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) -luring -lseccomp -ljansson -lzstd -ldl

fuzz: $(FUZZ_BINS)
	@scripts/run-fuzz.sh $(FUZZ_TIME) $(FUZZ_BINS)

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
