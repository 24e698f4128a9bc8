//! Hardware access behind a trait, so the checks can run against a simulated board in tests.
//!
//! [`RealPlatform`] is the board: rppal for the BCM GPIO registers (read-only for pins the
//! kernel owns), evdev for input devices, `rpibsp-abi` for the devicemodel device.

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rpibsp_abi::{DeviceModel, Errno, Status};

use crate::interrupt::Interrupt;

/// Longest uninterrupted wait of the real platform: a signal is noticed within this time.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// Function select of a BCM GPIO pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpioFunction {
    /// Input.
    Input,
    /// Output.
    Output,
    /// Alternate function N.
    Alt(u8),
}

impl std::fmt::Display for GpioFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GpioFunction::Input => write!(f, "input"),
            GpioFunction::Output => write!(f, "output"),
            GpioFunction::Alt(n) => write!(f, "alt{n}"),
        }
    }
}

/// Function and level of a BCM GPIO pin, read from the GPIO registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpioReading {
    /// Function select.
    pub function: GpioFunction,
    /// Level register bit.
    pub high: bool,
}

/// An event read from an evdev device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputEvent {
    /// `EV_KEY` with code and value (1 press, 0 release, 2 autorepeat).
    Key {
        /// Key code.
        code: u16,
        /// Value.
        value: i32,
    },
    /// `EV_SYN` / `SYN_REPORT`.
    Syn,
    /// Anything else.
    Other {
        /// Event type.
        kind: u16,
        /// Code.
        code: u16,
        /// Value.
        value: i32,
    },
}

impl std::fmt::Display for InputEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputEvent::Key { code, value } => write!(f, "EV_KEY code {code} value {value}"),
            InputEvent::Syn => write!(f, "EV_SYN"),
            InputEvent::Other { kind, code, value } => {
                write!(f, "type {kind} code {code} value {value}")
            }
        }
    }
}

/// Errors of the hardware access layer.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// rppal could not be set up or refused a pin.
    #[error("{0}")]
    Gpio(String),
    /// An input device could not be opened or read.
    #[error("{}: {source}", path.display())]
    Input {
        /// Device node.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// The devicemodel device could not be opened.
    #[error(transparent)]
    DeviceModel(#[from] rpibsp_abi::Error),
}

/// An open evdev device.
pub trait InputDevice {
    /// Whether `code` is currently down (`EVIOCGKEY`).
    fn key_down(&mut self, code: u16) -> Result<bool, PlatformError>;
    /// The next event, or `None` after `timeout`.
    fn next_event(&mut self, timeout: Duration) -> Result<Option<InputEvent>, PlatformError>;
}

/// An open `/dev/rpibsp-devicemodel`. Errors are the raw errno, so checks can compare them.
pub trait DevModel {
    /// `IOC_GET_ABI_VERSION`.
    fn abi_version(&mut self) -> Result<u32, Errno>;
    /// `IOC_GET_STATUS`.
    fn status(&mut self) -> Result<Status, Errno>;
    /// `IOC_GET_VALUE`.
    fn value(&mut self) -> Result<u32, Errno>;
    /// `IOC_SET_VALUE`.
    fn set_value(&mut self, value: u32) -> Result<(), Errno>;
    /// `IOC_RESET`.
    fn reset(&mut self) -> Result<(), Errno>;
    /// Any ioctl with a NULL argument pointer (for ENOTTY and EFAULT checks). Memory safe:
    /// the kernel cannot write through a NULL user pointer, it fails with EFAULT.
    fn ioctl_null(&mut self, cmd: u32) -> Result<i32, Errno>;
    /// `read(2)`.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno>;
    /// `write(2)`.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno>;
    /// `pread(2)`.
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno>;
    /// `pwrite(2)`.
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno>;
    /// A second open file description of the same device.
    fn reopen(&mut self) -> Result<Box<dyn DevModel>, Errno>;
}

/// What `stat(2)` says about a device node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevNodeInfo {
    /// It is a character device.
    pub is_char: bool,
    /// Permission bits.
    pub mode: u32,
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
}

