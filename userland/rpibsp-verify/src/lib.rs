//! Checks of the Raspberry Pi BSP, run on the board (real Pi or QEMU `raspi3b`/`raspi4b`).
//!
//! The checks read the device tree (`/proc/device-tree`), sysfs (`/sys`) and device nodes
//! (`/dev`) below the roots in [`Roots`], and reach the hardware only through the
//! [`platform::Platform`] trait. The binary uses [`platform::RealPlatform`]; the integration
//! tests point the roots at a fake tree in a temporary directory and simulate the board.

pub mod board;
pub mod checks;
pub mod devtree;
pub mod interrupt;
pub mod output;
pub mod platform;
pub mod sysfs;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

pub use rpibsp_report::{Case, Counts, Outcome};

use crate::platform::Platform;

/// Compatible strings and names fixed by the project contract.
pub mod names {
    /// Button nodes.
    pub const COMPAT_BUTTON: &str = "rpibsp,gpio-button";
    /// LED node.
    pub const COMPAT_LED: &str = "rpibsp,gpio-led";
    /// Devicemodel node.
    pub const COMPAT_DEVICEMODEL: &str = "rpibsp,devicemodel";
    /// gpio-sim device node (emulated board).
    pub const COMPAT_GPIO_SIM: &str = "gpio-simulator";
    /// Label of the emulated board's gpio-sim bank.
    pub const SIM_LABEL: &str = "rpibsp-sim";
    /// Platform driver of the buttons.
    pub const DRIVER_BUTTON: &str = "rpibsp-button";
    /// Platform driver of the LED.
    pub const DRIVER_LED: &str = "rpibsp-led";
    /// Platform driver of the devicemodel device.
    pub const DRIVER_DEVICEMODEL: &str = "rpibsp-devicemodel";
    /// LED trigger registered by the button driver.
    pub const LED_TRIGGER: &str = "rpibsp-button";
    /// Misc device name.
    pub const DEVICEMODEL_NODE: &str = "rpibsp-devicemodel";
    /// BCM GPIO of the LED.
    pub const LED_GPIO: u8 = 4;
    /// KEY_PROG1, the "on" button.
    pub const KEY_ON: u16 = 148;
    /// KEY_PROG2, the "off" button.
    pub const KEY_OFF: u16 = 149;
    /// BCM GPIO (or gpio-sim line) of the "on" button.
    pub const GPIO_ON: u32 = 17;
    /// BCM GPIO (or gpio-sim line) of the "off" button.
    pub const GPIO_OFF: u32 = 18;
}

/// Where the kernel's file systems are. Tests point these at a fake tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roots {
    /// sysfs, normally `/sys`.
    pub sys: PathBuf,
    /// The live device tree, normally `/proc/device-tree`.
    pub devtree: PathBuf,
    /// Device nodes, normally `/dev`.
    pub dev: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            sys: PathBuf::from("/sys"),
            devtree: PathBuf::from("/proc/device-tree"),
            dev: PathBuf::from("/dev"),
        }
    }
}

/// Check groups, selectable with `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    /// Device-tree overlay nodes and properties.
    Overlay,
    /// The three platform drivers are bound.
    Drivers,
    /// LED class device and GPIO 4.
    Led,
    /// Button input devices, key events, LED trigger.
    Buttons,
    /// `/dev/rpibsp-devicemodel` ioctls and read/write.
    Devicemodel,
}

impl Group {
    /// All groups in run order.
    pub const ALL: [Group; 5] = [
        Group::Overlay,
        Group::Drivers,
        Group::Led,
        Group::Buttons,
        Group::Devicemodel,
    ];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Overlay => "overlay",
            Group::Drivers => "drivers",
            Group::Led => "led",
            Group::Buttons => "buttons",
            Group::Devicemodel => "devicemodel",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Group {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Group::ALL
            .into_iter()
            .find(|g| g.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                format!(
                    "unknown check group {s:?} (known: {})",
                    Group::ALL.map(Group::as_str).join(", ")
                )
            })
    }
}

