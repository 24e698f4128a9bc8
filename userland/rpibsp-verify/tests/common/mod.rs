//! A fake board for host-side tests: a sysfs / device-tree / dev tree in a temporary
//! directory laid out like the kernel's, and a [`FakeBoard`] platform that plays the kernel
//! drivers (button events, LED trigger, GPIO 4, devicemodel buffer) on top of those files.
//! Bugs can be switched on to check that rpibsp-verify catches them.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use rpibsp_abi::{
    Errno, Status, ABI_VERSION, IOC_GET_STATUS, IOC_GET_VALUE, IOC_MAGIC, IOC_SET_VALUE, VALUE_MAX,
};
use rpibsp_verify::interrupt::Interrupt;
use rpibsp_verify::platform::{
    DevModel, DevNodeInfo, GpioFunction, GpioReading, InputDevice, InputEvent, Platform,
    PlatformError,
};
use rpibsp_verify::{Options, Roots};

pub struct FakeTree {
    pub tmp: tempfile::TempDir,
    pub roots: Roots,
}

fn cells(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|c| c.to_be_bytes()).collect()
}

fn string(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Which parts of the board exist.
#[derive(Clone, Debug)]
pub struct Layout {
    pub emulated: bool,
    pub overlay: bool,
    pub bind_button: bool,
    pub bind_led: bool,
    pub bind_devicemodel: bool,
    pub led_default_trigger: &'static str,
    pub on_code: u32,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            emulated: true,
            overlay: true,
            bind_button: true,
            bind_led: true,
            bind_devicemodel: true,
            led_default_trigger: "rpibsp-button",
            on_code: 148,
        }
    }
}

pub const BCM_PHANDLE: u32 = 1;
pub const SIM_PHANDLE: u32 = 2;
pub const GREETING: &str = "hello from the dt";
pub const DT_VALUE: u32 = 4242;

impl FakeTree {
    pub fn new(layout: &Layout) -> FakeTree {
        let tmp = tempfile::tempdir().unwrap();
        let roots = Roots {
            sys: tmp.path().join("sys"),
            devtree: tmp.path().join("proc/device-tree"),
            dev: tmp.path().join("dev"),
        };
        let t = FakeTree { tmp, roots };
        t.build(layout);
        t
    }

    pub fn options(&self) -> Options {
        Options {
            roots: self.roots.clone(),
            event_timeout: Duration::from_millis(300),
            press_timeout: Duration::from_millis(300),
            gpio_timeout: Duration::from_millis(100),
            ..Options::default()
        }
    }

    pub fn dt(&self, node: &str) -> PathBuf {
        self.roots.devtree.join(node.trim_start_matches('/'))
    }