/// Everything the checks need from the hardware besides plain sysfs/devtree files.
pub trait Platform {
    /// Reads function and level of a BCM GPIO pin, without changing it.
    fn bcm_gpio(&mut self, pin: u8) -> Result<GpioReading, PlatformError>;
    /// Drives a spare BCM GPIO as output (loopback mode). The pin stays driven until
    /// [`Platform::release_outputs`].
    fn drive_bcm_gpio(&mut self, pin: u8, high: bool) -> Result<(), PlatformError>;
    /// Returns every pin driven by [`Platform::drive_bcm_gpio`] to its previous mode.
    fn release_outputs(&mut self);
    /// The signal (SIGINT/SIGTERM) that interrupted the run, if any. Waits of the platform
    /// should return early once it is set.
    fn interrupted(&self) -> Option<i32> {
        None
    }
    /// Opens an evdev node.
    fn open_input(&mut self, devnode: &Path) -> Result<Box<dyn InputDevice>, PlatformError>;
    /// Opens the devicemodel node.
    fn open_devicemodel(&mut self, devnode: &Path) -> Result<Box<dyn DevModel>, PlatformError>;
    /// Label of a `/dev/gpiochipN` (GPIO_GET_CHIPINFO_IOCTL), if it can be read.
    fn gpiochip_label(&mut self, devnode: &Path) -> Option<String>;
    /// Tells the person at the board what to do (interactive mode).
    fn tell_user(&mut self, text: &str) {
        eprintln!("{text}");
    }
    /// Waits.
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
    /// `stat(2)` of a device node.
    fn devnode_info(&mut self, path: &Path) -> io::Result<DevNodeInfo> {
        let md = fs::metadata(path)?;
        let rdev = md.rdev();
        Ok(DevNodeInfo {
            is_char: md.file_type().is_char_device(),
            mode: md.mode() & 0o7777,
            major: nix::sys::stat::major(rdev) as u32,
            minor: nix::sys::stat::minor(rdev) as u32,
        })
    }
}

#[repr(C)]
struct GpioChipInfo {
    name: [u8; 32],
    label: [u8; 32],
    lines: u32,
}

nix::ioctl_read!(gpio_get_chipinfo, 0xB4, 0x01, GpioChipInfo);

