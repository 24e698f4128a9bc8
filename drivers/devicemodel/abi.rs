// SPDX-License-Identifier: GPL-2.0 OR MIT

//! User/kernel ABI of the `rpibsp-devicemodel` character device.
//!
//! This file is the single definition of the ioctl numbers and structures. It is compiled into
//! the kernel module (`mod abi;` in `rpibsp_devicemodel.rs`) and into the userland crate
//! `rpibsp-abi` (`#[path]` include), so it must stay dependency free: only `core` items, no
//! `std`, no `kernel` crate.
//!
//! The ioctl encoding follows `include/uapi/asm-generic/ioctl.h`, which arm64 and x86-64 share:
//! `dir << 30 | size << 16 | type << 8 | nr`. The driver checks at compile time that these numbers
//! equal the kernel's own `_IO`/`_IOR`/`_IOW` values; `rpibsp-abi` tests them against nix and libc.
//!
//! Compatibility rules: structures only grow at the end; every structure starts with its own
//! size in bytes, so old binaries keep working; [`ABI_VERSION`] is bumped on any change.
//!
//! The driver keeps that promise by dispatching on the command's type byte and number, not on the
//! whole command word (which encodes the size of the structure the caller was built with):
//!
//! - a foreign type byte or an unknown number fails with `ENOTTY`;
//! - a known number with another direction than the one of its `IOC_*` constant below fails with
//!   `EINVAL`, and so do a size of 0 for a command with an argument, a size other than 0 for one
//!   without, and a size above [`IOC_SIZE_MAX`];
//! - otherwise `min(size in the command, size in the driver)` bytes are copied: for commands that
//!   read (`IOC_READ`) the rest of the caller's buffer is left untouched (the `size` field of a
//!   structure tells how much the driver filled in); for commands that write (`IOC_WRITE`) the
//!   fields the caller does not have are zero, and bytes beyond the driver's structure are
//!   ignored.

#![allow(dead_code, unreachable_pub)]

/// Version of this ABI, reported in [`Status::abi_version`] and by [`IOC_GET_ABI_VERSION`].
///
/// - 1: type byte 0xB5, commands matched with their exact size.
/// - 2: type byte [`IOC_MAGIC`] (0xE3); commands matched by type, number and direction, any size
///   up to [`IOC_SIZE_MAX`] (see the compatibility rules above). The new type byte is the one
///   incompatible change: binaries built for version 1 get `ENOTTY` and must be rebuilt.
pub const ABI_VERSION: u32 = 2;

/// The ioctl "type" byte.
///
/// 0xE3 has no entry in `Documentation/userspace-api/ioctl/ioctl-number.rst` of Linux 7.3 (no
/// line for the byte, no range of numbers in it) and no `_IO*()` of the 7.3 tree uses it. It is
/// not one of the types the VFS answers itself (`fs/ioctl.c`: 0, 0x15, 0x94, 'T', 'X', 'f'), and
/// it is far from the bytes upstream currently hands out (0xB6..0xBA), so a new registration is
/// unlikely to land on it. Version 1 of this ABI used 0xB5, which is registered to rpmsg
/// (`uapi/linux/rpmsg.h`); the driver answers that byte with `ENOTTY` like any other.
pub const IOC_MAGIC: u32 = 0xE3;

/// Length of the greeting string buffer in [`Status`], including the NUL terminator.
pub const GREETING_LEN: usize = 32;

/// Bounds of the `buffer_size` module parameter, in bytes.
pub const BUFFER_SIZE_MIN: u32 = 16;
/// Upper bound of the `buffer_size` module parameter, in bytes.
pub const BUFFER_SIZE_MAX: u32 = 65536;
/// Default of the `buffer_size` module parameter, in bytes.
pub const BUFFER_SIZE_DEFAULT: u32 = 4096;

/// Upper bound (inclusive) of the value set with [`IOC_SET_VALUE`]; larger values give `EINVAL`.
pub const VALUE_MAX: u32 = 1_000_000;

/// Largest argument size (the size field of a command) the driver accepts, in bytes: one 4 KiB
/// page. Larger sizes fail with `EINVAL`.
pub const IOC_SIZE_MAX: usize = 4096;

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;

