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
#define DM_ABI_VERSION 2
/* Free in the kernel's Documentation/userspace-api/ioctl/ioctl-number.rst (see abi.rs). */
#define DM_IOC_MAGIC 0xE3
/* The type byte of ABI version 1; registered to rpmsg, the driver answers it with ENOTTY. */
#define DM_IOC_MAGIC_V1 0xB5
#define DM_GREETING_LEN 32
#define DM_VALUE_MAX 1000000u
/* Largest size field the driver accepts (EINVAL above). */
#define DM_IOC_SIZE_MAX 4096

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

#define DM_NR_RESET 0
#define DM_NR_GET_STATUS 1
#define DM_NR_GET_VALUE 2
#define DM_NR_SET_VALUE 3
#define DM_NR_GET_ABI_VERSION 4

/*
 * The driver matches the type, the number and the direction; the size may be anything from 1
 * to DM_IOC_SIZE_MAX (0 for _IO): it copies min(size, its own size) bytes, so older (smaller)
 * and newer (larger) versions of a structure both work.
 */
#define DM_IOC_RESET _IO(DM_IOC_MAGIC, DM_NR_RESET)
#define DM_IOC_GET_STATUS _IOR(DM_IOC_MAGIC, DM_NR_GET_STATUS, struct dm_status)
#define DM_IOC_GET_VALUE _IOR(DM_IOC_MAGIC, DM_NR_GET_VALUE, uint32_t)
#define DM_IOC_SET_VALUE _IOW(DM_IOC_MAGIC, DM_NR_SET_VALUE, uint32_t)
#define DM_IOC_GET_ABI_VERSION _IO(DM_IOC_MAGIC, DM_NR_GET_ABI_VERSION)

#endif /* RPIBSP_DM_ABI_H */
