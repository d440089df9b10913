// SPDX-License-Identifier: Apache-2.0
/*
 * FADT and FACS: the fixed ACPI hardware of casulo's platform. Not a
 * hardware-reduced platform: a PM1a event/control block, a 24-bit PM timer,
 * GPE0 and a reset register, all at the I/O ports of arch/x86/layout.h, with
 * the SCI on ISA IRQ 9. There is no SMI command port: ACPI is always enabled,
 * so the guest never needs to hand over from firmware.
 */
#include "arch/x86/acpi.h"
#include "arch/x86/acpi_tables.h"
#include "arch/x86/layout.h"

#include <string.h>

#define ACPI_FADT_REVISION       6
#define ACPI_FADT_MINOR_REVISION 0
#define ACPI_FACS_VERSION        2

#define ACPI_PM1_EVT_LEN 4
#define ACPI_PM1_CNT_LEN 2
#define ACPI_PM_TMR_LEN  4

/* A system-I/O register block of len bytes, accessed access_size-wise. */
static struct acpi_gas acpi_io_gas(uint16_t port, unsigned len, uint8_t access_size)
{
    return (struct acpi_gas){
        .space_id = ACPI_GAS_SYSTEM_IO,
        .bit_width = len * 8,
        .access_size = access_size,
        .address = port,
    };
}

static void acpi_fadt_fixed_hw(struct acpi_fadt *f)
{
    f->sci_int = X86_ACPI_SCI_IRQ;
    f->smi_cmd = 0;   /* ACPI always enabled: no SMI handshake */
    f->pm1a_evt_blk = X86_ACPI_PM1A_EVT_PORT;
    f->pm1a_cnt_blk = X86_ACPI_PM1A_CNT_PORT;
    f->pm_tmr_blk = X86_ACPI_PM_TMR_PORT;
    f->gpe0_blk = X86_ACPI_GPE0_PORT;
    f->pm1_evt_len = ACPI_PM1_EVT_LEN;
    f->pm1_cnt_len = ACPI_PM1_CNT_LEN;
    f->pm_tmr_len = ACPI_PM_TMR_LEN;
    f->gpe0_blk_len = X86_ACPI_GPE0_LEN;
    /* C2/C3 unsupported: latencies above 100/1000 us say so. */
    f->p_lvl2_lat = 101;
    f->p_lvl3_lat = 1001;
    /* Access size 0 lets OSPM split PM1 and GPE blocks into their halves. */
    f->x_pm1a_evt_blk = acpi_io_gas(X86_ACPI_PM1A_EVT_PORT, ACPI_PM1_EVT_LEN, 0);
    f->x_pm1a_cnt_blk = acpi_io_gas(X86_ACPI_PM1A_CNT_PORT, ACPI_PM1_CNT_LEN, 0);
    f->x_pm_tmr_blk = acpi_io_gas(X86_ACPI_PM_TMR_PORT, ACPI_PM_TMR_LEN, 3);
    f->x_gpe0_blk = acpi_io_gas(X86_ACPI_GPE0_PORT, X86_ACPI_GPE0_LEN, 0);
}

int acpi_build_fadt(struct aml_buf *b, uint64_t facs_gpa, uint64_t dsdt_gpa)
{
    size_t start = acpi_table_begin(b, "FACP", ACPI_FADT_REVISION);
    struct acpi_fadt f = { .minor_version = ACPI_FADT_MINOR_REVISION };

    /*
     * The spec allows only one FACS pointer to be non-zero; the 64-bit one
     * is what ACPI 2.0+ guests read. Both DSDT pointers may be set.
     */
    f.x_firmware_ctrl = facs_gpa;
    f.dsdt = dsdt_gpa <= UINT32_MAX ? dsdt_gpa : 0;
    f.x_dsdt = dsdt_gpa;
    acpi_fadt_fixed_hw(&f);

    /*
     * The power button is a fixed feature (PWR_BUTTON clear); there is no
     * sleep button. TMR_VAL_EXT clear: the PM timer is 24 bits wide.
     */
    f.flags = ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 | ACPI_FADT_SLP_BUTTON |
              ACPI_FADT_RESET_REG_SUP;
    f.reset_reg = acpi_io_gas(X86_ACPI_RESET_PORT, 1, 1);
    f.reset_value = X86_ACPI_RESET_VALUE;

    /*
     * No 8042 flag: Linux then skips probing an i8042. No VGA. The CMOS RTC
     * is present (the "not present" flag would stop Linux's rtc-cmos).
     */
    f.iapc_boot_arch = ACPI_IAPC_NO_VGA;

    /* The header was written by acpi_table_begin(); append the rest. */
    aml_bytes(b, (const uint8_t *)&f + sizeof(f.header), sizeof(f) - sizeof(f.header));
    acpi_table_end(b, start);
    return aml_buf_error(b);
}

int acpi_build_facs(struct aml_buf *b)
{
    struct acpi_facs facs = { .length = sizeof(facs), .version = ACPI_FACS_VERSION };
    memcpy(facs.signature, "FACS", sizeof(facs.signature));
    aml_bytes(b, &facs, sizeof(facs));
    return aml_buf_error(b);
}
