/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pieces boot_load() is made of, exposed so that unit tests and the
 * fuzzer can drive them without files: pure parsers for bzImage and ELF64
 * over a byte buffer (they accept any input of any length and either fill
 * their result or explain the problem), initrd placement, and loading an
 * image that is already in memory into guest RAM.
 */
#ifndef CASULO_BOOT_LOADER_H
#define CASULO_BOOT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "util/compiler.h"

struct guest_mem;

#define BOOT_MIN_PROTOCOL      0x0206  /* cmdline_size appeared in 2.06 */
#define BOOT_XLF_PROTOCOL      0x020c  /* xloadflags appeared in 2.12 */
#define BOOT_RSDP_PROTOCOL     0x020e  /* acpi_rsdp_addr appeared in 2.14 */
#define BOOT_DEFAULT_INITRD_MAX 0x7fffffffULL
#define BOOT_ELF_MAX_PHNUM     64
/* The 64-bit entry point sits 0x200 past the start of the protected-mode code. */
#define BOOT_BZ_ENTRY64_OFFSET 0x200

/* What boot_bzimage_parse found in a bzImage. */
struct boot_bzimage {
    uint16_t version;           /* boot protocol, e.g. 0x020f */
    unsigned setup_sects;       /* after the 0-means-4 rule */
    uint64_t setup_len;         /* (setup_sects + 1) * 512: file offset of the kernel */
    uint64_t pm_len;            /* bytes from setup_len to the end of the file */
    uint64_t syssize_bytes;     /* syssize * 16 */
    uint8_t loadflags;
    uint16_t xloadflags;
    uint64_t initrd_addr_max;   /* last byte an initrd may occupy */
    uint32_t cmdline_size;      /* longest command line, NUL excluded */
    uint32_t kernel_alignment;
    bool relocatable;
    uint64_t pref_address;
    uint32_t init_size;
};

/* Format guess from the magic numbers only. */
enum boot_format boot_detect_format(const uint8_t *buf, size_t len);

/* 0, or -ENOEXEC / -EINVAL with the reason (no file name) in err. */
int boot_bzimage_parse(const uint8_t *buf, size_t len, struct boot_bzimage *bz,
                       char *err, size_t errlen) MUST_CHECK;

/*
 * Where a loaded bzImage ends, counting the room its decompressor needs
 * (init_size from the runtime start address) when it loads at load_gpa.
 * -ERANGE when the header's numbers overflow.
 */
int boot_bzimage_end(const struct boot_bzimage *bz, uint64_t load_gpa, uint64_t *end) MUST_CHECK;

struct boot_elf_segment {
    uint64_t offset;   /* in the file */
    uint64_t paddr;    /* guest-physical load address */
    uint64_t filesz;
    uint64_t memsz;    /* >= filesz; the rest is zeroed */
};

struct boot_elf {
    uint64_t entry;
    unsigned nr_segments;
    struct boot_elf_segment segments[BOOT_ELF_MAX_PHNUM];
    uint64_t low;      /* lowest paddr of any segment */
    uint64_t high;     /* highest paddr + memsz (exclusive) */
    bool linux_note;   /* a PT_NOTE segment holds a "Linux" note: a vmlinux */
};

/* Structural checks only; placement in guest RAM is boot_elf_check_placement(). */
int boot_elf_parse(const uint8_t *buf, size_t len, struct boot_elf *elf,
                   char *err, size_t errlen) MUST_CHECK;

/* Every segment inside guest RAM, at or above 1 MiB. -ERANGE otherwise. */
int boot_elf_check_placement(const struct boot_elf *elf, const struct guest_mem *gm,
                             char *err, size_t errlen) MUST_CHECK;

/*
 * Highest page-aligned address for an initrd of `size` bytes whose last byte
 * is <= addr_max and below low_end, starting at or above kernel_end.
 * -ENOSPC when there is no such address.
 */
int boot_initrd_place(uint64_t size, uint64_t kernel_end, uint64_t low_end, uint64_t addr_max,
                      uint64_t *gpa) MUST_CHECK;

struct boot_image {
    const uint8_t *kernel;      /* the whole kernel file */
    size_t kernel_len;
    const char *kernel_name;    /* for messages */
    const char *initrd_name;    /* NULL: no initrd */
    uint64_t initrd_size;
    const char *cmdline;
    uint64_t acpi_rsdp_gpa;
};

/*
 * boot_load() without the files: copies the kernel into gm, reserves the
 * initrd's place (out->initrd_gpa; the caller copies its bytes there), and
 * writes the command line and the zero page.
 */
int boot_load_image(struct guest_mem *gm, const struct boot_image *img, struct boot_info *out,
                    char *err, size_t errlen) MUST_CHECK;

#endif
