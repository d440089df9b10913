# libFuzzer targets (clang). Each tests/fuzz/fuzz_NAME.c links against the
# project sources built with clang + ASan/UBSan + fuzzer instrumentation.
FUZZ_BUILD := build-fuzz
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_FLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -D_GNU_SOURCE -pthread
FUZZ_TIME  ?= 20

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(@D)
	$(call say,FUZZ,$@)
	$(Q)clang $(FUZZ_FLAGS) -o $@ $< $(LIB_SRCS) -luring

fuzz: $(FUZZ_BINS)
	@scripts/run-fuzz.sh $(FUZZ_TIME) $(FUZZ_BINS)
