// SPDX-License-Identifier: Apache-2.0
/*
 * ELF64 kernel parsing: vmlinux and the freestanding test guests. Segments
 * load at their physical address (p_paddr) and the entry point (e_entry) is
 * physical too, as for vmlinux entered at startup_64. The header and every
 * program header are untrusted: offsets, sizes and addresses are checked so
 * that no sum overflows and nothing points outside the file.
 */
#include "boot/loader.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/guest_mem.h"
#include "util/error.h"

static int elf_check_ident(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
        return error_set(err, errlen, -ENOEXEC, "not an ELF file");
    if (buf[EI_CLASS] == ELFCLASS32)
        return error_set(err, errlen, -ENOEXEC, "32-bit ELF, need ELF64");
    if (buf[EI_CLASS] != ELFCLASS64)
        return error_set(err, errlen, -ENOEXEC, "unknown ELF class %u", buf[EI_CLASS]);
    if (buf[EI_DATA] != ELFDATA2LSB)
        return error_set(err, errlen, -ENOEXEC, "not a little-endian ELF");
    if (buf[EI_VERSION] != EV_CURRENT)
        return error_set(err, errlen, -ENOEXEC, "unknown ELF version %u", buf[EI_VERSION]);
    if (len < sizeof(Elf64_Ehdr))
        return error_set(err, errlen, -ENOEXEC, "truncated: file ends inside the ELF header");
    return 0;
}

/*
 * Whether a PT_NOTE segment holds a note owned by `owner` (vmlinux carries
 * "Linux" and "Xen" notes). Every size comes from the file, so each step is
 * checked against the segment and the file before it is used.
 */
static bool elf_notes_name(const uint8_t *buf, size_t len, const Elf64_Phdr *ph, const char *owner)
{
    if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
        return false;
    const uint8_t *p = buf + ph->p_offset;
    uint64_t left = ph->p_filesz;
    size_t owner_len = strlen(owner) + 1;
    while (left >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, p, sizeof(nh));
        uint64_t name_sz = ALIGN_UP((uint64_t)nh.n_namesz, 4);
        uint64_t desc_sz = ALIGN_UP((uint64_t)nh.n_descsz, 4);
        uint64_t total = sizeof(nh) + name_sz + desc_sz;
        if (total > left)
            return false;
        if (nh.n_namesz == owner_len && memcmp(p + sizeof(nh), owner, owner_len) == 0)
            return true;
        p += total;
        left -= total;
    }
    return false;
}

static int elf_add_segment(struct boot_elf *elf, const Elf64_Phdr *ph, unsigned idx, size_t len,
                           char *err, size_t errlen)
{
    if (ph->p_filesz > ph->p_memsz)
        return error_set(err, errlen, -ENOEXEC, "segment %u: p_filesz 0x%llx > p_memsz 0x%llx", idx,
                        (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
    if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
        return error_set(err, errlen, -ENOEXEC,
                        "truncated: segment %u (offset 0x%llx, 0x%llx bytes) runs past the end of the file",
                        idx, (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz);
    if (ph->p_paddr > UINT64_MAX - ph->p_memsz)
        return error_set(err, errlen, -ENOEXEC, "segment %u: p_paddr 0x%llx + p_memsz overflows", idx,
                        (unsigned long long)ph->p_paddr);
    if (ph->p_memsz == 0)
        return 0;   /* occupies nothing; nothing to load */

    uint64_t start = ph->p_paddr, end = ph->p_paddr + ph->p_memsz;
    for (unsigned i = 0; i < elf->nr_segments; i++) {
        const struct boot_elf_segment *s = &elf->segments[i];
        if (start < s->paddr + s->memsz && s->paddr < end)
            return error_set(err, errlen, -ENOEXEC,
                            "segment %u [0x%llx, 0x%llx) overlaps another loadable segment", idx,
                            (unsigned long long)start, (unsigned long long)end);
    }
    elf->segments[elf->nr_segments++] = (struct boot_elf_segment){
        .offset = ph->p_offset, .paddr = start, .filesz = ph->p_filesz, .memsz = ph->p_memsz };
    if (elf->nr_segments == 1 || start < elf->low)
        elf->low = start;
    elf->high = MAX(elf->high, end);
    return 0;
}

int boot_elf_parse(const uint8_t *buf, size_t len, struct boot_elf *elf, char *err, size_t errlen)
{
    memset(elf, 0, sizeof(*elf));
    int rc = elf_check_ident(buf, len, err, errlen);
    if (rc)
        return rc;

    Elf64_Ehdr eh;
    memcpy(&eh, buf, sizeof(eh));
    if (eh.e_machine != EM_X86_64)
        return error_set(err, errlen, -ENOEXEC, "ELF machine %u is not x86-64", eh.e_machine);
    if (eh.e_type != ET_EXEC)
        return error_set(err, errlen, -ENOEXEC, "ELF type %u is not an executable (ET_EXEC)", eh.e_type);
    if (eh.e_phentsize != sizeof(Elf64_Phdr))
        return error_set(err, errlen, -ENOEXEC, "e_phentsize %u, expected %zu", eh.e_phentsize,
                        sizeof(Elf64_Phdr));
    if (eh.e_phnum == 0)
        return error_set(err, errlen, -ENOEXEC, "no program headers");
    if (eh.e_phnum > BOOT_ELF_MAX_PHNUM)
        return error_set(err, errlen, -ENOEXEC, "%u program headers, at most %u supported",
                        eh.e_phnum, BOOT_ELF_MAX_PHNUM);
    uint64_t ph_bytes = (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
    if (eh.e_phoff > len || ph_bytes > len - eh.e_phoff)
        return error_set(err, errlen, -ENOEXEC,
                        "truncated: program headers at 0x%llx run past the end of the file",
                        (unsigned long long)eh.e_phoff);

    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type == PT_NOTE)
            elf->linux_note |= elf_notes_name(buf, len, &ph, "Linux");
        if (ph.p_type != PT_LOAD)
            continue;
        rc = elf_add_segment(elf, &ph, i, len, err, errlen);
        if (rc)
            return rc;
    }
    if (elf->nr_segments == 0)
        return error_set(err, errlen, -ENOEXEC, "no loadable (PT_LOAD) segment");

    elf->entry = eh.e_entry;
    for (unsigned i = 0; i < elf->nr_segments; i++) {
        const struct boot_elf_segment *s = &elf->segments[i];
        if (eh.e_entry >= s->paddr && eh.e_entry - s->paddr < s->filesz)
            return 0;
    }
    return error_set(err, errlen, -ENOEXEC, "entry point 0x%llx is not inside a loaded segment",
                    (unsigned long long)eh.e_entry);
}

int boot_elf_check_placement(const struct boot_elf *elf, const struct guest_mem *gm,
                             char *err, size_t errlen)
{
    for (unsigned i = 0; i < elf->nr_segments; i++) {
        const struct boot_elf_segment *s = &elf->segments[i];
        /* Below 1 MiB lie the zero page, page tables, command line and firmware tables. */
        if (s->paddr < X86_HIMEM_GPA)
            return error_set(err, errlen, -ERANGE,
                            "segment at 0x%llx is below 1 MiB, where the boot structures live",
                            (unsigned long long)s->paddr);
        if (!guest_mem_ptr(gm, s->paddr, s->memsz))
            return error_set(err, errlen, -ERANGE,
                            "segment [0x%llx, 0x%llx) is not inside guest RAM",
                            (unsigned long long)s->paddr, (unsigned long long)(s->paddr + s->memsz));
    }
    return 0;
}
