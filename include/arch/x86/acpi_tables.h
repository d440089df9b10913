/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Byte layouts of the ACPI 6.x tables casulo builds (RSDP, common header,
 * FADT, FACS, MADT and its entries). Packed little-endian structs: casulo
 * only runs on x86-64 hosts, so host and guest byte order agree. Tests use
 * the same structs to walk the tables the way a guest does.
 */
#ifndef CASULO_ARCH_X86_ACPI_TABLES_H
#define CASULO_ARCH_X86_ACPI_TABLES_H

#include <stdint.h>

#define ACPI_PACKED __attribute__((packed))

struct acpi_rsdp {
    char signature[8];          /* "RSD PTR " */
    uint8_t checksum;           /* first 20 bytes */
    char oem_id[6];
    uint8_t revision;           /* 2: ACPI 2.0+ with XSDT */
    uint32_t rsdt_address;
    uint32_t length;            /* sizeof(struct acpi_rsdp) */
    uint64_t xsdt_address;
    uint8_t extended_checksum;  /* whole structure */
    uint8_t reserved[3];
} ACPI_PACKED;
#define ACPI_RSDP_V1_LEN 20

struct acpi_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
} ACPI_PACKED;

/* Generic Address Structure. */
struct acpi_gas {
    uint8_t space_id;           /* ACPI_GAS_* */
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;        /* 0 undefined, 1 byte, 2 word, 3 dword, 4 qword */
    uint64_t address;
} ACPI_PACKED;
#define ACPI_GAS_SYSTEM_IO 1

struct acpi_fadt {
    struct acpi_header header;
    uint32_t firmware_ctrl;
    uint32_t dsdt;
    uint8_t reserved0;
    uint8_t preferred_pm_profile;
    uint16_t sci_int;
    uint32_t smi_cmd;
    uint8_t acpi_enable;
    uint8_t acpi_disable;
    uint8_t s4bios_req;
    uint8_t pstate_cnt;
    uint32_t pm1a_evt_blk;
    uint32_t pm1b_evt_blk;
    uint32_t pm1a_cnt_blk;
    uint32_t pm1b_cnt_blk;
    uint32_t pm2_cnt_blk;
    uint32_t pm_tmr_blk;
    uint32_t gpe0_blk;
    uint32_t gpe1_blk;
    uint8_t pm1_evt_len;
    uint8_t pm1_cnt_len;
    uint8_t pm2_cnt_len;
    uint8_t pm_tmr_len;
    uint8_t gpe0_blk_len;
    uint8_t gpe1_blk_len;
    uint8_t gpe1_base;
    uint8_t cst_cnt;
    uint16_t p_lvl2_lat;
    uint16_t p_lvl3_lat;
    uint16_t flush_size;
    uint16_t flush_stride;
    uint8_t duty_offset;
    uint8_t duty_width;
    uint8_t day_alrm;
    uint8_t mon_alrm;
    uint8_t century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;
    struct acpi_gas reset_reg;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_ctrl;
    uint64_t x_dsdt;
    struct acpi_gas x_pm1a_evt_blk;
    struct acpi_gas x_pm1b_evt_blk;
    struct acpi_gas x_pm1a_cnt_blk;
    struct acpi_gas x_pm1b_cnt_blk;
    struct acpi_gas x_pm2_cnt_blk;
    struct acpi_gas x_pm_tmr_blk;
    struct acpi_gas x_gpe0_blk;
    struct acpi_gas x_gpe1_blk;
    struct acpi_gas sleep_control_reg;
    struct acpi_gas sleep_status_reg;
    uint64_t hypervisor_vendor_id;
} ACPI_PACKED;

