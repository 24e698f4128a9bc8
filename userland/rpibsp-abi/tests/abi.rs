//! Host-side checks of the shared ABI file and of the wrappers' error paths.

use std::io::{Read, Seek, SeekFrom, Write};
use std::mem::{align_of, offset_of, size_of};

use rpibsp_abi::*;

/// The C macros from include/uapi/asm-generic/ioctl.h, written out independently of abi.rs.
const fn c_ioc(dir: u32, ty: u32, nr: u32, size: u32) -> u32 {
    (dir << 30) | (size << 16) | (ty << 8) | nr
}

#[test]
fn status_layout_is_the_documented_c_layout() {
    assert_eq!(size_of::<Status>(), 12 * 4 + GREETING_LEN);
    assert_eq!(align_of::<Status>(), 4);
    assert_eq!(offset_of!(Status, size), 0);
    assert_eq!(offset_of!(Status, abi_version), 4);
    assert_eq!(offset_of!(Status, value), 20);
    assert_eq!(offset_of!(Status, restore_count), 44);
    assert_eq!(offset_of!(Status, greeting), 48);
}

#[test]
fn ioctl_numbers_match_the_c_encoding() {
    let status_size = size_of::<Status>() as u32;
    assert_eq!(IOC_MAGIC, 0xE3);
    assert_eq!(IOC_RESET, c_ioc(0, 0xE3, 0, 0));
    assert_eq!(IOC_RESET, 0x0000_E300);
    assert_eq!(IOC_GET_STATUS, c_ioc(2, 0xE3, 1, status_size));
    assert_eq!(IOC_GET_STATUS, 0x8050_E301);
    assert_eq!(IOC_GET_VALUE, 0x8004_E302);
    assert_eq!(IOC_SET_VALUE, 0x4004_E303);
    assert_eq!(IOC_GET_ABI_VERSION, 0x0000_E304);
    assert_eq!(ioc_size(IOC_GET_STATUS), size_of::<Status>());
    assert_eq!(ioc_size(IOC_SET_VALUE), 4);
}

/// The numbers as nix's `request_code_*!` (the `_IO`/`_IOR`/`_IOW` of the nix crate) build them.
#[test]
fn ioctl_numbers_match_nix() {
    use nix::{request_code_none, request_code_read, request_code_write};
    assert_eq!(IOC_RESET, request_code_none!(IOC_MAGIC, NR_RESET) as u32);
    assert_eq!(
        IOC_GET_STATUS,
        request_code_read!(IOC_MAGIC, NR_GET_STATUS, size_of::<Status>()) as u32
    );
    assert_eq!(
        IOC_GET_VALUE,
        request_code_read!(IOC_MAGIC, NR_GET_VALUE, size_of::<u32>()) as u32
    );
    assert_eq!(
        IOC_SET_VALUE,
        request_code_write!(IOC_MAGIC, NR_SET_VALUE, size_of::<u32>()) as u32
    );
    assert_eq!(
        IOC_GET_ABI_VERSION,
        request_code_none!(IOC_MAGIC, NR_GET_ABI_VERSION) as u32
    );
}

/// The numbers as libc's `_IO`/`_IOR`/`_IOW` const fns (the C macros) build them.
#[test]
fn ioctl_numbers_match_libc() {
    use nix::libc::{_IO, _IOR, _IOW};
    assert_eq!(IOC_RESET, _IO(IOC_MAGIC, NR_RESET) as u32);
    assert_eq!(
        IOC_GET_STATUS,
        _IOR::<Status>(IOC_MAGIC, NR_GET_STATUS) as u32
    );
    assert_eq!(IOC_GET_VALUE, _IOR::<u32>(IOC_MAGIC, NR_GET_VALUE) as u32);
    assert_eq!(IOC_SET_VALUE, _IOW::<u32>(IOC_MAGIC, NR_SET_VALUE) as u32);
    assert_eq!(
        IOC_GET_ABI_VERSION,
        _IO(IOC_MAGIC, NR_GET_ABI_VERSION) as u32
    );
}

