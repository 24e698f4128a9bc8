// SPDX-License-Identifier: GPL-2.0

//! Device-model demonstration driver of the Raspberry Pi BSP.
//!
//! Binds to the device-tree node `compatible = "rpibsp,devicemodel"` and shows the pieces of the
//! Linux device model from safe Rust:
//!
//! - probe reads `rpibsp,greeting` (string, at most 31 bytes) and `rpibsp,value` (one u32, at
//!   most 1000000) through the fwnode property API and refuses a node without them;
//! - the system sleep callbacks (suspend, resume, freeze, thaw, poweroff, restore) are counted;
//! - sysfs attributes of the bound device show the configuration and the counters;
//! - the misc character device `/dev/rpibsp-devicemodel` holds a bounded byte buffer (module
//!   parameter `buffer_size`) and answers the ioctls of [`abi`];
//! - when the device is unbound, files still open fail every call with `ENODEV`.

use kernel::{
    device::{
        Bound,
        Core,
        Device, //
    },
    driver,
    fs::{
        File,
        Kiocb, //
    },
    ioctl::{
        _IO,
        _IOC_DIR,
        _IOC_NR,
        _IOC_SIZE,
        _IOC_TYPE,
        _IOR,
        _IOW, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    new_mutex, of, platform,
    prelude::*,
    str::CString,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        ArcBorrow,
        Mutex,
        MutexGuard, //
    },
    sysfs::{
        self,
        Attribute,
        Group,
        ShowBuffer, //
    },
    sysfs_emit,
    transmute::AsBytes,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

mod abi;

// The command numbers of the ABI are the ones the kernel's own `_IO`/`_IOR`/`_IOW` give.
static_assert!(abi::IOC_RESET == _IO(abi::IOC_MAGIC, abi::NR_RESET));
static_assert!(abi::IOC_GET_STATUS == _IOR::<abi::Status>(abi::IOC_MAGIC, abi::NR_GET_STATUS));
static_assert!(abi::IOC_GET_VALUE == _IOR::<u32>(abi::IOC_MAGIC, abi::NR_GET_VALUE));
static_assert!(abi::IOC_SET_VALUE == _IOW::<u32>(abi::IOC_MAGIC, abi::NR_SET_VALUE));
static_assert!(abi::IOC_GET_ABI_VERSION == _IO(abi::IOC_MAGIC, abi::NR_GET_ABI_VERSION));
// The directions the handler compares with are the kernel's.
static_assert!(_IOC_DIR(abi::IOC_GET_STATUS) == abi::IOC_READ);
static_assert!(_IOC_DIR(abi::IOC_SET_VALUE) == abi::IOC_WRITE);
static_assert!(_IOC_DIR(abi::IOC_RESET) == abi::IOC_NONE);
// Every argument fits the size field and the bound of the handler.
static_assert!(size_of::<abi::Status>() <= abi::IOC_SIZE_MAX);
static_assert!(abi::IOC_SIZE_MAX <= _IOC_SIZE(u32::MAX));
// `Status` is 12 `u32`s and the greeting, without padding (see its `AsBytes` implementation).
static_assert!(size_of::<abi::Status>() == 12 * size_of::<u32>() + abi::GREETING_LEN);

/// Name of the platform driver and of the misc device.
const NAME: &CStr = c"rpibsp-devicemodel";

/// Longest greeting, in bytes: the ABI's buffer keeps a NUL terminator.
const GREETING_MAX: usize = abi::GREETING_LEN - 1;

module! {
    type: DevicemodelModule,
    name: "rpibsp_devicemodel",
    authors: ["Rpi BSP Developers"],
    description: "Raspberry Pi BSP device-model demonstration driver",
    license: "GPL v2",
    params: {
        buffer_size: u32 {
            default: crate::abi::BUFFER_SIZE_DEFAULT,
            description: "Capacity of the device buffer in bytes (16..=65536)",
            perm: 0o444,
        },
    },
}

#[pin_data]
struct DevicemodelModule {
    #[pin]
    _driver: driver::Registration<platform::Adapter<DmDriver>>,
}

impl kernel::InPlaceModule for DevicemodelModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pin_init::pin_init_scope(move || {
            let size = buffer_size();
            if !(abi::BUFFER_SIZE_MIN..=abi::BUFFER_SIZE_MAX).contains(&size) {
                pr_err!(
                    "invalid module parameter buffer_size={}: must be in [{}, {}]\n",
                    size,
                    abi::BUFFER_SIZE_MIN,
                    abi::BUFFER_SIZE_MAX
                );
                return Err(EINVAL);
            }

            Ok(try_pin_init!(Self {
                _driver <- driver::Registration::new(NAME, module),
            }))
        })
    }
}