/// How buttons are pressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Decide from the board: gpio-sim chip "rpibsp-sim" present -> emulated, else real
    /// board without stimulus (button press checks are skipped).
    Auto,
    /// QEMU: press through gpio-sim `pull` attributes.
    Emulated,
    /// Real board: ask a person to press the buttons.
    Interactive,
    /// Real board: spare GPIOs wired to the button GPIOs are driven with rppal.
    Loopback,
    /// Real board, no way to press buttons (what `Auto` becomes on hardware).
    Passive,
}

impl Mode {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Emulated => "emulated",
            Mode::Interactive => "interactive",
            Mode::Loopback => "loopback",
            Mode::Passive => "real board, no button stimulus",
        }
    }
}

/// A loopback wire: `driver` (spare BCM GPIO driven by the tool) to `button` (BCM GPIO of a
/// button).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopbackWire {
    /// Spare GPIO driven by rpibsp-verify.
    pub driver: u8,
    /// Button GPIO it is wired to.
    pub button: u32,
}

impl FromStr for LoopbackWire {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .split_once(':')
            .ok_or_else(|| format!("loopback wire {s:?} is not DRIVER:BUTTON, e.g. 22:17"))?;
        let driver: u8 = a
            .trim()
            .parse()
            .map_err(|_| format!("bad GPIO number {a:?}"))?;
        let button: u32 = b
            .trim()
            .parse()
            .map_err(|_| format!("bad GPIO number {b:?}"))?;
        if driver > 27 || button > 27 {
            return Err(format!("loopback wire {s:?}: header GPIOs are 0..=27"));
        }
        Ok(LoopbackWire { driver, button })
    }
}

/// What to check and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// File-system roots.
    pub roots: Roots,
    /// Requested mode.
    pub mode: Mode,
    /// Groups to run (empty: all).
    pub only: Vec<Group>,
    /// How long to wait for an input event after a simulated or loopback press.
    pub event_timeout: Duration,
    /// How long a person has to press a button in interactive mode.
    pub press_timeout: Duration,
    /// How long to wait for the LED GPIO to follow.
    pub gpio_timeout: Duration,
    /// Loopback wiring.
    pub loopback: Vec<LoopbackWire>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            roots: Roots::default(),
            mode: Mode::Auto,
            only: Vec::new(),
            event_timeout: Duration::from_secs(3),
            press_timeout: Duration::from_secs(10),
            gpio_timeout: Duration::from_secs(1),
            loopback: vec![
                LoopbackWire {
                    driver: 22,
                    button: 17,
                },
                LoopbackWire {
                    driver: 23,
                    button: 18,
                },
            ],
        }
    }
}

/// What a run reports while it goes, so results can be printed as they come (a check that
/// hangs then leaves everything before it on record).
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// Before the first check.
    Started {
        /// The mode that is used.
        mode: Mode,
        /// Why that mode.
        mode_reason: &'a str,
        /// Board `compatible` strings.
        board: &'a [String],
    },
    /// A check has completed; cases come in order.
    Case(&'a Case),
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct Report {
    /// The mode that was used.
    pub mode: Mode,
    /// Why that mode (auto-detection outcome).
    pub mode_reason: String,
    /// Board `compatible` strings, for the record.
    pub board: Vec<String>,
    /// One case per check.
    pub cases: Vec<Case>,
    /// Wall time of the run.
    pub duration: Duration,
    /// The signal (SIGINT/SIGTERM) that cut the run short, if one did. The last case then
    /// says so (and fails).
    pub interrupted: Option<i32>,
}

impl Report {
    /// Pass/fail/skip counts.
    pub fn counts(&self) -> Counts {
        Counts::of(&self.cases)
    }

    /// Exit code: 0 only if every check passed (skips allowed only with `allow_skip`); 128 +
    /// the signal number after SIGINT/SIGTERM (130, 143).
    pub fn exit_code(&self, allow_skip: bool) -> i32 {
        if let Some(signal) = self.interrupted {
            interrupt::exit_code(signal)
        } else if self.counts().success(allow_skip) {
            0
        } else {
            1
        }
    }
}

/// State shared by the checks during a run.
pub struct Ctx<'a> {
    /// Options of the run.
    pub opts: &'a Options,
    /// Hardware access.
    pub platform: &'a mut dyn Platform,
    /// Effective mode.
    pub mode: Mode,
    /// The buttons are on the emulated board's gpio-sim bank: in emulated mode, and in
    /// interactive mode when the bank is there (a person, or a script acting as one, presses
    /// through gpio-sim). The overlay checks expect that bank instead of the BCM controller.
    pub sim_board: bool,
    group: Group,
    cases: Vec<Case>,
    started: Instant,
    observer: &'a mut dyn FnMut(Event<'_>),
}

