// SPDX-License-Identifier: Apache-2.0
/*
 * The platform's devices in init order (exit runs in reverse). ACPI PM and
 * the RTC come first because nothing depends on them; serial comes last so
 * the console only starts delivering input once every device is in place.
 */
#include "devices/device.h"
#include "devices/platform_devices.h"

const struct device_ops *const platform_devices[] = {
    &acpi_pm_device,
    &rtc_device,
    &i8042_device,
    &quiet_device,
    &serial_device,
    NULL,
};
