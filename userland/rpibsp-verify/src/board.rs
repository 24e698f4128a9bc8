//! Finding the BSP's pieces: device-tree nodes by compatible, their platform devices, the
//! LED class device, the button input devices and the gpio-sim chip. Every `Err` is a
//! sentence saying what is missing and where it was looked for.

use std::path::{Path, PathBuf};

use crate::devtree::{gpio_spec, DtIndex, DtNode, GpioSpec};
use crate::names;
use crate::platform::Platform;
use crate::sysfs::{self, InputDev, LedDev, SimChip};
use crate::Roots;

/// Loads the live device tree, with a message that says what to do if it is missing.
pub fn load_tree(roots: &Roots) -> Result<DtIndex, String> {
    DtIndex::load(&roots.devtree).map_err(|e| {
        format!(
            "cannot read the live device tree at {} ({e}): is /proc mounted and was the kernel \
             booted with a device tree?",
            roots.devtree.display()
        )
    })
}

/// A button node with its properties decoded (missing or malformed ones as `Err`).
#[derive(Clone, Debug)]
pub struct Button {
    /// The node.
    pub node: DtNode,
    /// `linux,code`.
    pub code: Result<u32, String>,
    /// `gpios`.
    pub gpio: Result<GpioSpec, String>,
    /// `label` (or the node name).
    pub label: String,
    /// `debounce-interval` in ms (default 20).
    pub debounce_ms: Result<u32, String>,
    /// `rpibsp,debounce-mode` (default "stable").
    pub debounce_mode: Result<String, String>,
    /// `rpibsp,led-action` (default "none").
    pub led_action: Result<String, String>,
}

impl Button {
    /// Decodes a `rpibsp,gpio-button` node.
    pub fn from_node(node: &DtNode) -> Button {
        let req_u32 = |prop: &str| match node.u32(prop) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(format!(
                "{}: required property `{prop}` is missing",
                node.path
            )),
            Err(e) => Err(e.to_string()),
        };
        let opt_str = |prop: &str, default: &str| match node.string(prop) {
            Ok(v) => Ok(v.unwrap_or_else(|| default.to_string())),
            Err(e) => Err(e.to_string()),
        };
        Button {
            code: req_u32("linux,code"),
            gpio: match gpio_spec(node, "gpios") {
                Ok(Some(g)) => Ok(g),
                Ok(None) => Err(format!(
                    "{}: required property `gpios` is missing",
                    node.path
                )),
                Err(e) => Err(e.to_string()),
            },
            label: node
                .string("label")
                .ok()
                .flatten()
                .unwrap_or_else(|| node.name().to_string()),
            debounce_ms: match node.u32("debounce-interval") {
                Ok(v) => Ok(v.unwrap_or(20)),
                Err(e) => Err(e.to_string()),
            },
            debounce_mode: opt_str("rpibsp,debounce-mode", "stable"),
            led_action: opt_str("rpibsp,led-action", "none"),
            node: node.clone(),
        }
    }

    /// The button GPIO (BCM number or gpio-sim line), if the `gpios` property is valid.
    pub fn line(&self) -> Option<u32> {
        self.gpio.as_ref().ok().map(|g| g.line)
    }

    /// A short description: `rpibsp-button-on (KEY 148, line 17)`.
    pub fn describe(&self) -> String {
        let code = self
            .code
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_else(|_| "?".into());
        let line = self
            .line()
            .map(|l| l.to_string())
            .unwrap_or_else(|| "?".into());
        format!("{} (key {code}, GPIO line {line})", self.node.path)
    }
}

/// The gpio-sim chip labelled "rpibsp-sim", if the board has one.
pub fn find_sim_chip(roots: &Roots, platform: &mut dyn Platform) -> Option<SimChip> {
    sysfs::sim_chips(roots, |dev| platform.gpiochip_label(dev))
        .into_iter()
        .find(|c| c.label.as_deref() == Some(names::SIM_LABEL))
}

/// What kind of controller a phandle points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Controller {
    /// The SoC's GPIO block (brcm,bcm2835-gpio / brcm,bcm2711-gpio).
    Bcm(String),
    /// A gpio-sim bank with this label.
    Sim(Option<String>, String),
    /// Something else.
    Other(String),
    /// No node has this phandle.
    Dangling(u32),
}