    pub fn prop(&self, node: &str, name: &str, value: &[u8]) {
        let dir = self.dt(node);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), value).unwrap();
    }

    pub fn sys(&self, rel: &str) -> PathBuf {
        self.roots.sys.join(rel)
    }

    pub fn write(&self, path: &Path, content: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    pub fn link(&self, target: &Path, link: &Path) {
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        let _ = fs::remove_file(link);
        symlink(target, link).unwrap();
    }

    /// A platform device for a DT node, optionally bound to `driver`.
    pub fn platform_device(
        &self,
        name: &str,
        dt_node: Option<&str>,
        driver: Option<&str>,
    ) -> PathBuf {
        let dev = self.sys(&format!("devices/platform/{name}"));
        fs::create_dir_all(&dev).unwrap();
        if let Some(node) = dt_node {
            self.link(&self.dt(node), &dev.join("of_node"));
        }
        self.link(&dev, &self.sys(&format!("bus/platform/devices/{name}")));
        if let Some(drv) = driver {
            let drv_dir = self.sys(&format!("bus/platform/drivers/{drv}"));
            fs::create_dir_all(&drv_dir).unwrap();
            fs::write(drv_dir.join("uevent"), "").unwrap();
            self.link(&dev, &drv_dir.join(name));
            self.link(&drv_dir, &dev.join("driver"));
            fs::create_dir_all(self.sys(&format!("module/{}", drv.replace('-', "_")))).unwrap();
        }
        dev
    }

    fn build(&self, l: &Layout) {
        self.prop("/", "compatible", b"raspberrypi,3-model-b\0brcm,bcm2837\0");
        self.prop("/", "model", &string("Raspberry Pi 3 Model B"));
        let gpio = "/soc/gpio@7e200000";
        self.prop(gpio, "compatible", &string("brcm,bcm2835-gpio"));
        self.prop(gpio, "phandle", &cells(&[BCM_PHANDLE]));
        self.prop(gpio, "gpio-controller", b"");
        self.prop(gpio, "#gpio-cells", &cells(&[2]));
        fs::create_dir_all(&self.roots.dev).unwrap();

        let button_phandle = if l.emulated { SIM_PHANDLE } else { BCM_PHANDLE };
        if l.emulated {
            self.prop("/gpio-simulator", "compatible", &string("gpio-simulator"));
            let bank = "/gpio-simulator/bank0";
            self.prop(bank, "gpio-controller", b"");
            self.prop(bank, "#gpio-cells", &cells(&[2]));
            self.prop(bank, "ngpios", &cells(&[32]));
            self.prop(bank, "gpio-sim,label", &string("rpibsp-sim"));
            self.prop(bank, "phandle", &cells(&[SIM_PHANDLE]));
            let dev =
                self.platform_device("gpio-simulator", Some("/gpio-simulator"), Some("gpio-sim"));
            let chip = dev.join("gpiochip1");
            fs::create_dir_all(&chip).unwrap();
            self.link(&self.dt(bank), &chip.join("of_node"));
            for line in 0..32 {
                self.write(&chip.join(format!("sim_gpio{line}/pull")), "pull-down\n");
                self.write(&chip.join(format!("sim_gpio{line}/value")), "0\n");
            }
            self.link(&chip, &self.sys("bus/gpio/devices/gpiochip1"));
            fs::write(self.roots.dev.join("gpiochip1"), "").unwrap();
        }
        // The BCM controller's chip, for completeness.
        let soc = self.platform_device("3f200000.gpio", Some(gpio), Some("pinctrl-bcm2835"));
        fs::create_dir_all(soc.join("gpiochip0")).unwrap();
        self.link(
            &soc.join("gpiochip0"),
            &self.sys("bus/gpio/devices/gpiochip0"),
        );

        if !l.overlay {
            return;
        }
        for (i, (node, code, line, action)) in [
            ("/rpibsp-button-on", l.on_code, 17u32, "on"),
            ("/rpibsp-button-off", 149, 18, "off"),
        ]
        .into_iter()
        .enumerate()
        {
            self.prop(node, "compatible", &string("rpibsp,gpio-button"));
            self.prop(node, "gpios", &cells(&[button_phandle, line, 1]));
            self.prop(node, "linux,code", &cells(&[code]));
            self.prop(node, "label", &string(&format!("button {action}")));
            self.prop(node, "debounce-interval", &cells(&[20]));
            self.prop(node, "rpibsp,debounce-mode", &string("stable"));
            self.prop(node, "rpibsp,led-action", &string(action));
            self.prop(node, "wakeup-source", b"");
            let name = node.trim_start_matches('/');
            let dev =
                self.platform_device(name, Some(node), l.bind_button.then_some("rpibsp-button"));
            if l.bind_button {
                let input = dev.join(format!("input/input{i}"));
                self.write(&input.join("name"), &format!("button {action}\n"));
                self.write(&input.join("phys"), &format!("{name}/input0\n"));
                // Bits 148/149 live in word 2 (bits 128..191): bit 20 resp. 21.
                let bit = 1u64 << (code % 64);
                self.write(&input.join("capabilities/key"), &format!("{bit:x} 0 0\n"));
                let event = input.join(format!("event{i}"));
                self.write(
                    &event.join("uevent"),
                    &format!("MAJOR=13\nMINOR={}\nDEVNAME=input/event{i}\n", 64 + i),
                );
                self.link(&input, &event.join("device"));
                self.link(&event, &self.sys(&format!("class/input/event{i}")));
                self.link(&input, &self.sys(&format!("class/input/input{i}")));
                self.write(&self.roots.dev.join(format!("input/event{i}")), "");
            }
        }
        let led = "/rpibsp-led";
        self.prop(led, "compatible", &string("rpibsp,gpio-led"));
        self.prop(led, "gpios", &cells(&[BCM_PHANDLE, 4, 0]));
        self.prop(led, "label", &string("rpibsp:green:status"));
        self.prop(led, "default-state", &string("off"));
        self.prop(led, "linux,default-trigger", &string(l.led_default_trigger));
        let dev = self.platform_device("rpibsp-led", Some(led), l.bind_led.then_some("rpibsp-led"));
        if l.bind_led {
            let cls = dev.join("leds/rpibsp:green:status");
            self.write(&cls.join("brightness"), "0\n");
            self.write(&cls.join("max_brightness"), "1\n");
            let trig = l.led_default_trigger;
            self.write(&cls.join("trigger"), &fake_trigger_text(trig));
            self.link(&dev, &cls.join("device"));
            self.link(&cls, &self.sys("class/leds/rpibsp:green:status"));
        }
        // An unrelated LED, as on a real Pi (ACT LED).
        let act = self.platform_device("leds", None, Some("leds-gpio"));
        self.write(&act.join("leds/ACT/brightness"), "0\n");
        self.write(&act.join("leds/ACT/max_brightness"), "255\n");
        self.write(&act.join("leds/ACT/trigger"), "none [mmc0]\n");
        self.link(&act, &act.join("leds/ACT/device"));
        self.link(&act.join("leds/ACT"), &self.sys("class/leds/ACT"));

        let dm = "/rpibsp-devicemodel";
        self.prop(dm, "compatible", &string("rpibsp,devicemodel"));
        self.prop(dm, "rpibsp,greeting", &string(GREETING));
        self.prop(dm, "rpibsp,value", &cells(&[DT_VALUE]));
        let dev = self.platform_device(
            "rpibsp-devicemodel",
            Some(dm),
            l.bind_devicemodel.then_some("rpibsp-devicemodel"),
        );
        if l.bind_devicemodel {
            let misc = dev.join("misc/rpibsp-devicemodel");
            self.write(&misc.join("dev"), "10:123\n");
            self.link(&misc, &self.sys("class/misc/rpibsp-devicemodel"));
            self.write(&self.roots.dev.join("rpibsp-devicemodel"), "");
        }
    }
}

