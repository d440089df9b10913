# Tiny purpose-built test guests (freestanding asm/C). Included by the top
# Makefile; each tests/guest/NAME.S becomes $(BUILD)/guest/NAME.elf.
GUEST_SRCS := $(wildcard tests/guest/*.S)
GUEST_ELFS := $(GUEST_SRCS:tests/guest/%.S=$(BUILD)/guest/%.elf)

guests: $(GUEST_ELFS)

$(BUILD)/guest/%.elf: tests/guest/%.S tests/guest/guest.ld
	@mkdir -p $(@D)
	$(CC) -nostdlib -static -ffreestanding -fno-pic -no-pie -Wl,--build-id=none \
	    -Wl,-T,tests/guest/guest.ld -Itests/guest -o $@ $<
