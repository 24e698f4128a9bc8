/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ioctl ABI of /dev/rpibsp-devicemodel for the C test programs (tests/devicemodel/dmtest.c,
 * tests/reliability/reltool.c).
 */
#ifndef RPIBSP_DM_ABI_H
#define RPIBSP_DM_ABI_H

#include <stdint.h>
#include <sys/ioctl.h>

/* Mirror of drivers/devicemodel/abi.rs; `dmtest abi` lets the host compare the two. */
#define DM_ABI_VERSION 1
#define DM_IOC_MAGIC 0xB5
#define DM_GREETING_LEN 32
#define DM_VALUE_MAX 1000000u

struct dm_status {
	uint32_t size;
	uint32_t abi_version;
	uint32_t buf_used;
	uint32_t buf_capacity;
	uint32_t open_count;
	uint32_t value;
	uint32_t suspend_count;
	uint32_t resume_count;
	uint32_t freeze_count;
	uint32_t thaw_count;
	uint32_t poweroff_count;
	uint32_t restore_count;
	char greeting[DM_GREETING_LEN];
};

#define DM_IOC_RESET _IO(DM_IOC_MAGIC, 0)
#define DM_IOC_GET_STATUS _IOR(DM_IOC_MAGIC, 1, struct dm_status)
#define DM_IOC_GET_VALUE _IOR(DM_IOC_MAGIC, 2, uint32_t)
#define DM_IOC_SET_VALUE _IOW(DM_IOC_MAGIC, 3, uint32_t)
#define DM_IOC_GET_ABI_VERSION _IO(DM_IOC_MAGIC, 4)

#endif /* RPIBSP_DM_ABI_H */