const TRIGGERS: [&str; 4] = ["none", "rpibsp-button", "timer", "heartbeat"];

pub fn fake_trigger_text(active: &str) -> String {
    let words: Vec<String> = TRIGGERS
        .iter()
        .map(|t| {
            if *t == active {
                format!("[{t}]")
            } else {
                t.to_string()
            }
        })
        .collect();
    words.join(" ") + "\n"
}

/// Bugs the fake kernel can have.
#[derive(Clone, Debug, Default)]
pub struct Bugs {
    /// The LED driver never drives GPIO 4.
    pub led_gpio_stuck: bool,
    /// The LED pin is left as input.
    pub led_pin_input: bool,
    /// The button driver reports press as 0 and release as 1.
    pub inverted_buttons: bool,
    /// The button driver reports every press twice (no debouncing).
    pub bounce: bool,
    /// The button driver never reports anything.
    pub dead_buttons: bool,
    /// The devicemodel driver accepts values above VALUE_MAX.
    pub no_value_check: bool,
    /// The devicemodel driver silently drops writes beyond the capacity (returns the length).
    pub no_enospc: bool,
    /// The devicemodel driver returns EINVAL for unknown commands.
    pub unknown_cmd_einval: bool,
}

pub struct Dm {
    pub buf: Vec<u8>,
    pub cap: usize,
    pub value: u32,
    pub open_count: u32,
}