/* FADT flags (ACPI 6.x table 5.10) that casulo uses. */
#define ACPI_FADT_WBINVD         (1u << 0)
#define ACPI_FADT_PROC_C1        (1u << 2)
#define ACPI_FADT_PWR_BUTTON     (1u << 4)   /* set: no fixed power button */
#define ACPI_FADT_SLP_BUTTON     (1u << 5)   /* set: no fixed sleep button */
#define ACPI_FADT_TMR_VAL_EXT    (1u << 8)
#define ACPI_FADT_RESET_REG_SUP  (1u << 10)
#define ACPI_FADT_HW_REDUCED     (1u << 20)
/* IA-PC boot architecture flags. */
#define ACPI_IAPC_LEGACY_DEVICES (1u << 0)
#define ACPI_IAPC_8042           (1u << 1)
#define ACPI_IAPC_NO_VGA         (1u << 2)
#define ACPI_IAPC_NO_MSI         (1u << 3)
#define ACPI_IAPC_NO_CMOS_RTC    (1u << 5)

struct acpi_facs {
    char signature[4];          /* "FACS" */
    uint32_t length;
    uint32_t hardware_signature;
    uint32_t firmware_waking_vector;
    uint32_t global_lock;
    uint32_t flags;
    uint64_t x_firmware_waking_vector;
    uint8_t version;
    uint8_t reserved0[3];
    uint32_t ospm_flags;
    uint8_t reserved1[24];
} ACPI_PACKED;

struct acpi_madt {
    struct acpi_header header;
    uint32_t lapic_address;
    uint32_t flags;
} ACPI_PACKED;
#define ACPI_MADT_PCAT_COMPAT 1u

enum acpi_madt_type {
    ACPI_MADT_LAPIC = 0,
    ACPI_MADT_IOAPIC = 1,
    ACPI_MADT_INT_OVERRIDE = 2,
    ACPI_MADT_LAPIC_NMI = 4,
    ACPI_MADT_X2APIC = 9,
    ACPI_MADT_X2APIC_NMI = 10,
};

struct acpi_madt_lapic {
    uint8_t type, length;
    uint8_t processor_uid;
    uint8_t apic_id;
    uint32_t flags;             /* ACPI_MADT_ENABLED */
} ACPI_PACKED;
#define ACPI_MADT_ENABLED 1u

struct acpi_madt_ioapic {
    uint8_t type, length;
    uint8_t ioapic_id;
    uint8_t reserved;
    uint32_t address;
    uint32_t gsi_base;
} ACPI_PACKED;

struct acpi_madt_int_override {
    uint8_t type, length;
    uint8_t bus;                /* 0: ISA */
    uint8_t source;             /* ISA IRQ */
    uint32_t gsi;
    uint16_t flags;             /* MPS INTI flags */
} ACPI_PACKED;
/* MPS INTI flags: polarity bits 1:0, trigger mode bits 3:2. */
#define ACPI_MPS_ACTIVE_HIGH  0x1u
#define ACPI_MPS_LEVEL        (0x3u << 2)

struct acpi_madt_lapic_nmi {
    uint8_t type, length;
    uint8_t processor_uid;      /* 0xff: all processors */
    uint16_t flags;
    uint8_t lint;
} ACPI_PACKED;

struct acpi_madt_x2apic {
    uint8_t type, length;
    uint16_t reserved;
    uint32_t x2apic_id;
    uint32_t flags;
    uint32_t processor_uid;
} ACPI_PACKED;

struct acpi_madt_x2apic_nmi {
    uint8_t type, length;
    uint16_t flags;
    uint32_t processor_uid;     /* 0xffffffff: all processors */
    uint8_t lint;
    uint8_t reserved[3];
} ACPI_PACKED;

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(sizeof(struct acpi_header) == 36, "header");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");
_Static_assert(sizeof(struct acpi_madt_lapic) == 8, "LAPIC");
_Static_assert(sizeof(struct acpi_madt_ioapic) == 12, "IOAPIC");
_Static_assert(sizeof(struct acpi_madt_int_override) == 10, "ISO");
_Static_assert(sizeof(struct acpi_madt_lapic_nmi) == 6, "LAPIC NMI");
_Static_assert(sizeof(struct acpi_madt_x2apic) == 16, "x2APIC");
_Static_assert(sizeof(struct acpi_madt_x2apic_nmi) == 12, "x2APIC NMI");

#endif