/// No data transfer.
pub const IOC_NONE: u32 = 0;
/// Userspace writes, the kernel reads.
pub const IOC_WRITE: u32 = 1;
/// The kernel writes, userspace reads.
pub const IOC_READ: u32 = 2;

/// Builds an ioctl command number, like the C `_IOC()` macro.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << IOC_DIRSHIFT)
        | (ty << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
}

/// Extracts the size field of an ioctl command number, like the C `_IOC_SIZE()` macro.
pub const fn ioc_size(cmd: u32) -> usize {
    ((cmd >> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1)) as usize
}

/// Extracts the direction of an ioctl command number, like the C `_IOC_DIR()` macro.
pub const fn ioc_dir(cmd: u32) -> u32 {
    cmd >> IOC_DIRSHIFT
}

/// Extracts the type byte of an ioctl command number, like the C `_IOC_TYPE()` macro.
pub const fn ioc_type(cmd: u32) -> u32 {
    (cmd >> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1)
}

/// Extracts the command number of an ioctl command number, like the C `_IOC_NR()` macro.
pub const fn ioc_nr(cmd: u32) -> u32 {
    (cmd >> IOC_NRSHIFT) & ((1 << IOC_NRBITS) - 1)
}

/// Status snapshot returned by [`IOC_GET_STATUS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// `size_of::<Status>()` as the kernel knows it.
    pub size: u32,
    /// [`ABI_VERSION`] of the kernel driver.
    pub abi_version: u32,
    /// Bytes currently stored in the device buffer.
    pub buf_used: u32,
    /// Capacity of the device buffer (the `buffer_size` module parameter at probe).
    pub buf_capacity: u32,
    /// Number of currently open file descriptions.
    pub open_count: u32,
    /// The runtime value, initialised from the DT property `rpibsp,value`.
    pub value: u32,
    /// Calls of the `suspend` PM callback since probe.
    pub suspend_count: u32,
    /// Calls of the `resume` PM callback since probe.
    pub resume_count: u32,
    /// Calls of the `freeze` PM callback since probe.
    pub freeze_count: u32,
    /// Calls of the `thaw` PM callback since probe.
    pub thaw_count: u32,
    /// Calls of the `poweroff` PM callback since probe.
    pub poweroff_count: u32,
    /// Calls of the `restore` PM callback since probe.
    pub restore_count: u32,
    /// The DT property `rpibsp,greeting`, NUL terminated and NUL padded.
    pub greeting: [u8; GREETING_LEN],
}

/// Number of [`IOC_RESET`].
pub const NR_RESET: u32 = 0;
/// Number of [`IOC_GET_STATUS`].
pub const NR_GET_STATUS: u32 = 1;
/// Number of [`IOC_GET_VALUE`].
pub const NR_GET_VALUE: u32 = 2;
/// Number of [`IOC_SET_VALUE`].
pub const NR_SET_VALUE: u32 = 3;
/// Number of [`IOC_GET_ABI_VERSION`].
pub const NR_GET_ABI_VERSION: u32 = 4;

/// Empties the device buffer. Returns 0.
pub const IOC_RESET: u32 = ioc(IOC_NONE, IOC_MAGIC, NR_RESET, 0);
/// Copies a [`Status`] to userspace.
pub const IOC_GET_STATUS: u32 = ioc(
    IOC_READ,
    IOC_MAGIC,
    NR_GET_STATUS,
    core::mem::size_of::<Status>(),
);
/// Reads the runtime value (a `u32`).
pub const IOC_GET_VALUE: u32 = ioc(
    IOC_READ,
    IOC_MAGIC,
    NR_GET_VALUE,
    core::mem::size_of::<u32>(),
);
/// Sets the runtime value (a `u32`, at most [`VALUE_MAX`], else `EINVAL`).
pub const IOC_SET_VALUE: u32 = ioc(
    IOC_WRITE,
    IOC_MAGIC,
    NR_SET_VALUE,
    core::mem::size_of::<u32>(),
);
/// Returns the ABI version as the ioctl's return value (no argument).
pub const IOC_GET_ABI_VERSION: u32 = ioc(IOC_NONE, IOC_MAGIC, NR_GET_ABI_VERSION, 0);
