/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The legacy platform devices' ops tables, for devices/table.c. Each is
 * defined in its own file under src/devices/.
 */
#ifndef CASULO_DEVICES_PLATFORM_DEVICES_H
#define CASULO_DEVICES_PLATFORM_DEVICES_H

#include "devices/device.h"

extern const struct device_ops acpi_pm_device;
extern const struct device_ops rtc_device;
extern const struct device_ops i8042_device;
extern const struct device_ops quiet_device;
extern const struct device_ops serial_device;

#endif