impl<'a> Ctx<'a> {
    fn new(
        opts: &'a Options,
        platform: &'a mut dyn Platform,
        mode: Mode,
        observer: &'a mut dyn FnMut(Event<'_>),
    ) -> Self {
        let sim_board = mode == Mode::Emulated
            || (mode == Mode::Interactive
                && board::find_sim_chip(&opts.roots, &mut *platform).is_some());
        Ctx {
            opts,
            platform,
            mode,
            sim_board,
            group: Group::Overlay,
            cases: Vec::new(),
            started: Instant::now(),
            observer,
        }
    }

    /// The signal that interrupted the run, if any: checks must not press anything any more
    /// and should end quickly; their results are no longer recorded.
    pub fn interrupted(&self) -> Option<i32> {
        self.platform.interrupted()
    }

    /// The file-system roots.
    pub fn roots(&self) -> &Roots {
        &self.opts.roots
    }

    fn push(&mut self, name: String, outcome: Outcome, details: Vec<String>) {
        if self.interrupted().is_some() {
            // Waits were cut short: what a check says now is not a result.
            return;
        }
        let now = Instant::now();
        let case = Case {
            group: self.group.as_str().to_string(),
            name,
            outcome,
            details,
            duration: Some(now - self.started),
        };
        (self.observer)(Event::Case(&case));
        self.cases.push(case);
        self.started = now;
    }

    /// Records a pass with an optional detail line.
    pub fn pass(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        let detail = detail.into();
        let details = if detail.is_empty() {
            vec![]
        } else {
            vec![detail]
        };
        self.push(name.into(), Outcome::Pass, details);
    }

    /// Records a failure; `why` says precisely what is wrong.
    pub fn fail(&mut self, name: impl Into<String>, why: impl Into<String>) {
        self.push(name.into(), Outcome::Fail(why.into()), vec![]);
    }

    /// Records a skip with its reason.
    pub fn skip(&mut self, name: impl Into<String>, why: impl Into<String>) {
        self.push(name.into(), Outcome::Skip(why.into()), vec![]);
    }

    /// Records `Ok(detail)` as a pass and `Err(why)` as a failure; returns whether it passed.
    pub fn check(&mut self, name: impl Into<String>, result: Result<String, String>) -> bool {
        self.check_with(name, result, Vec::new())
    }

    /// [`Ctx::check`] with more detail lines (a case is printed as soon as it is recorded,
    /// so everything about it has to be known by then).
    pub fn check_with(
        &mut self,
        name: impl Into<String>,
        result: Result<String, String>,
        more: Vec<String>,
    ) -> bool {
        match result {
            Ok(detail) => {
                let mut details: Vec<String> =
                    Some(detail).filter(|d| !d.is_empty()).into_iter().collect();
                details.extend(more);
                self.push(name.into(), Outcome::Pass, details);
                true
            }
            Err(why) => {
                self.push(name.into(), Outcome::Fail(why), more);
                false
            }
        }
    }

    /// Restarts the stopwatch of the next case.
    pub fn restart_clock(&mut self) {
        self.started = Instant::now();
    }
}

