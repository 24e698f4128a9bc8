//! User-space side of the `rpibsp-devicemodel` character device.
//!
//! The ioctl numbers and structures are defined once, in `drivers/devicemodel/abi.rs`, which the
//! kernel module compiles as `mod abi;`. This crate includes the very same file with `#[path]`
//! and re-exports it, so user space and kernel cannot drift apart. On top of it, [`DeviceModel`]
//! offers safe, typed wrappers around the ioctls and plain `read`/`write`/`seek`.
//!
//! The driver matches a command by its type byte ([`IOC_MAGIC`]), number and direction and copies
//! `min(size in the command, its own size)` bytes, so binaries built with an older (smaller) or a
//! newer (larger) [`Status`] keep working; the [`Status::size`] the driver reports says how much
//! of it the driver filled in. Details: the compatibility rules in `abi.rs`.
//!
//! ```no_run
//! use rpibsp_abi::DeviceModel;
//! let dev = DeviceModel::open(DeviceModel::DEFAULT_PATH)?;
//! let status = dev.status()?;
//! println!("greeting {:?}, value {}", status.greeting_str(), status.value);
//! dev.set_value(42)?;
//! # Ok::<(), rpibsp_abi::Error>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

#[path = "../../../drivers/devicemodel/abi.rs"]
mod abi;

pub use abi::*;
/// Error numbers as returned by the kernel (re-exported from `nix`).
pub use nix::errno::Errno;

/// Errors of the devicemodel wrappers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The device node could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// Device node path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// An ioctl returned an error.
    #[error("ioctl {request} failed: {errno} ({})", errno.desc())]
    Ioctl {
        /// Name of the request, e.g. `IOC_SET_VALUE`.
        request: &'static str,
        /// The error number the kernel returned.
        errno: Errno,
    },
    /// The kernel returned a status structure this build does not understand.
    #[error("IOC_GET_STATUS returned size {got}, this build expects at least {expected}")]
    StatusSize {
        /// Size reported by the kernel.
        got: u32,
        /// `size_of::<Status>()` of this build.
        expected: usize,
    },
}

impl Error {
    /// The errno of a failed ioctl, if this is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Ioctl { errno, .. } => Some(*errno),
            Error::Open { source, .. } => source.raw_os_error().map(Errno::from_raw),
            Error::StatusSize { .. } => None,
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

mod sys {
    use super::Status;
    nix::ioctl_none_bad!(reset, super::IOC_RESET);
    nix::ioctl_read_bad!(get_status, super::IOC_GET_STATUS, Status);
    nix::ioctl_read_bad!(get_value, super::IOC_GET_VALUE, u32);
    nix::ioctl_write_ptr_bad!(set_value, super::IOC_SET_VALUE, u32);
    nix::ioctl_none_bad!(get_abi_version, super::IOC_GET_ABI_VERSION);
}

impl Status {
    /// The greeting up to its NUL terminator (lossy UTF-8).
    pub fn greeting_str(&self) -> String {
        let end = self
            .greeting
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.greeting.len());
        String::from_utf8_lossy(&self.greeting[..end]).into_owned()
    }

    /// Whether the greeting buffer is NUL terminated, as the ABI promises.
    pub fn greeting_terminated(&self) -> bool {
        self.greeting.contains(&0)
    }
}

/// An open `/dev/rpibsp-devicemodel`.
#[derive(Debug)]
pub struct DeviceModel {
    file: File,
    path: PathBuf,
}

fn ioctl_result(request: &'static str, r: nix::Result<i32>) -> Result<i32> {
    r.map_err(|errno| Error::Ioctl { request, errno })
}

impl DeviceModel {
    /// Where udev/devtmpfs creates the misc device.
    pub const DEFAULT_PATH: &'static str = "/dev/rpibsp-devicemodel";

    /// Opens the device read-write.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|source| Error::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self::from_file(file, path))
    }

    /// Wraps an already open file (it must be the devicemodel device for the ioctls to work).
    pub fn from_file(file: File, path: impl Into<PathBuf>) -> Self {
        DeviceModel {
            file,
            path: path.into(),
        }
    }

    /// Path this device was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// `IOC_RESET`: empties the device buffer.
    pub fn reset(&self) -> Result<()> {
        // SAFETY: IOC_RESET takes no argument.
        ioctl_result("IOC_RESET", unsafe { sys::reset(self.file.as_raw_fd()) }).map(|_| ())
    }

    /// `IOC_GET_STATUS`: a snapshot of the driver state.
    pub fn status(&self) -> Result<Status> {
        let mut status = Status::default();
        // SAFETY: `status` is a valid, writable `Status`, the size encoded in the request.
        ioctl_result("IOC_GET_STATUS", unsafe {
            sys::get_status(self.file.as_raw_fd(), &mut status)
        })?;
        if (status.size as usize) < std::mem::size_of::<Status>() {
            return Err(Error::StatusSize {
                got: status.size,
                expected: std::mem::size_of::<Status>(),
            });
        }
        Ok(status)
    }

    /// `IOC_GET_VALUE`: the runtime value.
    pub fn value(&self) -> Result<u32> {
        let mut value = 0u32;
        // SAFETY: `value` is a valid, writable u32.
        ioctl_result("IOC_GET_VALUE", unsafe {
            sys::get_value(self.file.as_raw_fd(), &mut value)
        })?;
        Ok(value)
    }

    /// `IOC_SET_VALUE`: sets the runtime value. The kernel rejects values above [`VALUE_MAX`]
    /// with `EINVAL`; this wrapper does not check, so the kernel's check can be tested.
    pub fn set_value(&self, value: u32) -> Result<()> {
        // SAFETY: `value` is a valid u32 for the duration of the call.
        ioctl_result("IOC_SET_VALUE", unsafe {
            sys::set_value(self.file.as_raw_fd(), &value)
        })
        .map(|_| ())
    }

    /// `IOC_GET_ABI_VERSION`: the kernel driver's [`ABI_VERSION`].
    pub fn abi_version(&self) -> Result<u32> {
        // SAFETY: IOC_GET_ABI_VERSION takes no argument.
        let v = ioctl_result("IOC_GET_ABI_VERSION", unsafe {
            sys::get_abi_version(self.file.as_raw_fd())
        })?;
        Ok(v as u32)
    }

    /// Issues an arbitrary ioctl on the device and returns its raw result.
    ///
    /// Meant for negative tests (unknown commands, NULL pointers).
    ///
    /// # Safety
    ///
    /// `arg` is handed to the kernel as is. If `cmd` makes the kernel write through `arg`,
    /// `arg` must be NULL (the kernel then fails with `EFAULT`) or point to memory of the
    /// size encoded in `cmd`.
    pub unsafe fn raw_ioctl(&self, cmd: u32, arg: usize) -> Result<i32, Errno> {
        // SAFETY: the caller guarantees that `arg` is acceptable for `cmd`.
        let r = unsafe { nix::libc::ioctl(self.file.as_raw_fd(), cmd as _, arg) };
        Errno::result(r)
    }

    /// Opens a second, independent file description of the same device.
    pub fn reopen(&self) -> Result<DeviceModel> {
        DeviceModel::open(&self.path)
    }
}

impl AsFd for DeviceModel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl Read for DeviceModel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Write for DeviceModel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for DeviceModel {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}