/// The decoders the driver's dispatch relies on give back the fields of every command.
#[test]
fn ioctl_numbers_decode_to_type_number_direction_and_size() {
    for (cmd, nr, dir, size) in [
        (IOC_RESET, NR_RESET, IOC_NONE, 0),
        (IOC_GET_STATUS, NR_GET_STATUS, IOC_READ, size_of::<Status>()),
        (IOC_GET_VALUE, NR_GET_VALUE, IOC_READ, 4),
        (IOC_SET_VALUE, NR_SET_VALUE, IOC_WRITE, 4),
        (IOC_GET_ABI_VERSION, NR_GET_ABI_VERSION, IOC_NONE, 0),
    ] {
        assert_eq!(ioc_type(cmd), IOC_MAGIC, "{cmd:#x}");
        assert_eq!(ioc_nr(cmd), nr, "{cmd:#x}");
        assert_eq!(ioc_dir(cmd), dir, "{cmd:#x}");
        assert_eq!(ioc_size(cmd), size, "{cmd:#x}");
        assert!(size <= IOC_SIZE_MAX, "{cmd:#x}");
    }
    // Another size of the same command: same type, number and direction.
    let old_status = ioc(IOC_READ, IOC_MAGIC, NR_GET_STATUS, 48);
    assert_ne!(old_status, IOC_GET_STATUS);
    assert_eq!(ioc_nr(old_status), ioc_nr(IOC_GET_STATUS));
    assert_eq!(ioc_dir(old_status), ioc_dir(IOC_GET_STATUS));
    assert_eq!(ioc_type(old_status), IOC_MAGIC);
    // The largest size fits the 14-bit size field.
    assert_eq!(
        ioc_size(ioc(IOC_READ, IOC_MAGIC, 1, IOC_SIZE_MAX)),
        IOC_SIZE_MAX
    );
}

/// The type byte of ABI version 1, 0xB5, is rpmsg's (`uapi/linux/rpmsg.h`): not ours any more.
#[test]
fn type_byte_is_not_rpmsgs() {
    assert_ne!(IOC_MAGIC, 0xB5);
    // RPMSG_CREATE_EPT_IOCTL = _IOW(0xb5, 0x1, struct rpmsg_endpoint_info { char[32]; u32; u32 })
    let rpmsg_create_ept = c_ioc(1, 0xB5, 1, 40);
    assert_ne!(ioc_type(rpmsg_create_ept), IOC_MAGIC);
    const { assert!(ABI_VERSION >= 2) };
}

#[test]
fn constants_are_consistent() {
    const { assert!(BUFFER_SIZE_MIN <= BUFFER_SIZE_DEFAULT) };
    const { assert!(BUFFER_SIZE_DEFAULT <= BUFFER_SIZE_MAX) };
    assert_eq!(VALUE_MAX, 1_000_000);
    const { assert!(ABI_VERSION >= 1) };
}

#[test]
fn greeting_helpers() {
    let mut s = Status::default();
    s.greeting[..5].copy_from_slice(b"hello");
    assert_eq!(s.greeting_str(), "hello");
    assert!(s.greeting_terminated());
    s.greeting = [b'x'; GREETING_LEN];
    assert!(!s.greeting_terminated());
    assert_eq!(s.greeting_str().len(), GREETING_LEN);
}

#[test]
fn open_error_names_the_path_and_errno() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("rpibsp-devicemodel");
    let err = DeviceModel::open(&missing).unwrap_err();
    assert!(matches!(err, Error::Open { .. }));
    assert_eq!(err.errno(), Some(Errno::ENOENT));
    assert!(err.to_string().contains("rpibsp-devicemodel"), "{err}");
}

#[test]
fn ioctls_on_a_non_device_fail_with_enotty_and_name_the_request() {
    // A regular file has no ioctls: every wrapper must map that to a typed error.
    let file = tempfile::NamedTempFile::new().unwrap();
    let dev = DeviceModel::open(file.path()).unwrap();
    for (err, request) in [
        (dev.reset().unwrap_err(), "IOC_RESET"),
        (dev.status().unwrap_err(), "IOC_GET_STATUS"),
        (dev.value().unwrap_err(), "IOC_GET_VALUE"),
        (dev.set_value(1).unwrap_err(), "IOC_SET_VALUE"),
        (dev.abi_version().unwrap_err(), "IOC_GET_ABI_VERSION"),
    ] {
        assert_eq!(err.errno(), Some(Errno::ENOTTY), "{request}: {err}");
        assert!(err.to_string().contains(request), "{err}");
    }
    // SAFETY: a regular file ignores the argument and fails with ENOTTY.
    let raw = unsafe { dev.raw_ioctl(IOC_GET_STATUS, 0) };
    assert_eq!(raw, Err(Errno::ENOTTY));
}

#[test]
fn read_write_seek_pass_through() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut dev = DeviceModel::open(file.path()).unwrap();
    assert_eq!(dev.write(b"abcdef").unwrap(), 6);
    assert_eq!(dev.seek(SeekFrom::Start(2)).unwrap(), 2);
    let mut buf = [0u8; 8];
    assert_eq!(dev.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"cdef");
    let again = dev.reopen().unwrap();
    assert_eq!(again.path(), file.path());
}