impl std::fmt::Display for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Controller::Bcm(path) => write!(f, "BCM GPIO controller {path}"),
            Controller::Sim(Some(label), path) => write!(f, "gpio-sim bank {label:?} {path}"),
            Controller::Sim(None, path) => write!(f, "unlabelled gpio-sim bank {path}"),
            Controller::Other(path) => write!(f, "controller {path}"),
            Controller::Dangling(ph) => write!(f, "phandle {ph:#x}, which no node has"),
        }
    }
}

/// Classifies the controller a GPIO specifier points at.
pub fn controller_of(index: &DtIndex, spec: &GpioSpec) -> Controller {
    let Some(node) = index.by_phandle(spec.phandle) else {
        return Controller::Dangling(spec.phandle);
    };
    let is_bcm = node
        .compatible
        .iter()
        .any(|c| c == "brcm,bcm2835-gpio" || c == "brcm,bcm2711-gpio");
    if is_bcm {
        return Controller::Bcm(node.path.clone());
    }
    let parent_is_sim = index
        .parent(node)
        .map(|p| p.compatible.iter().any(|c| c == names::COMPAT_GPIO_SIM))
        .unwrap_or(false);
    if parent_is_sim
        || node.compatible.iter().any(|c| c == names::COMPAT_GPIO_SIM)
        || node.has("gpio-sim,label")
    {
        let label = node.string("gpio-sim,label").ok().flatten();
        return Controller::Sim(label, node.path.clone());
    }
    Controller::Other(node.path.clone())
}

/// The LED class device whose parent is the device bound to `rpibsp-led`.
pub fn find_led(roots: &Roots) -> Result<LedDev, String> {
    let binding = sysfs::platform_driver(roots, names::DRIVER_LED);
    if !binding.registered {
        return Err(format!(
            "platform driver {} is not registered (no {}): load rpibsp_led.ko",
            names::DRIVER_LED,
            roots
                .sys
                .join("bus/platform/drivers")
                .join(names::DRIVER_LED)
                .display()
        ));
    }
    if binding.devices.is_empty() {
        return Err(format!(
            "no device is bound to platform driver {}: probe failed or the overlay node is missing",
            names::DRIVER_LED
        ));
    }
    let all = sysfs::leds(roots);
    if let Some((led, _)) = all.iter().find(|(_, parent)| {
        parent
            .as_ref()
            .map(|p| binding.devices.contains(p))
            .unwrap_or(false)
    }) {
        return Ok(led.clone());
    }
    let found: Vec<String> = all
        .iter()
        .map(|(l, p)| {
            format!(
                "{} (device {})",
                l.name,
                p.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "none".into())
            )
        })
        .collect();
    Err(format!(
        "no LED class device under {} belongs to {} (bound device: {}; LEDs found: {}): the driver \
         did not register its LED (devm_led_classdev_register)",
        roots.sys.join("class/leds").display(),
        names::DRIVER_LED,
        binding.devices[0].display(),
        if found.is_empty() { "none".to_string() } else { found.join(", ") }
    ))
}

/// Input devices belonging to a platform device (by sysfs hierarchy), or failing that by
/// name (the button's DT label).
pub fn find_inputs(
    roots: &Roots,
    platform_dev: Option<&Path>,
    label: &str,
) -> (Vec<InputDev>, &'static str) {
    let all = sysfs::input_devices(roots);
    if let Some(dev) = platform_dev {
        let by_link: Vec<InputDev> = all
            .iter()
            .filter(|i| i.dir.starts_with(dev))
            .cloned()
            .collect();
        if !by_link.is_empty() {
            return (by_link, "sysfs parent link");
        }
    }
    let by_name: Vec<InputDev> = all.into_iter().filter(|i| i.name == label).collect();
    (by_name, "input device name = DT label")
}

/// The platform device of a node and the driver bound to it, as text for messages.
pub fn binding_of(roots: &Roots, node: &DtNode) -> (Option<PathBuf>, Option<String>) {
    let dev = sysfs::platform_device_for_node(roots, node);
    let drv = dev.as_deref().and_then(sysfs::bound_driver);
    (dev, drv)
}