/// The `buffer_size` module parameter.
fn buffer_size() -> u32 {
    module_parameters::buffer_size.value()
}

/// Ids of the sysfs attributes.
mod attr {
    pub(crate) const GREETING: u32 = 0;
    pub(crate) const VALUE: u32 = 1;
    pub(crate) const BUFFER_USED: u32 = 2;
    pub(crate) const BUFFER_SIZE: u32 = 3;
    pub(crate) const OPEN_COUNT: u32 = 4;
    pub(crate) const SUSPEND: u32 = 10;
    pub(crate) const RESUME: u32 = 11;
    pub(crate) const FREEZE: u32 = 12;
    pub(crate) const THAW: u32 = 13;
    pub(crate) const POWEROFF: u32 = 14;
    pub(crate) const RESTORE: u32 = 15;
}

/// The mutable state of a device, shared by the driver and the open files.
struct State {
    /// `false` once the device is unbound: every file operation then fails with `ENODEV`.
    bound: bool,
    /// The buffer, `buffer_size` bytes; `data[..used]` is the content.
    data: KVec<u8>,
    used: usize,
    value: u32,
    open_count: u32,
}

/// Counters of the system sleep callbacks.
struct PmCounters {
    suspend: Atomic<u32>,
    resume: Atomic<u32>,
    freeze: Atomic<u32>,
    thaw: Atomic<u32>,
    poweroff: Atomic<u32>,
    restore: Atomic<u32>,
}

impl PmCounters {
    const fn new() -> Self {
        Self {
            suspend: Atomic::new(0),
            resume: Atomic::new(0),
            freeze: Atomic::new(0),
            thaw: Atomic::new(0),
            poweroff: Atomic::new(0),
            restore: Atomic::new(0),
        }
    }
}

/// The state of one device; the driver data and every open file hold a reference.
#[pin_data]
struct Shared {
    /// For log messages (a reference count, valid after unbind too).
    dev: ARef<Device>,
    greeting: CString,
    pm: PmCounters,
    #[pin]
    state: Mutex<State>,
}

impl Shared {
    /// Locks the state of a device that is still bound, `ENODEV` otherwise.
    fn lock_bound(&self) -> Result<MutexGuard<'_, State>> {
        let state = self.state.lock();
        if !state.bound {
            return Err(ENODEV);
        }
        Ok(state)
    }

    /// Marks the device unbound and frees the buffer; open files get `ENODEV` from now on.
    fn revoke(&self) {
        let mut state = self.state.lock();
        state.bound = false;
        state.data = KVec::new();
        state.used = 0;
    }

    fn status(&self, state: &State) -> abi::Status {
        // NUL padded; probe checked that the greeting leaves room for a NUL.
        let mut greeting = [0u8; abi::GREETING_LEN];
        for (dst, src) in greeting
            .iter_mut()
            .zip(self.greeting.to_bytes().iter().take(GREETING_MAX))
        {
            *dst = *src;
        }

        abi::Status {
            // The size is at most `IOC_SIZE_MAX` (checked at compile time).
            size: size_of::<abi::Status>() as u32,
            abi_version: abi::ABI_VERSION,
            // Both are at most `BUFFER_SIZE_MAX`.
            buf_used: state.used as u32,
            buf_capacity: state.data.len() as u32,
            open_count: state.open_count,
            value: state.value,
            suspend_count: self.pm.suspend.load(Relaxed),
            resume_count: self.pm.resume.load(Relaxed),
            freeze_count: self.pm.freeze.load(Relaxed),
            thaw_count: self.pm.thaw.load(Relaxed),
            poweroff_count: self.pm.poweroff.load(Relaxed),
            restore_count: self.pm.restore.load(Relaxed),
            greeting,
        }
    }
}

