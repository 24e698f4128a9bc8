//! sysfs access relative to an injectable root, and discovery of the BSP's devices in it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::devtree::DtNode;
use crate::Roots;

/// sysfs access errors.
#[derive(Debug, thiserror::Error)]
pub enum SysfsError {
    /// Reading an attribute failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// Attribute path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// Writing an attribute failed.
    #[error("cannot write {value:?} to {}: {source}", path.display())]
    Write {
        /// Attribute path.
        path: PathBuf,
        /// What was written.
        value: String,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// An attribute did not hold what was expected.
    #[error("{}: unexpected content {content:?} ({expected})", path.display())]
    Parse {
        /// Attribute path.
        path: PathBuf,
        /// What it held.
        content: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// Reads an attribute and trims the trailing newline.
pub fn read_trim(path: &Path) -> Result<String, SysfsError> {
    fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\0']).trim().to_string())
        .map_err(|source| SysfsError::Read {
            path: path.to_owned(),
            source,
        })
}

/// Reads an unsigned integer attribute.
pub fn read_u64(path: &Path) -> Result<u64, SysfsError> {
    let s = read_trim(path)?;
    s.parse().map_err(|_| SysfsError::Parse {
        path: path.to_owned(),
        content: s,
        expected: "an unsigned integer",
    })
}

/// Writes an attribute (one `write(2)`, as sysfs wants).
pub fn write_str(path: &Path, value: &str) -> Result<(), SysfsError> {
    fs::write(path, value.as_bytes()).map_err(|source| SysfsError::Write {
        path: path.to_owned(),
        value: value.to_string(),
        source,
    })
}

/// Canonical form of a path (symlinks resolved), if it exists.
pub fn canon(path: &Path) -> Option<PathBuf> {
    fs::canonicalize(path).ok()
}

/// Last component of a symlink's target, e.g. the driver name behind `.../driver`.
pub fn link_name(path: &Path) -> Option<String> {
    let target = fs::read_link(path).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// Names in a directory, sorted; empty if it cannot be read.
pub fn list_dir(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort_by_key(|n| natural_key(n));
    names
}

fn natural_key(s: &str) -> (String, u64) {
    let digits: String = s.chars().rev().take_while(|c| c.is_ascii_digit()).collect();
    let n = digits
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    (s[..s.len() - digits.len()].to_string(), n)
}

/// A platform driver and the devices bound to it.
#[derive(Clone, Debug)]
pub struct DriverBinding {
    /// `/sys/bus/platform/drivers/<name>` exists.
    pub registered: bool,
    /// Canonical sysfs directories of the bound devices.
    pub devices: Vec<PathBuf>,
}

/// Looks at `/sys/bus/platform/drivers/<driver>/`.
pub fn platform_driver(roots: &Roots, driver: &str) -> DriverBinding {
    let dir = roots.sys.join("bus/platform/drivers").join(driver);
    if !dir.is_dir() {
        return DriverBinding {
            registered: false,
            devices: Vec::new(),
        };
    }
    let mut devices = Vec::new();
    for name in list_dir(&dir) {
        if matches!(
            name.as_str(),
            "module" | "bind" | "unbind" | "uevent" | "new_id" | "remove_id"
        ) {
            continue;
        }
        let entry = dir.join(&name);
        let is_link = fs::symlink_metadata(&entry)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if is_link {
            if let Some(c) = canon(&entry) {
                devices.push(c);
            }
        }
    }
    DriverBinding {
        registered: true,
        devices,
    }
}

/// The kernel module name of a platform driver name (`rpibsp-led` -> `rpibsp_led`).
pub fn module_name(driver: &str) -> String {
    driver.replace('-', "_")
}

/// Whether `/sys/module/<module>` exists (module loaded or built in).
pub fn module_loaded(roots: &Roots, module: &str) -> bool {
    roots.sys.join("module").join(module).is_dir()
}

/// The platform device created for a device-tree node, found through the devices'
/// `of_node` links.
pub fn platform_device_for_node(roots: &Roots, node: &DtNode) -> Option<PathBuf> {
    let want = canon(&node.dir)?;
    let devices = roots.sys.join("bus/platform/devices");
    list_dir(&devices).into_iter().find_map(|name| {
        let dev = devices.join(&name);
        (canon(&dev.join("of_node")).as_deref() == Some(want.as_path()))
            .then(|| canon(&dev))
            .flatten()
    })
}

/// Name of the driver bound to a device directory.
pub fn bound_driver(dev: &Path) -> Option<String> {
    link_name(&dev.join("driver"))
}

/// Reasons from `/sys/kernel/debug/devices_deferred` mentioning `dev_name`, if debugfs is
/// mounted.
pub fn deferred_reason(roots: &Roots, dev_name: &str) -> Option<String> {
    let text = fs::read_to_string(roots.sys.join("kernel/debug/devices_deferred")).ok()?;
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(dev_name))
        .map(|l| l.trim().to_string())
}

/// An LED class device.
#[derive(Clone, Debug)]
pub struct LedDev {
    /// Its name (`/sys/class/leds/<name>`).
    pub name: String,
    /// Its sysfs directory.
    pub dir: PathBuf,
}

impl LedDev {
    /// `brightness` attribute path.
    pub fn brightness_path(&self) -> PathBuf {
        self.dir.join("brightness")
    }

    /// Reads `brightness`.
    pub fn brightness(&self) -> Result<u64, SysfsError> {
        read_u64(&self.brightness_path())
    }

    /// Reads `max_brightness`.
    pub fn max_brightness(&self) -> Result<u64, SysfsError> {
        read_u64(&self.dir.join("max_brightness"))
    }

    /// Writes `brightness`.
    pub fn set_brightness(&self, value: u64) -> Result<(), SysfsError> {
        write_str(&self.brightness_path(), &value.to_string())
    }

    /// Reads `trigger`: (available triggers, active one).
    pub fn triggers(&self) -> Result<(Vec<String>, Option<String>), SysfsError> {
        let text = read_trim(&self.dir.join("trigger"))?;
        Ok(parse_triggers(&text))
    }

    /// Writes `trigger`.
    pub fn set_trigger(&self, name: &str) -> Result<(), SysfsError> {
        write_str(&self.dir.join("trigger"), name)
    }
}

/// Parses the LED `trigger` attribute: `none [rpibsp-button] timer` -> all names and the
/// active one.
pub fn parse_triggers(text: &str) -> (Vec<String>, Option<String>) {
    let mut all = Vec::new();
    let mut active = None;
    for word in text.split_whitespace() {
        if let Some(inner) = word.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
            active = Some(inner.to_string());
            all.push(inner.to_string());
        } else {
            all.push(word.to_string());
        }
    }
    (all, active)
}

/// All LED class devices, with the canonical directory of their parent device.
pub fn leds(roots: &Roots) -> Vec<(LedDev, Option<PathBuf>)> {
    let class = roots.sys.join("class/leds");
    list_dir(&class)
        .into_iter()
        .map(|name| {
            let link = class.join(&name);
            let dir = canon(&link).unwrap_or(link);
            let parent = canon(&dir.join("device"));
            (LedDev { name, dir }, parent)
        })
        .collect()
}

/// An evdev input device node.
#[derive(Clone, Debug)]
pub struct InputDev {
    /// `eventN`.
    pub event: String,
    /// Canonical sysfs directory of the `eventN` class device.
    pub dir: PathBuf,
    /// Device node below the `/dev` root.
    pub devnode: PathBuf,
    /// `name` of the input device.
    pub name: String,
    /// `phys` of the input device.
    pub phys: String,
}

impl InputDev {
    /// The `inputN` directory (parent of `eventN`).
    pub fn input_dir(&self) -> PathBuf {
        canon(&self.dir.join("device")).unwrap_or_else(|| self.dir.join("device"))
    }

    /// Whether `capabilities/key` of the input device has `code` set.
    pub fn has_key(&self, code: u16) -> Result<bool, SysfsError> {
        let path = self.input_dir().join("capabilities/key");
        let text = read_trim(&path)?;
        parse_bitmap(&text, code as usize).ok_or(SysfsError::Parse {
            path,
            content: text,
            expected: "space-separated hex words",
        })
    }
}

/// Tests bit `bit` of a sysfs input bitmap (hex words, most significant first, each word
/// as wide as the kernel's `long`, 64 bits on arm64).
pub fn parse_bitmap(text: &str, bit: usize) -> Option<bool> {
    let words: Vec<u64> = text
        .split_whitespace()
        .map(|w| u64::from_str_radix(w, 16).ok())
        .collect::<Option<_>>()?;
    if words.is_empty() {
        return None;
    }
    let idx_from_low = bit / 64;
    if idx_from_low >= words.len() {
        return Some(false);
    }
    let word = words[words.len() - 1 - idx_from_low];
    Some(word >> (bit % 64) & 1 == 1)
}

/// All `eventN` input devices.
pub fn input_devices(roots: &Roots) -> Vec<InputDev> {
    let class = roots.sys.join("class/input");
    list_dir(&class)
        .into_iter()
        .filter(|n| n.starts_with("event"))
        .map(|event| {
            let link = class.join(&event);
            let dir = canon(&link).unwrap_or(link);
            let devname = fs::read_to_string(dir.join("uevent"))
                .ok()
                .and_then(|u| {
                    u.lines()
                        .find_map(|l| l.strip_prefix("DEVNAME=").map(str::to_string))
                })
                .unwrap_or_else(|| format!("input/{event}"));
            let input = dir.join("device");
            InputDev {
                devnode: roots.dev.join(devname),
                name: read_trim(&input.join("name")).unwrap_or_default(),
                phys: read_trim(&input.join("phys")).unwrap_or_default(),
                event,
                dir,
            }
        })
        .collect()
}

/// A gpio-sim chip.
#[derive(Clone, Debug)]
pub struct SimChip {
    /// Canonical sysfs directory of the `gpiochipN` device (holds `sim_gpioN/`).
    pub dir: PathBuf,
    /// `gpiochipN`.
    pub chip: String,
    /// Its label (from the device tree `gpio-sim,label`, or the chip info ioctl).
    pub label: Option<String>,
    /// Canonical directory of its device-tree node (the bank), if linked.
    pub of_node: Option<PathBuf>,
}

impl SimChip {
    /// The `pull` attribute of a line.
    pub fn pull_path(&self, line: u32) -> PathBuf {
        self.dir.join(format!("sim_gpio{line}/pull"))
    }

    /// The `value` attribute of a line.
    pub fn value_path(&self, line: u32) -> PathBuf {
        self.dir.join(format!("sim_gpio{line}/value"))
    }
}

/// All gpio-sim chips (gpiochip devices with `sim_gpio0`). `label_of` is asked for the label
/// when the device tree does not give it (argument: the `/dev/gpiochipN` node).
pub fn sim_chips(roots: &Roots, mut label_of: impl FnMut(&Path) -> Option<String>) -> Vec<SimChip> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let gpio_bus = roots.sys.join("bus/gpio/devices");
    for name in list_dir(&gpio_bus) {
        if let Some(c) = canon(&gpio_bus.join(name)) {
            dirs.push(c);
        }
    }
    let platform = roots.sys.join("bus/platform/devices");
    for dev in list_dir(&platform) {
        let dev = platform.join(dev);
        for name in list_dir(&dev) {
            if name.starts_with("gpiochip") {
                if let Some(c) = canon(&dev.join(name)) {
                    dirs.push(c);
                }
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs.into_iter()
        .filter(|d| d.join("sim_gpio0").is_dir())
        .map(|dir| {
            let chip = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let of_node = canon(&dir.join("of_node"));
            let label = of_node
                .as_ref()
                .and_then(|n| fs::read(n.join("gpio-sim,label")).ok())
                .and_then(|raw| crate::devtree::split_strings(&raw))
                .and_then(|v| v.into_iter().next())
                .or_else(|| label_of(&roots.dev.join(&chip)));
            SimChip {
                dir,
                chip,
                label,
                of_node,
            }
        })
        .collect()
}
