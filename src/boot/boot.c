// SPDX-License-Identifier: Apache-2.0
/*
 * boot_load(): the file side of loading a guest. Reads the kernel into a
 * host buffer (it must be parsed before we know where it goes), hands it to
 * boot_load_image(), then reads the initrd straight into the guest memory
 * reserved for it so a large initrd is never held twice. Files larger than
 * guest RAM are refused before anything is read.
 */
#include "boot/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/loader.h"
#include "core/guest_mem.h"
#include "util/file.h"
#include "util/size.h"
#include "util/error.h"

/* Opens a regular, non-empty file no larger than guest RAM; returns the fd or -errno. */
static int boot_open(const struct guest_mem *gm, const char *what, const char *path, uint64_t *size,
                     char *err, size_t errlen)
{
    int fd = file_open_regular(what, path, size, err, errlen);
    if (fd < 0)
        return fd;
    if (*size > gm->ram_size) {
        char ram[32];
        size_format(gm->ram_size, ram, sizeof(ram));
        error_set(err, errlen, -EFBIG, "%s '%s' (%llu bytes) does not fit in guest memory (%s)",
                  what, path, (unsigned long long)*size, ram);
        close(fd);
        return -EFBIG;
    }
    return fd;
}

static int boot_read_all(int fd, uint8_t *dst, uint64_t size, const char *what, const char *path,
                         char *err, size_t errlen)
{
    uint64_t done = 0;
    while (done < size) {
        size_t chunk = (size_t)MIN(size - done, (uint64_t)(1u << 30));
        ssize_t n = pread(fd, dst + done, chunk, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = -errno;
            return error_set(err, errlen, rc, "%s '%s': read: %s", what, path, strerror(-rc));
        }
        if (n == 0)
            return error_set(err, errlen, -EIO, "%s '%s': file shrank while being read", what, path);
        done += (uint64_t)n;
    }
    return 0;
}

int boot_load(struct guest_mem *gm, const struct boot_request *req, struct boot_info *out,
              char *err, size_t errlen)
{
    uint64_t ksize = 0, isize = 0;
    uint8_t *kbuf = NULL;
    int ifd = -1, rc;

    int kfd = boot_open(gm, "kernel", req->kernel_path, &ksize, err, errlen);
    if (kfd < 0)
        return kfd;
    kbuf = malloc(ksize);
    if (!kbuf) {
        rc = error_set(err, errlen, -ENOMEM, "kernel '%s': out of memory", req->kernel_path);
        goto out_kfd;
    }
    rc = boot_read_all(kfd, kbuf, ksize, "kernel", req->kernel_path, err, errlen);
    if (rc)
        goto out_kbuf;

    if (req->initrd_path) {
        ifd = boot_open(gm, "initrd", req->initrd_path, &isize, err, errlen);
        if (ifd < 0) {
            rc = ifd;
            goto out_kbuf;
        }
    }

    struct boot_image img = {
        .kernel = kbuf, .kernel_len = ksize, .kernel_name = req->kernel_path,
        .initrd_name = req->initrd_path, .initrd_size = isize,
        .cmdline = req->cmdline, .acpi_rsdp_gpa = req->acpi_rsdp_gpa,
    };
    rc = boot_load_image(gm, &img, out, err, errlen);
    if (rc)
        goto out_ifd;

    if (ifd >= 0) {
        uint8_t *dst = guest_mem_ptr(gm, out->initrd_gpa, isize);
        if (!dst) {
            rc = error_set(err, errlen, -EFAULT, "initrd '%s': placed outside guest RAM",
                           req->initrd_path);
            goto out_ifd;
        }
        rc = boot_read_all(ifd, dst, isize, "initrd", req->initrd_path, err, errlen);
    }

out_ifd:
    if (ifd >= 0)
        close(ifd);
out_kbuf:
    free(kbuf);
out_kfd:
    close(kfd);
    return rc;
}