// SAFETY: `abi::Status` is `repr(C)` with only `u32` and `u8` fields and no padding (12 `u32`s
// followed by 32 bytes, checked at compile time above), so all of its bytes are initialized.
unsafe impl AsBytes for abi::Status {}

#[vtable]
impl MiscDevice for Shared {
    type Ptr = Arc<Shared>;
    type RegistrationData = Arc<Shared>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Shared>> {
        let shared = misc.data().clone();
        let count = {
            let mut state = shared.lock_bound()?;
            let Some(count) = state.open_count.checked_add(1) else {
                dev_err!(
                    shared.dev,
                    "open refused: open_count = {} cannot count another file\n",
                    state.open_count
                );
                return Err(EBUSY);
            };
            state.open_count = count;
            count
        };
        dev_dbg!(shared.dev, "open ({} open)\n", count);
        Ok(shared)
    }

    fn release(shared: Arc<Shared>, _file: &File) {
        let mut state = shared.state.lock();
        // Every release follows a counted open; stay at 0 should that ever be violated.
        match state.open_count.checked_sub(1) {
            Some(count) => state.open_count = count,
            None => dev_warn!(shared.dev, "release with open_count = 0\n"),
        }
        dev_dbg!(shared.dev, "release ({} open)\n", state.open_count);
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let shared = kiocb.file();
        let state = shared.lock_bound()?;

        let pos = *kiocb.ki_pos_mut();
        let pos = usize::try_from(pos).map_err(|_| EINVAL)?;
        // Nothing at or past the end of the content.
        let Some(content) = state.data.get(pos..state.used).filter(|c| !c.is_empty()) else {
            return Ok(0);
        };
        if iov.is_empty() {
            return Ok(0);
        }

        let copied = iov.copy_to_iter(content);
        if copied == 0 {
            return Err(EFAULT);
        }
        // `pos + copied <= used <= BUFFER_SIZE_MAX`: neither the sum nor the offset overflow.
        let end = pos.checked_add(copied).ok_or(EOVERFLOW)?;
        *kiocb.ki_pos_mut() = i64::try_from(end).map_err(|_| EOVERFLOW)?;
        dev_dbg!(shared.dev, "read {} bytes at {}\n", copied, pos);
        Ok(copied)
    }

    fn write_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let shared = kiocb.file();
        let mut state = shared.lock_bound()?;

        let pos = *kiocb.ki_pos_mut();
        let pos = usize::try_from(pos).map_err(|_| EINVAL)?;
        if iov.is_empty() {
            return Ok(0);
        }
        let capacity = state.data.len();
        if pos >= capacity {
            dev_dbg!(shared.dev, "write at {}: buffer full\n", pos);
            return Err(ENOSPC);
        }

        // A short write when the buffer cannot take it all.
        let end = capacity.min(pos.saturating_add(iov.len()));
        let dst = state.data.get_mut(pos..end).ok_or(ENOSPC)?;
        let copied = iov.copy_from_iter(dst);
        if copied == 0 {
            return Err(EFAULT);
        }
        // `pos + copied <= end <= capacity`: neither the sum nor the offset overflow.
        let written_end = pos.checked_add(copied).ok_or(EOVERFLOW)?;
        let new_pos = i64::try_from(written_end).map_err(|_| EOVERFLOW)?;