fn cstr(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Reads the label of a GPIO character device with `GPIO_GET_CHIPINFO_IOCTL`.
pub fn read_gpiochip_label(devnode: &Path) -> io::Result<String> {
    use std::os::fd::AsRawFd;
    let f = fs::File::open(devnode)?;
    let mut info = GpioChipInfo {
        name: [0; 32],
        label: [0; 32],
        lines: 0,
    };
    // SAFETY: `info` matches `struct gpiochip_info` of <linux/gpio.h>.
    unsafe { gpio_get_chipinfo(f.as_raw_fd(), &mut info) }.map_err(io::Error::from)?;
    Ok(cstr(&info.label))
}

/// Output pins driven by the real platform. Shared with the signal watchdog, so it can put
/// them back to input even when the run is stuck.
type Outputs = Arc<Mutex<BTreeMap<u8, rppal::gpio::OutputPin>>>;

fn release(outputs: &Outputs) {
    // Dropping an OutputPin (reset_on_drop, rppal's default) puts the pin back into the mode
    // it had before: input, as drive_bcm_gpio only takes unused inputs.
    outputs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// The real board.
#[derive(Default)]
pub struct RealPlatform {
    gpio: Option<rppal::gpio::Gpio>,
    outputs: Outputs,
    interrupt: Interrupt,
}

impl RealPlatform {
    /// A platform that opens the GPIO registers on first use (never interrupted).
    pub fn new() -> Self {
        Self::default()
    }

    /// A platform whose waits end when `interrupt` fires and whose driven pins are released
    /// by the interrupt's forced exit too.
    pub fn with_interrupt(interrupt: Interrupt) -> Self {
        let platform = RealPlatform {
            interrupt,
            ..RealPlatform::default()
        };
        let outputs = platform.outputs.clone();
        platform.interrupt.on_forced_exit(move || release(&outputs));
        platform
    }

    fn gpio(&mut self) -> Result<&rppal::gpio::Gpio, PlatformError> {
        if self.gpio.is_none() {
            let gpio =
                rppal::gpio::Gpio::new().map_err(|e| PlatformError::Gpio(explain_rppal(&e)))?;
            self.gpio = Some(gpio);
        }
        Ok(self.gpio.as_ref().expect("initialised above"))
    }
}

/// Turns an rppal setup error into a message that says what to fix.
pub fn explain_rppal(e: &rppal::gpio::Error) -> String {
    use rppal::gpio::Error as E;
    match e {
        E::UnknownModel => {
            let compat = fs::read("/sys/firmware/devicetree/base/compatible")
                .map(|raw| {
                    raw.split(|&b| b == 0)
                        .filter(|s| !s.is_empty())
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|err| format!("unreadable: {err}"));
            format!(
                "rppal cannot identify the Raspberry Pi model: /proc/cpuinfo has no known \
                 `Revision` and /sys/firmware/devicetree/base/compatible ({compat}) has no \
                 raspberrypi,* entry it knows (is /sys mounted?)"
            )
        }
        E::PermissionDenied(path) => {
            format!("rppal: permission denied opening {path}: run rpibsp-verify as root")
        }
        E::Io(io) if io.kind() == io::ErrorKind::NotFound => {
            let mut why = Vec::new();
            if !Path::new("/dev/gpiomem").exists() && !Path::new("/dev/mem").exists() {
                why.push(
                    "neither /dev/gpiomem nor /dev/mem exists (CONFIG_DEVMEM=y? devtmpfs on /dev?)"
                        .to_string(),
                );
            }
            let mut chips = Vec::new();
            for n in 0..64 {
                let p = PathBuf::from(format!("/dev/gpiochip{n}"));
                if !p.exists() {
                    continue;
                }
                chips.push(format!(
                    "gpiochip{n}={}",
                    read_gpiochip_label(&p).unwrap_or_else(|e| format!("<{e}>"))
                ));
            }
            if !chips
                .iter()
                .any(|c| c.contains("pinctrl-bcm2835") || c.contains("pinctrl-bcm2711"))
            {
                why.push(format!(
                    "no /dev/gpiochipN labelled pinctrl-bcm2835 or pinctrl-bcm2711 (rppal needs it; found: {}); \
                     rppal also stops at the first missing gpiochip number",
                    if chips.is_empty() { "none".to_string() } else { chips.join(", ") }
                ));
            }
            if why.is_empty() {
                why.push(io.to_string());
            }
            format!("rppal cannot open the GPIO: {}", why.join("; "))
        }
        other => format!("rppal: {other}"),
    }
}

fn function_of(mode: rppal::gpio::Mode) -> GpioFunction {
    use rppal::gpio::Mode;
    match mode {
        Mode::Input => GpioFunction::Input,
        Mode::Output => GpioFunction::Output,
        Mode::Alt0 => GpioFunction::Alt(0),
        Mode::Alt1 => GpioFunction::Alt(1),
        Mode::Alt2 => GpioFunction::Alt(2),
        Mode::Alt3 => GpioFunction::Alt(3),
        Mode::Alt4 => GpioFunction::Alt(4),
        Mode::Alt5 => GpioFunction::Alt(5),
        Mode::Alt6 => GpioFunction::Alt(6),
        Mode::Alt7 => GpioFunction::Alt(7),
        Mode::Alt8 => GpioFunction::Alt(8),
        _ => GpioFunction::Alt(255),
    }
}

impl Platform for RealPlatform {
    fn bcm_gpio(&mut self, pin: u8) -> Result<GpioReading, PlatformError> {
        if let Some(out) = self
            .outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&pin)
        {
            return Ok(GpioReading {
                function: GpioFunction::Output,
                high: out.is_set_high(),
            });
        }
        // `Gpio::get` only marks the pin as taken inside rppal; `mode()` and `read()` read
        // GPFSELn/GPLEVn. Dropping the `Pin` releases it without touching the registers,
        // so the kernel's configuration of the pin is left alone.
        let pin_handle = self
            .gpio()?
            .get(pin)
            .map_err(|e| PlatformError::Gpio(format!("rppal: GPIO {pin}: {e}")))?;
        Ok(GpioReading {
            function: function_of(pin_handle.mode()),
            high: pin_handle.read() == rppal::gpio::Level::High,
        })
    }

    fn drive_bcm_gpio(&mut self, pin: u8, high: bool) -> Result<(), PlatformError> {
        if let Some(out) = self
            .outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&pin)
        {
            if high {
                out.set_high();
            } else {
                out.set_low();
            }
            return Ok(());
        }
        let handle = self
            .gpio()?
            .get(pin)
            .map_err(|e| PlatformError::Gpio(format!("rppal: GPIO {pin}: {e}")))?;
        let mode = handle.mode();
        if mode != rppal::gpio::Mode::Input {
            return Err(PlatformError::Gpio(format!(
                "refusing to drive GPIO {pin}: it is in mode {mode}, so something else uses it \
                 (loopback pins must be unused inputs)"
            )));
        }
        // reset_on_drop (the default) puts the pin back to input when released.
        let out = if high {
            handle.into_output_high()
        } else {
            handle.into_output_low()
        };
        self.outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pin, out);
        Ok(())
    }

    fn release_outputs(&mut self) {
        release(&self.outputs);
    }

    fn interrupted(&self) -> Option<i32> {
        self.interrupt.signal()
    }

    fn sleep(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while self.interrupt.signal().is_none() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(WAIT_SLICE));
        }
    }

    fn open_input(&mut self, devnode: &Path) -> Result<Box<dyn InputDevice>, PlatformError> {
        let dev =
            evdev::raw_stream::RawDevice::open(devnode).map_err(|source| PlatformError::Input {
                path: devnode.to_owned(),
                source,
            })?;
        Ok(Box::new(EvdevInput {
            dev,
            path: devnode.to_owned(),
            queue: VecDeque::new(),
            interrupt: self.interrupt.clone(),
        }))
    }

    fn open_devicemodel(&mut self, devnode: &Path) -> Result<Box<dyn DevModel>, PlatformError> {
        Ok(Box::new(RealDevModel(DeviceModel::open(devnode)?)))
    }

    fn gpiochip_label(&mut self, devnode: &Path) -> Option<String> {
        read_gpiochip_label(devnode).ok()
    }
}

