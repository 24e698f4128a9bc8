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
            size: size_of::<abi::Status>() as u32,
            abi_version: abi::ABI_VERSION,
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
// followed by 32 bytes), so all of its bytes are initialized.
unsafe impl AsBytes for abi::Status {}

#[vtable]
impl MiscDevice for Shared {
    type Ptr = Arc<Shared>;
    type RegistrationData = Arc<Shared>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Shared>> {
        let shared = misc.data().clone();
        let count = {
            let mut state = shared.lock_bound()?;
            state.open_count += 1;
            state.open_count
        };
        dev_dbg!(shared.dev, "open ({} open)\n", count);
        Ok(shared)
    }

    fn release(shared: Arc<Shared>, _file: &File) {
        let mut state = shared.state.lock();
        state.open_count = state.open_count.saturating_sub(1);
        dev_dbg!(shared.dev, "release ({} open)\n", state.open_count);
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let shared = kiocb.file();
        let state = shared.lock_bound()?;

        let pos = *kiocb.ki_pos_mut();
        let pos = usize::try_from(pos).map_err(|_| EINVAL)?;
        if pos >= state.used || iov.is_empty() {
            return Ok(0);
        }

        let copied = iov.copy_to_iter(&state.data[pos..state.used]);
        if copied == 0 {
            return Err(EFAULT);
        }
        *kiocb.ki_pos_mut() = (pos + copied) as i64;
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
        let copied = iov.copy_from_iter(&mut state.data[pos..end]);
        if copied == 0 {
            return Err(EFAULT);
        }

        // Writing past the content leaves a hole of zeros, as in a file.
        let used = state.used;
        if pos > used {
            state.data[used..pos].fill(0);
        }
        state.used = used.max(pos + copied);
        *kiocb.ki_pos_mut() = (pos + copied) as i64;
        dev_dbg!(shared.dev, "wrote {} bytes at {}\n", copied, pos);
        Ok(copied)
    }

    fn ioctl(shared: ArcBorrow<'_, Shared>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let mut state = shared.lock_bound()?;
        let user = UserSlice::new(UserPtr::from_addr(arg), abi::ioc_size(cmd));

        match cmd {
            abi::IOC_RESET => {
                state.used = 0;
                state.data.fill(0);
                dev_dbg!(shared.dev, "buffer reset\n");
            }
            abi::IOC_GET_STATUS => {
                let status = shared.status(&state);
                drop(state);
                user.writer().write(&status)?;
            }
            abi::IOC_GET_VALUE => {
                let value = state.value;
                drop(state);
                user.writer().write(&value)?;
            }
            abi::IOC_SET_VALUE => {
                drop(state);
                let value: u32 = user.reader().read()?;
                if value > abi::VALUE_MAX {
                    return Err(EINVAL);
                }
                shared.lock_bound()?.value = value;
                dev_dbg!(shared.dev, "value set to {}\n", value);
            }
            abi::IOC_GET_ABI_VERSION => return Ok(abi::ABI_VERSION as isize),
            _ => {
                dev_dbg!(shared.dev, "unknown ioctl {:#x}\n", cmd);
                return Err(ENOTTY);
            }
        }
        Ok(0)
    }
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

/// Counts a sleep callback.
fn count_pm(dev: &Device, counter: &Atomic<u32>, what: &str) -> Result {
    let n = counter.fetch_add(1, Relaxed) + 1;
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