        // Writing past the content leaves a hole of zeros, as in a file.
        let used = state.used;
        if let Some(hole) = state.data.get_mut(used..pos) {
            hole.fill(0);
        }
        state.used = used.max(written_end);
        *kiocb.ki_pos_mut() = new_pos;
        dev_dbg!(shared.dev, "wrote {} bytes at {}\n", copied, pos);
        Ok(copied)
    }

    fn ioctl(shared: ArcBorrow<'_, Shared>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let mut state = shared.lock_bound()?;
        let dev = &shared.dev;

        // Dispatch on the type byte and the number; the size may differ (see `abi`).
        let ty = _IOC_TYPE(cmd);
        if ty != abi::IOC_MAGIC {
            dev_dbg!(dev, "ioctl {:#x}: type {:#x} is not ours\n", cmd, ty);
            return Err(ENOTTY);
        }
        match _IOC_NR(cmd) {
            abi::NR_RESET => {
                ioctl_arg(dev, cmd, arg, abi::IOC_NONE)?;
                state.used = 0;
                state.data.fill(0);
                dev_dbg!(dev, "buffer reset\n");
            }
            abi::NR_GET_STATUS => {
                let user = ioctl_arg(dev, cmd, arg, abi::IOC_READ)?;
                let status = shared.status(&state);
                drop(state);
                // `AsBytes::` spelled out: the prelude's `IntoBytes` has an `as_bytes` as well.
                user.writer()
                    .write_slice_partial(AsBytes::as_bytes(&status), 0)?;
            }
            abi::NR_GET_VALUE => {
                let user = ioctl_arg(dev, cmd, arg, abi::IOC_READ)?;
                let value = state.value;
                drop(state);
                user.writer()
                    .write_slice_partial(AsBytes::as_bytes(&value), 0)?;
            }
            abi::NR_SET_VALUE => {
                let user = ioctl_arg(dev, cmd, arg, abi::IOC_WRITE)?;
                drop(state);
                // A shorter argument leaves the upper bytes zero.
                let mut value = 0u32;
                user.reader()
                    .read_slice_partial(AsBytes::as_bytes_mut(&mut value), 0)?;
                if value > abi::VALUE_MAX {
                    dev_dbg!(
                        dev,
                        "SET_VALUE {} rejected: at most {} allowed\n",
                        value,
                        abi::VALUE_MAX
                    );
                    return Err(EINVAL);
                }
                shared.lock_bound()?.value = value;
                dev_dbg!(dev, "value set to {}\n", value);
            }
            abi::NR_GET_ABI_VERSION => {
                ioctl_arg(dev, cmd, arg, abi::IOC_NONE)?;
                return Ok(abi::ABI_VERSION as isize);
            }
            nr => {
                dev_dbg!(dev, "ioctl {:#x}: unknown number {}\n", cmd, nr);
                return Err(ENOTTY);
            }
        }
        Ok(0)
    }
}

/// Checks the direction and the size of command `cmd`, whose number has the direction `dir` in
/// the ABI, and returns its argument as a user slice of the size the caller encoded in `cmd`.
///
/// A direction other than `dir` is `EINVAL`, and so is a size the direction rules out: anything
/// but 0 without an argument, 0 or more than [`abi::IOC_SIZE_MAX`] with one. The caller copies
/// `min(size in cmd, size in the driver)` bytes, so older (smaller) and newer (larger) builds of
/// the structure both work.
fn ioctl_arg(dev: &Device, cmd: u32, arg: usize, dir: u32) -> Result<UserSlice> {
    let (cmd_dir, size) = (_IOC_DIR(cmd), _IOC_SIZE(cmd));
    if cmd_dir != dir {
        dev_dbg!(
            dev,
            "ioctl {:#x}: direction {}, but command {} has direction {}\n",
            cmd,
            cmd_dir,
            _IOC_NR(cmd),
            dir
        );
        return Err(EINVAL);
    }
    let size_ok = if dir == abi::IOC_NONE {
        size == 0
    } else {
        (1..=abi::IOC_SIZE_MAX).contains(&size)
    };
    if !size_ok {
        dev_dbg!(
            dev,
            "ioctl {:#x}: size {} is not allowed with direction {} (max {})\n",
            cmd,
            size,
            dir,
            abi::IOC_SIZE_MAX
        );
        return Err(EINVAL);
    }
    Ok(UserSlice::new(UserPtr::from_addr(arg), size))
}

/// The driver data of a bound device.
#[pin_data]
struct DmData {
    shared: Arc<Shared>,
    /// `/dev/rpibsp-devicemodel`, deregistered when the driver data is dropped after unbind.
    #[pin]
    misc: MiscDeviceRegistration<Shared>,
}

struct DmDriver;

kernel::of_device_table!(
    OF_TABLE,
    <DmDriver as platform::Driver>::IdInfo,
    [(of::DeviceId::new(c"rpibsp,devicemodel"), ())]
);

