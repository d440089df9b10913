// SPDX-License-Identifier: Apache-2.0
/*
 * bzImage header parsing (x86 boot protocol, Documentation/arch/x86/boot.rst).
 * A bzImage is a real-mode setup area of (setup_sects + 1) sectors followed by
 * the protected-mode kernel; we only ever use the 64-bit entry, so the header
 * must promise one (XLF_KERNEL_64, protocol 2.12+). The file is untrusted:
 * every number read from it is checked before it sizes or places anything.
 */
#include "boot/loader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/bootparams.h"
#include "util/error.h"

#define BZ_SECTOR 512u

static uint32_t bz_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

enum boot_format boot_detect_format(const uint8_t *buf, size_t len)
{
    if (len >= 4 && memcmp(buf, "\177ELF", 4) == 0)
        return BOOT_FORMAT_ELF64;
    if (len >= 0x206 && bz_le32(buf + 0x202) == X86_SETUP_HDR_MAGIC)
        return BOOT_FORMAT_BZIMAGE;
    return BOOT_FORMAT_NONE;
}

static bool bz_is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

int boot_bzimage_parse(const uint8_t *buf, size_t len, struct boot_bzimage *bz,
                       char *err, size_t errlen)
{
    memset(bz, 0, sizeof(*bz));
    if (len < 0x206 || bz_le32(buf + 0x202) != X86_SETUP_HDR_MAGIC)
        return error_set(err, errlen, -ENOEXEC, "no bzImage header ('HdrS' at 0x202)");
    if (len < 0x208)
        return error_set(err, errlen, -ENOEXEC, "truncated: file ends inside the setup header");

    /* Copy what the file has; fields past its end stay 0 and are checked below. */
    struct x86_setup_header h;
    memset(&h, 0, sizeof(h));
    memcpy(&h, buf + X86_SETUP_HDR_OFFSET, MIN(len - X86_SETUP_HDR_OFFSET, sizeof(h)));

    if (h.version < BOOT_MIN_PROTOCOL)
        return error_set(err, errlen, -ENOEXEC,
                       "boot protocol %u.%02u is too old (need 2.06 or newer)",
                       h.version >> 8, h.version & 0xff);

    bz->version = h.version;
    bz->setup_sects = h.setup_sects ? h.setup_sects : X86_SETUP_SECTS_DEFAULT;
    bz->setup_len = (uint64_t)(bz->setup_sects + 1) * BZ_SECTOR;
    /* setup_len >= 5 sectors, so once it is inside the file so is the whole header. */
    if (bz->setup_len > len)
        return error_set(err, errlen, -ENOEXEC,
                       "truncated: setup area (%llu bytes) runs past the end of the file (%zu bytes)",
                       (unsigned long long)bz->setup_len, len);
    bz->pm_len = len - bz->setup_len;
    if (bz->pm_len == 0)
        return error_set(err, errlen, -ENOEXEC, "truncated: no protected-mode kernel after the setup area");
    if (bz->pm_len <= BOOT_BZ_ENTRY64_OFFSET)
        return error_set(err, errlen, -ENOEXEC,
                       "truncated: protected-mode kernel (%llu bytes) ends before its 64-bit entry at 0x%x",
                       (unsigned long long)bz->pm_len, BOOT_BZ_ENTRY64_OFFSET);
    if (h.syssize == 0)
        return error_set(err, errlen, -ENOEXEC, "syssize is 0");
    bz->syssize_bytes = (uint64_t)h.syssize * 16;
    if (bz->syssize_bytes > bz->pm_len)
        return error_set(err, errlen, -ENOEXEC,
                       "truncated: syssize says %llu bytes of kernel but the file has %llu",
                       (unsigned long long)bz->syssize_bytes, (unsigned long long)bz->pm_len);

    bz->loadflags = h.loadflags;
    if (!(h.loadflags & X86_LOADED_HIGH))
        return error_set(err, errlen, -ENOEXEC, "not a high-loading kernel (LOADED_HIGH clear)");
    bz->xloadflags = h.version >= BOOT_XLF_PROTOCOL ? h.xloadflags : 0;
    if (!(bz->xloadflags & X86_XLF_KERNEL_64))
        return error_set(err, errlen, -ENOEXEC,
                       "no 64-bit entry point (XLF_KERNEL_64 clear, boot protocol %u.%02u)",
                       h.version >> 8, h.version & 0xff);

    bz->initrd_addr_max = h.initrd_addr_max ? h.initrd_addr_max : BOOT_DEFAULT_INITRD_MAX;
    bz->cmdline_size = h.cmdline_size;
    bz->kernel_alignment = h.kernel_alignment;
    bz->relocatable = h.relocatable_kernel != 0;
    if (bz->relocatable && !bz_is_pow2(h.kernel_alignment))
        return error_set(err, errlen, -ENOEXEC, "kernel_alignment 0x%x is not a power of two",
                       h.kernel_alignment);
    bz->pref_address = h.pref_address;
    bz->init_size = h.init_size;
    if (bz->pref_address > UINT64_MAX - bz->init_size)
        return error_set(err, errlen, -ENOEXEC, "pref_address 0x%llx + init_size overflows",
                       (unsigned long long)bz->pref_address);
    return 0;
}

int boot_bzimage_end(const struct boot_bzimage *bz, uint64_t load_gpa, uint64_t *end)
{
    if (load_gpa > UINT64_MAX - bz->pm_len)
        return -ERANGE;
    uint64_t image_end = load_gpa + bz->pm_len;

    /*
     * The decompressor runs from the load address rounded up to the
     * alignment (relocatable) and never below pref_address, and needs
     * init_size bytes from there (arch/x86/boot/compressed/head_64.S).
     */
    uint64_t runtime = load_gpa;
    if (bz->relocatable) {
        uint64_t a = bz->kernel_alignment;
        if (runtime > UINT64_MAX - (a - 1))
            return -ERANGE;
        runtime = ALIGN_UP(runtime, a);
    }
    runtime = MAX(runtime, bz->pref_address);
    if (runtime > UINT64_MAX - bz->init_size)
        return -ERANGE;
    *end = MAX(image_end, runtime + bz->init_size);
    return 0;
}