pub struct State {
    pub roots: Roots,
    pub bugs: Bugs,
    pub gpio: BTreeMap<u8, GpioReading>,
    /// Lines (17/18) pressed by the simulated person (interactive mode).
    pub person: Vec<u32>,
    /// Last level seen per button line (true = pressed).
    pub pressed: BTreeMap<u32, bool>,
    pub queues: BTreeMap<PathBuf, VecDeque<InputEvent>>,
    pub dm: Dm,
    pub told: Vec<String>,
    pub emulated: bool,
    pub driven: BTreeMap<u8, bool>,
    /// Every drive_bcm_gpio call (pin, high) and whether the run was interrupted by then.
    pub drive_log: Vec<(u8, bool, bool)>,
    /// The platform's interrupt flag (a real signal handler in the signal tests).
    pub interrupt: Interrupt,
    /// On the first press in loopback mode (a spare GPIO driven low): create this file, then
    /// hang with the line driven until the run is interrupted (a check that blocks).
    pub hang_on_press: Option<PathBuf>,
    /// With `hang_on_press`: ignore the interrupt too (a call stuck in the kernel).
    pub hang_forever: bool,
    /// Output written so far by the run (the streaming tests), copied at every tell_user.
    pub output_probe: Option<Rc<RefCell<Vec<u8>>>>,
    pub probes: Vec<String>,
}

const BUTTONS: [(u32, u16, &str, &str); 2] = [
    (17, 148, "input/event0", "on"),
    (18, 149, "input/event1", "off"),
];

impl State {
    fn led_dir(&self) -> PathBuf {
        self.roots.sys.join("class/leds/rpibsp:green:status")
    }

    /// What the kernel would have done by now.
    pub fn sync(&mut self) {
        let led = self.led_dir();
        // A write of a bare name to `trigger` selects it.
        if let Ok(text) = fs::read_to_string(led.join("trigger")) {
            if !text.contains('[') {
                fs::write(led.join("trigger"), fake_trigger_text(text.trim())).unwrap();
            }
        }
        let active = fs::read_to_string(led.join("trigger"))
            .ok()
            .and_then(|t| rpibsp_verify::sysfs::parse_triggers(&t).1);
        for (line, code, devnode, action) in BUTTONS {
            let level_pressed = if self.emulated {
                let pull = fs::read_to_string(
                    self.roots
                        .sys
                        .join(format!("bus/gpio/devices/gpiochip1/sim_gpio{line}/pull")),
                )
                .unwrap_or_default();
                pull.trim() == "pull-down"
            } else {
                let wire = if line == 17 { 22 } else { 23 };
                self.driven.get(&wire).map(|high| !high).unwrap_or(false)
                    || self.person.contains(&line)
            };
            let before = *self.pressed.get(&line).unwrap_or(&false);
            if before == level_pressed {
                continue;
            }
            self.pressed.insert(line, level_pressed);
            if self.bugs.dead_buttons {
                continue;
            }
            let value = i32::from(level_pressed != self.bugs.inverted_buttons);
            let q = self.queues.entry(self.roots.dev.join(devnode)).or_default();
            q.push_back(InputEvent::Key { code, value });
            q.push_back(InputEvent::Syn);
            if self.bugs.bounce {
                q.push_back(InputEvent::Key {
                    code,
                    value: 1 - value,
                });
                q.push_back(InputEvent::Syn);
                q.push_back(InputEvent::Key { code, value });
                q.push_back(InputEvent::Syn);
            }
            if level_pressed && active.as_deref() == Some("rpibsp-button") {
                let b = if action == "on" { "1\n" } else { "0\n" };
                fs::write(led.join("brightness"), b).unwrap();
            }
        }
        let on = fs::read_to_string(led.join("brightness"))
            .map(|b| b.trim() != "0")
            .unwrap_or(false);
        let function = if self.bugs.led_pin_input {
            GpioFunction::Input
        } else {
            GpioFunction::Output
        };
        let high = if self.bugs.led_gpio_stuck { false } else { on };
        self.gpio.insert(4, GpioReading { function, high });
    }
}

#[derive(Clone)]
pub struct FakeBoard(pub Rc<RefCell<State>>);