/// Reads and checks the device-tree configuration: the greeting and the initial value.
fn read_config(dev: &Device) -> Result<(CString, u32)> {
    let Some(fwnode) = dev.fwnode() else {
        dev_err!(dev, "no firmware node\n");
        return Err(EINVAL);
    };

    let Some(greeting) = fwnode
        .property_read::<CString>(c"rpibsp,greeting")
        .optional()
    else {
        if fwnode.property_present(c"rpibsp,greeting") {
            dev_err!(dev, "property rpibsp,greeting is not a string\n");
        } else {
            dev_err!(dev, "missing required property rpibsp,greeting\n");
        }
        return Err(EINVAL);
    };
    let len = greeting.to_bytes().len();
    if len > GREETING_MAX {
        dev_err!(
            dev,
            "property rpibsp,greeting = \"{}\" is {} bytes long, at most {} allowed\n",
            greeting.to_str().unwrap_or("<not UTF-8>"),
            len,
            GREETING_MAX
        );
        return Err(EINVAL);
    }

    if !fwnode.property_present(c"rpibsp,value") {
        dev_err!(dev, "missing required property rpibsp,value\n");
        return Err(EINVAL);
    }
    match fwnode.property_count_elem::<u32>(c"rpibsp,value") {
        Ok(1) => {}
        Ok(n) => {
            dev_err!(
                dev,
                "property rpibsp,value has {} cells, must be one u32\n",
                n
            );
            return Err(EINVAL);
        }
        Err(e) => {
            dev_err!(
                dev,
                "property rpibsp,value is not a u32 cell (error {})\n",
                e.to_errno()
            );
            return Err(EINVAL);
        }
    }
    let Some(value) = fwnode.property_read::<u32>(c"rpibsp,value").optional() else {
        dev_err!(dev, "property rpibsp,value cannot be read\n");
        return Err(EINVAL);
    };
    if value > abi::VALUE_MAX {
        dev_err!(
            dev,
            "property rpibsp,value = {} is out of range, at most {} allowed\n",
            value,
            abi::VALUE_MAX
        );
        return Err(EINVAL);
    }

    Ok((greeting, value))
}

impl platform::Driver for DmDriver {
    type IdInfo = ();
    type Data<'bound> = DmData;
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);
    const PM_OPS: Option<platform::PmOps<Self>> = Some(platform::PmOps::new());
    const DEV_GROUPS: Option<platform::AttributeGroups<Self>> =
        Some(platform::AttributeGroups::new());

    fn probe<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<DmData, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            let dev = pdev.as_ref();
            let (greeting, value) = read_config(dev)?;
            let capacity = buffer_size() as usize;
            let data = KVec::from_elem(0u8, capacity, GFP_KERNEL)?;

            let shared = Arc::pin_init(
                try_pin_init!(Shared {
                    dev: ARef::from(dev),
                    greeting,
                    pm: PmCounters::new(),
                    state <- new_mutex!(State {
                        bound: true,
                        data,
                        used: 0,
                        value,
                        open_count: 0,
                    }),
                }? Error),
                GFP_KERNEL,
            )?;

            dev_info!(
                dev,
                "greeting \"{}\", value {}, buffer {} bytes, /dev/{}\n",
                shared.greeting.to_str().unwrap_or("<not UTF-8>"),
                value,
                capacity,
                NAME.to_str().unwrap_or("?")
            );

            let for_files = shared.clone();
            Ok(try_pin_init!(DmData {
                shared,
                misc <- MiscDeviceRegistration::register_with_data(
                    MiscDeviceOptions { name: NAME },
                    for_files,
                ),
            }))
        })
    }

    fn unbind<'bound>(pdev: &'bound platform::Device<Core<'_>>, this: Pin<&DmData>) {
        this.shared.revoke();
        let open = this.shared.state.lock().open_count;
        dev_info!(pdev.as_ref(), "unbound, {} file(s) still open\n", open);
    }
}

/// Counts a sleep callback. The counter saturates at `u32::MAX`: a statistic must neither wrap
/// to small numbers nor make a sleep transition fail.
fn count_pm(dev: &Device, counter: &Atomic<u32>, what: &str) -> Result {
    let mut old = counter.load(Relaxed);
    let n = loop {
        let Some(new) = old.checked_add(1) else {
            break old;
        };
        match counter.cmpxchg(old, new, Relaxed) {
            Ok(_) => break new,
            Err(current) => old = current,
        }
    };
    dev_dbg!(dev, "{} (#{})\n", what, n);
    Ok(())
}

