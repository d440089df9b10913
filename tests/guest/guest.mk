# SPDX-License-Identifier: Apache-2.0
# Tiny purpose-built test guests (freestanding asm). Included by the top
# Makefile. Each tests/guest/NAME.S becomes $(BUILD)/guest/NAME.elf, linked
# at 1 MiB by guest.ld; each tests/guest/bz_NAME.S is a bzImage instead:
# assembled without a link step and flattened into $(BUILD)/guest/bz_NAME.bzImage.
GUEST_BZ_SRCS := $(wildcard tests/guest/bz_*.S)
GUEST_SRCS    := $(filter-out $(GUEST_BZ_SRCS),$(wildcard tests/guest/*.S))
GUEST_ELFS    := $(GUEST_SRCS:tests/guest/%.S=$(BUILD)/guest/%.elf)
GUEST_BZIMAGES := $(GUEST_BZ_SRCS:tests/guest/%.S=$(BUILD)/guest/%.bzImage)
GUEST_HDRS    := $(wildcard tests/guest/*.h)

guests: $(GUEST_ELFS) $(GUEST_BZIMAGES)

$(BUILD)/guest/%.elf: tests/guest/%.S tests/guest/guest.ld $(GUEST_HDRS)
	@mkdir -p $(@D)
	$(CC) -nostdlib -static -ffreestanding -fno-pic -no-pie -Wl,--build-id=none \
	    -Wl,-T,tests/guest/guest.ld -Itests/guest -o $@ $<

# A relocation left in the object would mean a non-PIC reference that the
# flat image cannot honour, so refuse it rather than ship a broken image.
$(BUILD)/guest/%.bzImage: tests/guest/%.S $(GUEST_HDRS)
	@mkdir -p $(@D)
	$(CC) -c -ffreestanding -Itests/guest -o $@.o $<
	@if [ -n "$$(readelf -rW $@.o | grep -i 'R_X86')" ]; then \
	    echo "$<: relocations left, use RIP-relative references" >&2; exit 1; fi
	objcopy -O binary -j .text $@.o $@
	@rm -f $@.o