impl FakeBoard {
    pub fn new(tree: &FakeTree, layout: &Layout, bugs: Bugs) -> FakeBoard {
        let mut state = State {
            roots: tree.roots.clone(),
            bugs,
            gpio: BTreeMap::new(),
            person: Vec::new(),
            pressed: BTreeMap::new(),
            queues: BTreeMap::new(),
            dm: Dm {
                buf: Vec::new(),
                cap: 64,
                value: DT_VALUE,
                open_count: 0,
            },
            told: Vec::new(),
            emulated: layout.emulated,
            driven: BTreeMap::new(),
            drive_log: Vec::new(),
            interrupt: Interrupt::new(),
            hang_on_press: None,
            hang_forever: false,
            output_probe: None,
            probes: Vec::new(),
        };
        // gpio-sim lines start pulled down: the active-low buttons read as pressed at boot.
        if layout.emulated {
            state.pressed.insert(17, true);
            state.pressed.insert(18, true);
        }
        state.sync();
        FakeBoard(Rc::new(RefCell::new(state)))
    }
}

struct FakeInput {
    board: FakeBoard,
    devnode: PathBuf,
}

impl InputDevice for FakeInput {
    fn key_down(&mut self, code: u16) -> Result<bool, PlatformError> {
        let s = self.board.0.borrow();
        Ok(BUTTONS
            .iter()
            .any(|(line, c, _, _)| *c == code && *s.pressed.get(line).unwrap_or(&false)))
    }

    fn next_event(&mut self, _timeout: Duration) -> Result<Option<InputEvent>, PlatformError> {
        let mut s = self.board.0.borrow_mut();
        s.sync();
        Ok(s.queues
            .entry(self.devnode.clone())
            .or_default()
            .pop_front())
    }
}

struct FakeDm {
    board: FakeBoard,
    pos: usize,
}

impl Drop for FakeDm {
    fn drop(&mut self) {
        self.board.0.borrow_mut().dm.open_count -= 1;
    }
}

impl DevModel for FakeDm {
    fn abi_version(&mut self) -> Result<u32, Errno> {
        Ok(ABI_VERSION)
    }
    fn status(&mut self) -> Result<Status, Errno> {
        let s = self.board.0.borrow();
        let mut st = Status {
            size: std::mem::size_of::<Status>() as u32,
            abi_version: ABI_VERSION,
            buf_used: s.dm.buf.len() as u32,
            buf_capacity: s.dm.cap as u32,
            open_count: s.dm.open_count,
            value: s.dm.value,
            ..Status::default()
        };
        st.greeting[..GREETING.len()].copy_from_slice(GREETING.as_bytes());
        Ok(st)
    }
    fn value(&mut self) -> Result<u32, Errno> {
        Ok(self.board.0.borrow().dm.value)
    }
    fn set_value(&mut self, value: u32) -> Result<(), Errno> {
        let mut s = self.board.0.borrow_mut();
        if value > VALUE_MAX && !s.bugs.no_value_check {
            return Err(Errno::EINVAL);
        }
        s.dm.value = value;
        Ok(())
    }
    fn reset(&mut self) -> Result<(), Errno> {
        self.board.0.borrow_mut().dm.buf.clear();
        Ok(())
    }
    fn ioctl_null(&mut self, cmd: u32) -> Result<i32, Errno> {
        if matches!(cmd, IOC_GET_STATUS | IOC_GET_VALUE | IOC_SET_VALUE) {
            return Err(Errno::EFAULT);
        }
        if (cmd >> 8) & 0xff == IOC_MAGIC && self.board.0.borrow().bugs.unknown_cmd_einval {
            return Err(Errno::EINVAL);
        }
        Err(Errno::ENOTTY)
    }
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        let n = self.read_at(buf, self.pos as u64)?;
        self.pos += n;
        Ok(n)
    }
    fn write(&mut self, data: &[u8]) -> Result<usize, Errno> {
        let n = self.write_at(data, self.pos as u64)?;
        self.pos += n;
        Ok(n)
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let s = self.board.0.borrow();
        let pos = offset as usize;
        if pos >= s.dm.buf.len() {
            return Ok(0);
        }
        let n = buf.len().min(s.dm.buf.len() - pos);
        buf[..n].copy_from_slice(&s.dm.buf[pos..pos + n]);
        Ok(n)
    }
    fn write_at(&mut self, data: &[u8], offset: u64) -> Result<usize, Errno> {
        let mut s = self.board.0.borrow_mut();
        let cap = s.dm.cap;
        let pos = offset as usize;
        if pos >= cap {
            return if s.bugs.no_enospc {
                Ok(data.len())
            } else {
                Err(Errno::ENOSPC)
            };
        }
        let n = data.len().min(cap - pos);
        if s.dm.buf.len() < pos + n {
            s.dm.buf.resize(pos + n, 0);
        }
        s.dm.buf[pos..pos + n].copy_from_slice(&data[..n]);
        Ok(n)
    }
    fn reopen(&mut self) -> Result<Box<dyn DevModel>, Errno> {
        self.board.0.borrow_mut().dm.open_count += 1;
        Ok(Box::new(FakeDm {
            board: self.board.clone(),
            pos: 0,
        }))
    }
}