#[vtable]
impl platform::SleepOps for DmDriver {
    fn suspend<'bound>(pdev: &'bound platform::Device<Core<'_>>, this: Pin<&DmData>) -> Result {
        count_pm(pdev.as_ref(), &this.shared.pm.suspend, "suspend")
    }

    fn resume<'bound>(pdev: &'bound platform::Device<Core<'_>>, this: Pin<&DmData>) -> Result {
        count_pm(pdev.as_ref(), &this.shared.pm.resume, "resume")
    }

    fn freeze<'bound>(pdev: &'bound platform::Device<Core<'_>>, this: Pin<&DmData>) -> Result {
        count_pm(pdev.as_ref(), &this.shared.pm.freeze, "freeze")
    }

    fn thaw<'bound>(pdev: &'bound platform::Device<Core<'_>>, this: Pin<&DmData>) -> Result {
        count_pm(pdev.as_ref(), &this.shared.pm.thaw, "thaw")
    }

    fn poweroff<'bound>(pdev: &'bound platform::Device<Core<'_>>, this: Pin<&DmData>) -> Result {
        count_pm(pdev.as_ref(), &this.shared.pm.poweroff, "poweroff")
    }

    fn restore<'bound>(pdev: &'bound platform::Device<Core<'_>>, this: Pin<&DmData>) -> Result {
        count_pm(pdev.as_ref(), &this.shared.pm.restore, "restore")
    }
}

impl platform::DeviceAttributes for DmDriver {
    const GROUPS: &'static [Group] = &[
        Group::new(&[
            Attribute::ro(attr::GREETING, c"greeting"),
            Attribute::rw(attr::VALUE, c"value"),
            Attribute::ro(attr::BUFFER_USED, c"buffer_used"),
            Attribute::ro(attr::BUFFER_SIZE, c"buffer_size"),
            Attribute::ro(attr::OPEN_COUNT, c"open_count"),
        ]),
        Group::named(
            c"pm_counters",
            &[
                Attribute::ro(attr::SUSPEND, c"suspend"),
                Attribute::ro(attr::RESUME, c"resume"),
                Attribute::ro(attr::FREEZE, c"freeze"),
                Attribute::ro(attr::THAW, c"thaw"),
                Attribute::ro(attr::POWEROFF, c"poweroff"),
                Attribute::ro(attr::RESTORE, c"restore"),
            ],
        ),
    ];

    fn show<'bound>(
        _pdev: &'bound platform::Device<Bound>,
        this: Pin<&DmData>,
        attr: &Attribute,
        buf: &mut ShowBuffer<'_>,
    ) -> Result {
        let shared = &this.shared;
        let pm = &shared.pm;
        let n = match attr.id() {
            attr::GREETING => {
                return sysfs_emit!(buf, "{}\n", shared.greeting.to_str().unwrap_or(""));
            }
            attr::VALUE => shared.state.lock().value,
            attr::BUFFER_USED => shared.state.lock().used as u32,
            attr::BUFFER_SIZE => shared.state.lock().data.len() as u32,
            attr::OPEN_COUNT => shared.state.lock().open_count,
            attr::SUSPEND => pm.suspend.load(Relaxed),
            attr::RESUME => pm.resume.load(Relaxed),
            attr::FREEZE => pm.freeze.load(Relaxed),
            attr::THAW => pm.thaw.load(Relaxed),
            attr::POWEROFF => pm.poweroff.load(Relaxed),
            attr::RESTORE => pm.restore.load(Relaxed),
            _ => return Err(EINVAL),
        };
        sysfs_emit!(buf, "{}\n", n)
    }

    fn store<'bound>(
        pdev: &'bound platform::Device<Bound>,
        this: Pin<&DmData>,
        attr: &Attribute,
        input: &[u8],
    ) -> Result {
        if attr.id() != attr::VALUE {
            return Err(EIO);
        }
        let value: u32 = sysfs::parse_int(input)?;
        if value > abi::VALUE_MAX {
            dev_dbg!(pdev.as_ref(), "value {} out of range\n", value);
            return Err(EINVAL);
        }
        this.shared.state.lock().value = value;
        Ok(())
    }
}