struct EvdevInput {
    dev: evdev::raw_stream::RawDevice,
    path: PathBuf,
    queue: VecDeque<InputEvent>,
    interrupt: Interrupt,
}

impl EvdevInput {
    fn err(&self, source: io::Error) -> PlatformError {
        PlatformError::Input {
            path: self.path.clone(),
            source,
        }
    }
}

impl InputDevice for EvdevInput {
    fn key_down(&mut self, code: u16) -> Result<bool, PlatformError> {
        let state = self.dev.get_key_state().map_err(|e| self.err(e))?;
        Ok(state.contains(evdev::KeyCode::new(code)))
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Option<InputEvent>, PlatformError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Ok(Some(ev));
            }
            if self.interrupt.signal().is_some() {
                return Ok(None);
            }
            // Slices, so a signal ends the wait. A zero timeout still polls once, so pending
            // events are drained.
            let left = deadline
                .saturating_duration_since(Instant::now())
                .min(WAIT_SLICE);
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            let ready = {
                let mut fds = [PollFd::new(self.dev.as_fd(), PollFlags::POLLIN)];
                match poll(
                    &mut fds,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                ) {
                    Ok(n) => n > 0,
                    Err(Errno::EINTR) => false,
                    Err(e) => return Err(self.err(e.into())),
                }
            };
            if !ready {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                continue;
            }
            let fetched: io::Result<Vec<_>> = self.dev.fetch_events().map(|evs| evs.collect());
            let events = fetched.map_err(|e| self.err(e))?;
            for ev in events {
                let kind = ev.event_type();
                let converted = if kind == evdev::EventType::KEY {
                    InputEvent::Key {
                        code: ev.code(),
                        value: ev.value(),
                    }
                } else if kind == evdev::EventType::SYNCHRONIZATION {
                    InputEvent::Syn
                } else {
                    InputEvent::Other {
                        kind: kind.0,
                        code: ev.code(),
                        value: ev.value(),
                    }
                };
                self.queue.push_back(converted);
            }
        }
    }
}

struct RealDevModel(DeviceModel);

fn errno_of(e: rpibsp_abi::Error) -> Errno {
    e.errno().unwrap_or(Errno::EIO)
}

fn io_errno(e: io::Error) -> Errno {
    e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO)
}

impl DevModel for RealDevModel {
    fn abi_version(&mut self) -> Result<u32, Errno> {
        self.0.abi_version().map_err(errno_of)
    }
    fn status(&mut self) -> Result<Status, Errno> {
        self.0.status().map_err(errno_of)
    }
    fn value(&mut self) -> Result<u32, Errno> {
        self.0.value().map_err(errno_of)
    }
    fn set_value(&mut self, value: u32) -> Result<(), Errno> {
        self.0.set_value(value).map_err(errno_of)
    }
    fn reset(&mut self) -> Result<(), Errno> {
        self.0.reset().map_err(errno_of)
    }
    fn ioctl_null(&mut self, cmd: u32) -> Result<i32, Errno> {
        // SAFETY: a NULL argument can never make the kernel write into our memory.
        unsafe { self.0.raw_ioctl(cmd, 0) }
    }
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        io::Read::read(&mut self.0, buf).map_err(io_errno)
    }
    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno> {
        io::Write::write(&mut self.0, buf).map_err(io_errno)
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        std::os::unix::fs::FileExt::read_at(self.0.file(), buf, offset).map_err(io_errno)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        std::os::unix::fs::FileExt::write_at(self.0.file(), buf, offset).map_err(io_errno)
    }
    fn reopen(&mut self) -> Result<Box<dyn DevModel>, Errno> {
        Ok(Box::new(RealDevModel(self.0.reopen().map_err(errno_of)?)))
    }
}