impl Platform for FakeBoard {
    fn bcm_gpio(&mut self, pin: u8) -> Result<GpioReading, PlatformError> {
        let mut s = self.0.borrow_mut();
        s.sync();
        if let Some(high) = s.driven.get(&pin) {
            return Ok(GpioReading {
                function: GpioFunction::Output,
                high: *high,
            });
        }
        Ok(s.gpio.get(&pin).copied().unwrap_or(GpioReading {
            function: GpioFunction::Input,
            high: true,
        }))
    }

    fn drive_bcm_gpio(&mut self, pin: u8, high: bool) -> Result<(), PlatformError> {
        let mut s = self.0.borrow_mut();
        if pin == 4 {
            return Err(PlatformError::Gpio(
                "refusing to drive GPIO 4: it is in mode Out".into(),
            ));
        }
        let interrupted = s.interrupt.signal().is_some();
        s.drive_log.push((pin, high, interrupted));
        s.driven.insert(pin, high);
        s.sync();
        if !high {
            if let Some(ready) = s.hang_on_press.take() {
                let (interrupt, forever) = (s.interrupt.clone(), s.hang_forever);
                drop(s);
                fs::write(&ready, format!("GPIO {pin} driven low\n")).unwrap();
                let until = std::time::Instant::now() + Duration::from_secs(30);
                while (forever || interrupt.signal().is_none()) && std::time::Instant::now() < until
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        Ok(())
    }

    fn release_outputs(&mut self) {
        self.0.borrow_mut().driven.clear();
    }

    fn interrupted(&self) -> Option<i32> {
        self.0.borrow().interrupt.signal()
    }

    fn open_input(&mut self, devnode: &Path) -> Result<Box<dyn InputDevice>, PlatformError> {
        if !devnode.exists() {
            return Err(PlatformError::Input {
                path: devnode.to_owned(),
                source: io::Error::from(io::ErrorKind::NotFound),
            });
        }
        Ok(Box::new(FakeInput {
            board: self.clone(),
            devnode: devnode.to_owned(),
        }))
    }

    fn open_devicemodel(&mut self, devnode: &Path) -> Result<Box<dyn DevModel>, PlatformError> {
        if !devnode.exists() {
            return Err(PlatformError::DeviceModel(rpibsp_abi::Error::Open {
                path: devnode.to_owned(),
                source: io::Error::from(io::ErrorKind::NotFound),
            }));
        }
        self.0.borrow_mut().dm.open_count += 1;
        Ok(Box::new(FakeDm {
            board: self.clone(),
            pos: 0,
        }))
    }

    fn gpiochip_label(&mut self, _devnode: &Path) -> Option<String> {
        None
    }

    fn tell_user(&mut self, text: &str) {
        let mut s = self.0.borrow_mut();
        s.told.push(text.to_string());
        if let Some(out) = s.output_probe.clone() {
            let copy = String::from_utf8_lossy(&out.borrow()).into_owned();
            s.probes.push(copy);
        }
        // The simulated person does what they are told.
        let line = if text.contains("GPIO 17") { 17 } else { 18 };
        if text.contains("Press") {
            s.person.push(line);
        } else if text.contains("Release") {
            s.person.retain(|l| *l != line);
        }
        s.sync();
    }

    fn sleep(&mut self, _d: Duration) {
        self.0.borrow_mut().sync();
    }

    fn devnode_info(&mut self, path: &Path) -> io::Result<DevNodeInfo> {
        fs::metadata(path)?;
        Ok(DevNodeInfo {
            is_char: true,
            mode: 0o600,
            major: 10,
            minor: 123,
        })
    }
}
