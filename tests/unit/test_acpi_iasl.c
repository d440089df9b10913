// SPDX-License-Identifier: Apache-2.0
/*
 * Feeds every ACPI table casulo builds to ACPICA's own disassembler
 * (`iasl -d`, Debian acpica-tools) and fails on any error, warning or bad
 * checksum it reports. The DSDT is also recompiled from the disassembly with
 * optimizations off, which must give back exactly our AML.
 *
 * Then ACPICA's AML interpreter (`acpiexec`, same package) loads the FADT,
 * DSDT and MADT and evaluates \_S5, the _CRS of COM1 and the RTC and the last
 * processor's _HID/_UID, the VM generation ID's ADDR and _CID, and runs
 * \_GPE._E00, which must notify VGEN: the namespace a guest OS would build. With PCI it
 * also loads the MCFG and has ACPICA's resource manager decode the host
 * bridge's _PRT (all 124 slot/pin entries) and _CRS windows and the ECAM
 * reservation, as Linux's ACPI PCI code does through the same calls.
 *
 * The RSDP is left out: iasl cannot load a lone RSDP from a binary file; its
 * checksums and fields are covered by test_acpi.
 *
 * Without the tools the whole binary exits 77 (skipped), or fails under CI=true.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/acpi_vmgenid.h"
#include "arch/x86/acpi_tables.h"
#include "arch/x86/layout.h"
#include "pci/pci_host.h"

#define BASE   X86_ACPI_GPA
#define REGION (X86_ACPI_END - X86_ACPI_GPA)
#define LOG_MAX (256 * 1024)

struct iasl_ctx {
    char dir[64];
    uint8_t region[REGION];
    char log[LOG_MAX];
};

/* Runs argv in dir with stdout+stderr to dir/log; returns the exit status. */
static int run_in(const char *dir, char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = -1;
        if (chdir(dir) == 0)
            fd = open("log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static size_t read_file(const char *dir, const char *name, void *buf, size_t cap)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void write_file(const char *dir, const char *name, const void *p, size_t len)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static const char *const iasl_complaints[] = {
    "Error", "Warning", "Incorrect checksum", "Could not", "Invalid", "does not contain",
};

/* The log's text if iasl complained about anything, else NULL. */
static const char *iasl_complaint(struct iasl_ctx *c)
{
    size_t n = read_file(c->dir, "log", c->log, sizeof(c->log) - 1);
    c->log[n] = 0;
    /* The compiler's closing summary names errors and warnings even when there are none. */
    if (strstr(c->log, "Compilation successful"))
        return strstr(c->log, " 0 Errors, 0 Warnings") ? NULL : c->log;
    for (size_t i = 0; i < sizeof(iasl_complaints) / sizeof(iasl_complaints[0]); i++)
        if (strstr(c->log, iasl_complaints[i]))
            return c->log;
    return NULL;
}

/* Disassembles one table; returns 0 when iasl accepted it without complaint. */
static int disassemble(struct iasl_ctx *c, const char *name, const void *table, size_t len)
{
    char dat[16];
    snprintf(dat, sizeof(dat), "%s.dat", name);
    write_file(c->dir, dat, table, len);
    char *argv[] = { "iasl", "-d", dat, NULL };
    int rc = run_in(c->dir, argv);
    const char *complaint = iasl_complaint(c);
    if (rc != 0 || complaint) {
        print_message("iasl -d %s: exit %d\n%s\n", dat, rc, c->log);
        return -1;
    }
    char dsl[16];
    snprintf(dsl, sizeof(dsl), "%s.dsl", name);
    return read_file(c->dir, dsl, c->log, 16) == 16 ? 0 : -1;
}

static const void *at_gpa(struct iasl_ctx *c, uint64_t gpa, size_t need)
{
    assert_true(gpa >= BASE && gpa - BASE <= REGION && need <= REGION - (gpa - BASE));
    return c->region + (gpa - BASE);
}

static const struct acpi_header *table_at(struct iasl_ctx *c, uint64_t gpa)
{
    const struct acpi_header *h = at_gpa(c, gpa, sizeof(*h));
    at_gpa(c, gpa, h->length);
    return h;
}

/* Our DSDT, disassembled and recompiled unoptimized, must come back intact. */
static void check_dsdt_roundtrip(struct iasl_ctx *c, const struct acpi_header *dsdt)
{
    char *argv[] = { "iasl", "-oa", "-p", "recompiled", "DSDT.dsl", NULL };
    int rc = run_in(c->dir, argv);
    const char *complaint = iasl_complaint(c);
    if (rc != 0 || complaint)
        fail_msg("iasl could not recompile the DSDT: exit %d\n%s", rc, c->log);
    static uint8_t aml[REGION];
    size_t n = read_file(c->dir, "recompiled.aml", aml, sizeof(aml));
    assert_int_equal(n, dsdt->length);
    /* Headers differ (iasl writes its own compiler id); the AML must not. */
    assert_memory_equal(aml + sizeof(*dsdt), (const uint8_t *)dsdt + sizeof(*dsdt),
                        n - sizeof(*dsdt));
}

/* The next line of log at or after *pos that contains needle, or NULL. */
static const char *next_line_with(const char **pos, const char *needle)
{
    const char *hit = strstr(*pos, needle);
    if (hit)
        *pos = hit + strlen(needle);
    return hit;
}

/* iasl's reading of our MCFG: one allocation, ECAM at 0xE0000000, bus 0 only. */
static void check_mcfg_dsl(struct iasl_ctx *c)
{
    size_t n = read_file(c->dir, "MCFG.dsl", c->log, sizeof(c->log) - 1);
    c->log[n] = 0;
    const char *pos = c->log;
    assert_non_null(next_line_with(&pos, "Revision : 01"));
    assert_non_null(next_line_with(&pos, "Reserved : 0000000000000000"));
    assert_non_null(next_line_with(&pos, "Base Address : 00000000E0000000"));
    assert_non_null(next_line_with(&pos, "Segment Group Number : 0000"));
    assert_non_null(next_line_with(&pos, "Start Bus Number : 00"));
    assert_non_null(next_line_with(&pos, "End Bus Number : 00"));
    assert_null(strstr(pos, "Base Address"));
}

static void check_all_tables(struct iasl_ctx *c, const struct x86_platform_info *p)
{
    size_t len;
    unsigned seen_mcfg = 0;
    memset(c->region, 0, sizeof(c->region));
    assert_int_equal(acpi_build_tables(c->region, REGION, BASE, p, &len), 0);
    const struct acpi_rsdp *rsdp = at_gpa(c, BASE, sizeof(*rsdp));
    const struct acpi_header *xsdt = table_at(c, rsdp->xsdt_address);
    const struct acpi_header *rsdt = table_at(c, rsdp->rsdt_address);
    assert_int_equal(disassemble(c, "XSDT", xsdt, xsdt->length), 0);
    assert_int_equal(disassemble(c, "RSDT", rsdt, rsdt->length), 0);

    size_t n = (xsdt->length - sizeof(*xsdt)) / 8;
    for (size_t i = 0; i < n; i++) {
        uint64_t gpa;
        memcpy(&gpa, (const uint8_t *)xsdt + sizeof(*xsdt) + 8 * i, 8);
        const struct acpi_header *h = table_at(c, gpa);
        char name[5] = { 0 };
        memcpy(name, h->signature, 4);
        assert_int_equal(disassemble(c, name, h, h->length), 0);
        if (!strcmp(name, "MCFG")) {
            check_mcfg_dsl(c);
            seen_mcfg++;
        }
        if (strcmp(name, "FACP"))
            continue;
        const struct acpi_fadt *f = (const void *)h;
        const struct acpi_header *dsdt = table_at(c, f->x_dsdt);
        assert_int_equal(disassemble(c, "DSDT", dsdt, dsdt->length), 0);
        check_dsdt_roundtrip(c, dsdt);
        assert_int_equal(disassemble(c, "FACS", at_gpa(c, f->x_firmware_ctrl, 64), 64), 0);
    }
    assert_int_equal(seen_mcfg, p->pci ? 1 : 0);
}

/* The host bridge's names, after the CPU-only answers. */
static void check_pci_answers(const char **pos)
{
    assert_non_null(next_line_with(pos, "[Integer] = 00000000080AD041"));  /* PNP0A08 */
    assert_non_null(next_line_with(pos, "[Integer] = 00000000030AD041"));  /* PNP0A03 */
    for (size_t i = 0; i < 3; i++)                                         /* _UID _SEG _BBN */
        assert_non_null(next_line_with(pos, "[Integer] = 0000000000000000"));
    assert_non_null(next_line_with(pos, "[Integer] = 00000000020CD041"));  /* PNP0C02 */
}

/* Checks acpiexec's answers in c->log, in the order they were asked. */
static void check_acpiexec_answers(struct iasl_ctx *c, const struct x86_platform_info *p)
{
    const char *pos = c->log;
    const char *devices = next_line_with(&pos, "Objects with");
    unsigned ndev = 0;
    assert_non_null(devices);
    assert_int_equal(sscanf(devices, "Objects with %u Devices", &ndev), 1);
    assert_int_equal(ndev, p->nr_cpus + 3 + (p->pci ? 2 : 0));   /* + COM1 RTC VGEN */

    assert_non_null(next_line_with(&pos, "Package] Contains 4 Elements"));
    const char *s5[] = { "= 0000000000000005", "= 0000000000000005",
                         "= 0000000000000000", "= 0000000000000000" };
    for (size_t i = 0; i < 4; i++)
        assert_non_null(next_line_with(&pos, s5[i]));
    assert_non_null(next_line_with(&pos, "47 01 F8 03 F8 03 01 08 22 10 00 79 00"));
    assert_non_null(next_line_with(&pos, "47 01 70 00 70 00 01 02 22 00 01 79 00"));
    assert_non_null(next_line_with(&pos, "\"ACPI0007\""));
    char uid[40];
    snprintf(uid, sizeof(uid), "[Integer] = %016X", p->nr_cpus - 1);
    assert_non_null(next_line_with(&pos, uid));
    /* VGEN.ADDR: the generation ID's address, low then high 32 bits. */
    assert_non_null(next_line_with(&pos, "Package] Contains 2 Elements"));
    char addr[40];
    snprintf(addr, sizeof(addr), "[Integer] = %016llX", (unsigned long long)ACPI_VMGENID_GPA);
    assert_non_null(next_line_with(&pos, addr));
    assert_non_null(next_line_with(&pos, "[Integer] = 0000000000000000"));
    /* ACPICA upper-cases _CID strings: this is the ID Linux's vmgenid driver matches. */
    assert_non_null(next_line_with(&pos, "\"VM_GEN_COUNTER\""));
    /* The GPE handler turns GPE0 bit 0 into the change notification. */
    assert_non_null(next_line_with(&pos, "Notify on [VGEN]"));
    assert_non_null(next_line_with(&pos, "Value 0x80"));
    if (p->pci)
        check_pci_answers(&pos);
}

static void run_acpiexec(struct iasl_ctx *c, const char *batch, bool pci)
{
    char *argv[] = { "acpiexec", "-b", (char *)batch, "FACP.dat", "DSDT.dat", "APIC.dat",
                     pci ? "MCFG.dat" : NULL, NULL };
    int rc = run_in(c->dir, argv);
    size_t n = read_file(c->dir, "log", c->log, sizeof(c->log) - 1);
    c->log[n] = 0;
    /* acpiexec's own hardware self-tests poke PM2/GPEs we do not have: ignore them. */
    if (rc != 0 || strstr(c->log, "ACPI Error") || strstr(c->log, "ACPI Exception") ||
        strstr(c->log, "failed with status") || strstr(c->log, "GetIrqRoutingTable failed") ||
        strstr(c->log, "GetCurrentResources failed"))
        fail_msg("acpiexec: exit %d\n%s", rc, c->log);
}

/* Loads the tables into ACPICA's interpreter and evaluates what a guest would. */
static void check_namespace(struct iasl_ctx *c, const struct x86_platform_info *p)
{
    char batch[768];
    int n = snprintf(batch, sizeof(batch),
                     "evaluate \\_S5; evaluate \\_SB.COM1._CRS; evaluate \\_SB.RTC._CRS; "
                     "evaluate \\_SB.C%03X._HID; evaluate \\_SB.C%03X._UID; "
                     "evaluate \\_SB.VGEN.ADDR; evaluate \\_SB.VGEN._CID; evaluate \\_GPE._E00",
                     p->nr_cpus - 1, p->nr_cpus - 1);
    if (p->pci)
        snprintf(batch + n, sizeof(batch) - n,
                 "; evaluate \\_SB.PCI0._HID; evaluate \\_SB.PCI0._CID; "
                 "evaluate \\_SB.PCI0._UID; evaluate \\_SB.PCI0._SEG; "
                 "evaluate \\_SB.PCI0._BBN; evaluate \\_SB.MRES._HID");
    run_acpiexec(c, batch, p->pci);
    check_acpiexec_answers(c, p);
}

/* The next "Address Minimum"/"Address Maximum" pair of a decoded _CRS. */
static void check_window(const char **pos, const char *min, const char *max)
{
    char line[64];
    assert_non_null(next_line_with(pos, "Consumer/Producer : ResourceProducer"));
    snprintf(line, sizeof(line), "Address Minimum : %s\n", min);
    assert_non_null(next_line_with(pos, line));
    snprintf(line, sizeof(line), "Address Maximum : %s\n", max);
    assert_non_null(next_line_with(pos, line));
}

/*
 * ACPICA's resource manager (AcpiGetIrqRoutingTable, AcpiGetCurrentResources:
 * what Linux calls) decodes the host bridge's _PRT and _CRS and MRES's _CRS.
 */
static void check_pci_resources(struct iasl_ctx *c, const struct x86_platform_info *p)
{
    run_acpiexec(c, "resources \\_SB.PCI0; resources \\_SB.MRES", true);
    const char *pos = c->log;
    assert_non_null(next_line_with(&pos, "Evaluating _PRT"));
    char line[64];
    for (unsigned slot = 1; slot < 32; slot++) {
        for (unsigned pin = 0; pin < 4; pin++) {
            assert_non_null(next_line_with(&pos, "] PCI IRQ Routing Table Package"));
            snprintf(line, sizeof(line), "Address : %016X\n", slot << 16 | 0xffff);
            assert_non_null(next_line_with(&pos, line));
            snprintf(line, sizeof(line), "Pin : %08X\n", pin);
            assert_non_null(next_line_with(&pos, line));
            assert_non_null(next_line_with(&pos, "Source : [NULL NAMESTRING]"));
            snprintf(line, sizeof(line), "Source Index : %08X\n", 16 + (slot - 1 + pin) % 8);
            assert_non_null(next_line_with(&pos, line));
        }
    }
    /* Exactly 124 entries: none between the last one and _CRS. */
    const char *after_prt = pos;
    const char *crs = next_line_with(&pos, "Evaluating _CRS");
    assert_non_null(crs);
    const char *extra = strstr(after_prt, "] PCI IRQ Routing Table Package");
    assert_true(!extra || extra > crs);

    struct pci_window w64 = pci_host_mmio64_window(p->ram_end);
    char min64[20], max64[20];
    snprintf(min64, sizeof(min64), "%016llX", (unsigned long long)w64.base);
    snprintf(max64, sizeof(max64), "%016llX", (unsigned long long)w64.end - 1);
    assert_non_null(next_line_with(&pos, "Resource Type : Bus Number Range"));
    check_window(&pos, "0000", "0000");
    assert_non_null(next_line_with(&pos, "[01] I/O Resource"));
    assert_non_null(next_line_with(&pos, "Address Minimum : 0CF8\n"));
    assert_non_null(next_line_with(&pos, "Address Length : 08\n"));
    assert_non_null(next_line_with(&pos, "Resource Type : I/O Range"));
    check_window(&pos, "0000", "0CF7");
    assert_non_null(next_line_with(&pos, "Resource Type : I/O Range"));
    check_window(&pos, "0D00", "FFFF");
    assert_non_null(next_line_with(&pos, "32-Bit DWORD Address Space Resource"));
    check_window(&pos, "C0000000", "DFFFFFFF");
    assert_non_null(next_line_with(&pos, "64-Bit QWORD Address Space Resource"));
    check_window(&pos, min64, max64);
    assert_non_null(next_line_with(&pos, "[06] EndTag Resource"));

    assert_non_null(next_line_with(&pos, "Device: \\_SB.MRES"));
    assert_non_null(next_line_with(&pos, "[00] 32-Bit Fixed Memory Range Resource"));
    assert_non_null(next_line_with(&pos, "Write Protect : ReadWrite"));
    assert_non_null(next_line_with(&pos, "Address : E0000000\n"));
    assert_non_null(next_line_with(&pos, "Address Length : 00100000\n"));
    assert_non_null(next_line_with(&pos, "[01] EndTag Resource"));
}

static void check_platform(void **state, const struct x86_platform_info *p)
{
    check_all_tables(*state, p);
    check_namespace(*state, p);
    if (p->pci)
        check_pci_resources(*state, p);
}

static void check_cpus(void **state, unsigned nr_cpus)
{
    struct x86_platform_info p = { .nr_cpus = nr_cpus };
    check_platform(state, &p);
}

static void test_iasl_1_cpu(void **state) { check_cpus(state, 1); }
static void test_iasl_4_cpus(void **state) { check_cpus(state, 4); }
static void test_iasl_256_cpus(void **state) { check_cpus(state, 256); }
static void test_iasl_1024_cpus(void **state) { check_cpus(state, 1024); }

static void test_iasl_pci(void **state)
{
    struct x86_platform_info p = { .nr_cpus = 2, .pci = true, .ram_end = 2 * GiB };
    check_platform(state, &p);
    /* A large guest moves the 64-bit window above its RAM. */
    p.ram_end = 200 * GiB + 4096;
    check_platform(state, &p);
}

static void test_iasl_pci_1024_cpus(void **state)
{
    struct x86_platform_info p = { .nr_cpus = 1024, .pci = true, .ram_end = 8 * GiB };
    check_platform(state, &p);
}

/* The n-th table the XSDT points at. */
static struct acpi_header *xsdt_entry(struct iasl_ctx *c, size_t n)
{
    const struct acpi_rsdp *rsdp = at_gpa(c, BASE, sizeof(*rsdp));
    const struct acpi_header *xsdt = table_at(c, rsdp->xsdt_address);
    assert_true(sizeof(*xsdt) + 8 * (n + 1) <= xsdt->length);
    uint64_t gpa;
    memcpy(&gpa, (const uint8_t *)xsdt + sizeof(*xsdt) + 8 * n, 8);
    return (struct acpi_header *)table_at(c, gpa);
}

/* The checker itself must notice a broken table, or the tests above prove nothing. */
static void test_iasl_catches_corruption(void **state)
{
    struct iasl_ctx *c = *state;
    struct x86_platform_info p = { .nr_cpus = 2 };
    size_t len;
    assert_int_equal(acpi_build_tables(c->region, REGION, BASE, &p, &len), 0);
    struct acpi_header *fadt = xsdt_entry(c, 0), *madt = xsdt_entry(c, 1);
    assert_memory_equal(fadt->signature, "FACP", 4);
    assert_memory_equal(madt->signature, "APIC", 4);
    madt->checksum ^= 0x5a;
    assert_int_not_equal(disassemble(c, "BAD1", madt, madt->length), 0);

    /* Garbage in the AML body, behind a correct checksum. */
    const struct acpi_fadt *f = (const void *)fadt;
    struct acpi_header *dsdt = (struct acpi_header *)table_at(c, f->x_dsdt);
    memset((uint8_t *)dsdt + sizeof(*dsdt) + 20, 0xff, 2);
    dsdt->checksum = 0;
    dsdt->checksum = -acpi_checksum(dsdt, dsdt->length);
    assert_int_not_equal(disassemble(c, "BAD2", dsdt, dsdt->length), 0);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    struct iasl_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    snprintf(c->dir, sizeof(c->dir), "/tmp/casulo-acpi-XXXXXX");
    if (!mkdtemp(c->dir)) {
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct iasl_ctx *c = *state;
    nftw(c->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(c);
    return 0;
}

static int tools_available(void)
{
    char dir[] = "/tmp/casulo-iasl-XXXXXX";
    if (!mkdtemp(dir))
        return 0;
    char *iasl[] = { "iasl", "-v", NULL };
    char *acpiexec[] = { "acpiexec", "-v", NULL };
    int ok = run_in(dir, iasl) == 0 && run_in(dir, acpiexec) == 0;
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return ok;
}

int main(void)
{
    if (!tools_available()) {
        const char *ci = getenv("CI");
        if (ci && !strcmp(ci, "true")) {
            fprintf(stderr, "iasl and acpiexec (acpica-tools) are required under CI\n");
            return 1;
        }
        printf("iasl or acpiexec not found (install acpica-tools)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iasl_1_cpu),
        cmocka_unit_test(test_iasl_4_cpus),
        cmocka_unit_test(test_iasl_256_cpus),
        cmocka_unit_test(test_iasl_1024_cpus),
        cmocka_unit_test(test_iasl_pci),
        cmocka_unit_test(test_iasl_pci_1024_cpus),
        cmocka_unit_test(test_iasl_catches_corruption),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
