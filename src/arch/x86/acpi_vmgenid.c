// SPDX-License-Identifier: Apache-2.0
/*
 * The VM generation ID device in the DSDT and its buffer in guest memory
 * (see arch/x86/acpi_vmgenid.h). The guest finds the buffer through the
 * ADDR method, a Package of the address's low and high 32 bits, as the
 * VMGenID specification and Linux's vmgenid driver expect.
 */
#include "arch/x86/acpi_vmgenid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "core/guest_mem.h"

#define AML_RETURN_OP 0xa4
#define AML_NOTIFY_OP 0x86
/* Notify value 0x80: "the generation ID changed" for this device class. */
#define VMGENID_NOTIFY_CHANGED 0x80

_Static_assert(ACPI_VMGENID_GPA >= X86_ACPI_GPA && ACPI_VMGENID_GPA % ACPI_VMGENID_PAGE_SIZE == 0,
               "the generation ID page must be a page of the ACPI region");

void acpi_dsdt_vmgenid(struct aml_buf *b)
{
    struct aml_mark dev = aml_device_open(b, "VGEN");
    aml_name_str(b, "_HID", ACPI_VMGENID_HID);
    aml_name_str(b, "_CID", ACPI_VMGENID_CID);
    aml_name_str(b, "_DDN", ACPI_VMGENID_CID);
    struct aml_mark m = aml_method_open(b, "ADDR", 0, false);
    aml_u8(b, AML_RETURN_OP);
    const uint64_t addr[] = { ACPI_VMGENID_GPA & 0xffffffffu, ACPI_VMGENID_GPA >> 32 };
    aml_package_ints(b, addr, 2);
    aml_close(b, m);
    aml_close(b, dev);
}

void acpi_dsdt_gpe(struct aml_buf *b)
{
    struct aml_mark gpe = aml_scope_open(b, "\\_GPE");
    struct aml_mark m = aml_method_open(b, "_E00", 0, false);
    _Static_assert(ACPI_VMGENID_GPE == 0, "the handler's name must follow the GPE bit");
    aml_u8(b, AML_NOTIFY_OP);
    aml_name_string(b, "\\_SB.VGEN");
    aml_integer(b, VMGENID_NOTIFY_CHANGED);
    aml_close(b, m);
    aml_close(b, gpe);
}

int acpi_vmgenid_write(struct guest_mem *gm, const uint8_t id[ACPI_VMGENID_LEN])
{
    uint8_t *dst = guest_mem_ptr(gm, ACPI_VMGENID_GPA, ACPI_VMGENID_LEN);
    if (!dst)
        return -EFAULT;
    memcpy(dst, id, ACPI_VMGENID_LEN);
    return 0;
}

int acpi_vmgenid_renew(struct guest_mem *gm, uint8_t id[ACPI_VMGENID_LEN])
{
    uint8_t fresh[ACPI_VMGENID_LEN];
    static const uint8_t zero[ACPI_VMGENID_LEN];
    do {
        if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh))
            return -EIO;
    } while (memcmp(fresh, zero, sizeof(zero)) == 0);
    int ret = acpi_vmgenid_write(gm, fresh);
    if (!ret && id)
        memcpy(id, fresh, sizeof(fresh));
    return ret;
}