/// Decides the effective mode: gpio-sim chip labelled "rpibsp-sim" -> emulated.
pub fn detect_mode(opts: &Options, platform: &mut dyn Platform) -> (Mode, String) {
    let sim = board::find_sim_chip(&opts.roots, platform);
    let sim_text = sim.as_ref().map(|c| {
        format!(
            "gpio-sim chip \"{}\" at {}",
            names::SIM_LABEL,
            c.dir.display()
        )
    });
    match opts.mode {
        Mode::Auto => match sim_text {
            Some(t) => (Mode::Emulated, format!("auto: emulated board ({t})")),
            None => (
                Mode::Passive,
                format!(
                    "auto: real board (no gpio-sim chip labelled \"{}\"); button presses need \
                     --mode interactive or --mode loopback",
                    names::SIM_LABEL
                ),
            ),
        },
        Mode::Emulated => (
            Mode::Emulated,
            match sim_text {
                Some(t) => format!("requested: emulated ({t})"),
                None => format!(
                    "requested: emulated, but no gpio-sim chip labelled \"{}\" was found",
                    names::SIM_LABEL
                ),
            },
        ),
        m => (m, format!("requested: {}", m.as_str())),
    }
}

/// Runs the selected checks and returns the report.
pub fn run(opts: &Options, platform: &mut dyn Platform) -> Report {
    run_observed(opts, platform, &mut |_| {})
}

/// [`run`], telling `observer` about the run and each result as soon as it is known.
///
/// When the platform reports an interruption ([`Platform::interrupted`]), no further group
/// is started, the outputs are released and the report ends with a failing case naming the
/// signal ([`Report::interrupted`]).
pub fn run_observed(
    opts: &Options,
    platform: &mut dyn Platform,
    observer: &mut dyn FnMut(Event<'_>),
) -> Report {
    let started = Instant::now();
    let (mode, mode_reason) = detect_mode(opts, platform);
    let board = devtree::DtIndex::load(&opts.roots.devtree)
        .map(|i| i.board_compatible())
        .unwrap_or_default();
    observer(Event::Started {
        mode,
        mode_reason: &mode_reason,
        board: &board,
    });
    let mut ctx = Ctx::new(opts, platform, mode, observer);
    let selected: Vec<Group> = if opts.only.is_empty() {
        Group::ALL.to_vec()
    } else {
        Group::ALL
            .into_iter()
            .filter(|g| opts.only.contains(g))
            .collect()
    };
    let mut last_group = None;
    for group in selected {
        if ctx.interrupted().is_some() {
            break;
        }
        last_group = Some(group);
        ctx.group = group;
        ctx.restart_clock();
        match group {
            Group::Overlay => checks::overlay::run(&mut ctx),
            Group::Drivers => checks::drivers::run(&mut ctx),
            Group::Led => checks::led::run(&mut ctx),
            Group::Buttons => checks::buttons::run(&mut ctx),
            Group::Devicemodel => checks::devicemodel::run(&mut ctx),
        }
    }
    ctx.platform.release_outputs();
    let interrupted = ctx.interrupted();
    if let Some(signal) = interrupted {
        let during = last_group.map_or_else(String::new, |g| format!(" during the {g} checks"));
        let case = Case::new(
            "run",
            "all selected checks ran",
            Outcome::Fail(format!(
                "interrupted by {}{during}: driven lines released, the remaining checks were not run",
                interrupt::signal_name(signal)
            )),
        );
        (ctx.observer)(Event::Case(&case));
        ctx.cases.push(case);
    }
    Report {
        mode,
        mode_reason,
        board,
        cases: ctx.cases,
        duration: started.elapsed(),
        interrupted,
    }
}
