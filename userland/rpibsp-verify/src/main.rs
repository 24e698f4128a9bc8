//! `rpibsp-verify`: run on the Raspberry Pi (or the emulated board) to check the BSP.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::{Parser, ValueEnum};

use rpibsp_verify::interrupt::Interrupt;
use rpibsp_verify::output::{Format, ReportWriter};
use rpibsp_verify::platform::RealPlatform;
use rpibsp_verify::{Group, LoopbackWire, Mode, Options, Roots};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    /// gpio-sim chip "rpibsp-sim" present -> emulated; otherwise a real board, where the
    /// button-press checks are skipped
    Auto,
    /// QEMU raspi3b/raspi4b: press buttons through gpio-sim
    Emulated,
    /// Real board: you press the buttons when asked
    Interactive,
    /// Real board: spare GPIOs wired to GPIO 17/18 press the buttons (see --loopback)
    Loopback,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// Readable report (default)
    Human,
    /// One JSON document
    Json,
    /// Test Anything Protocol, one line per check
    Tap,
    /// JUnit XML for CI systems
    Junit,
}

const AFTER_HELP: &str = "\
CHECK GROUPS (--only):
  overlay      device-tree nodes of the board overlay (found by compatible) and their properties
  drivers      rpibsp-button, rpibsp-led and rpibsp-devicemodel are registered and bound
  led          the LED class device switches BCM GPIO 4 (read back with rppal, never reconfigured)
  buttons      key events from the button input devices; the LED follows GPIO 17 (on) / 18 (off)
  devicemodel  every ioctl of /dev/rpibsp-devicemodel with good and bad arguments, read/write/seek

EXAMPLES:
  rpibsp-verify                            all checks; auto-detects the emulated board
  rpibsp-verify --only led,buttons         just the LED and the buttons
  rpibsp-verify --mode interactive         real board: you are asked to press the buttons
  rpibsp-verify --mode loopback            real board with loopback wires (default wiring below)
  rpibsp-verify --format tap               TAP output for test harnesses (rpibsp-hil uses this)

LOOPBACK WIRING (--mode loopback, default --loopback 22:17,23:18):
  header pin 15 (GPIO 22) --[1 kOhm]-- header pin 11 (GPIO 17, on-button)
  header pin 16 (GPIO 23) --[1 kOhm]-- header pin 12 (GPIO 18, off-button)
  The buttons may stay connected; the resistors protect the pins if one is pressed.

OUTPUT:
  tap and human print each check as it completes (a hanging check leaves the ones before it on
  record), the summary at the end (TAP: the plan 1..N comes last, as TAP allows); json and junit
  are written when the run ends. --output FILE is created before the first check runs.

SIGNALS:
  SIGINT (Ctrl-C) and SIGTERM stop the run: no further button is pressed, every GPIO driven in
  loopback mode is put back to input, the results so far are written with a failing last case
  naming the signal, and the exit status is 130 or 143. If the checks do not stop within 3 s
  (or on a second signal) the lines are released and the program exits at once.

EXIT STATUS:
  0    every selected check passed
  1    a check failed, or was skipped and --allow-skip was not given
  2    bad command line or internal error
  3    the report cannot be written (--output FILE, or standard output closed)
  130  interrupted by SIGINT;  143  interrupted by SIGTERM

Run as root: the checks read /dev/mem (or /dev/gpiomem), /dev/input/event* and
/dev/rpibsp-devicemodel (mode 0600).";

/// Checks on the board that the Raspberry Pi BSP works: the device-tree overlay, the three
/// drivers, the LED on GPIO 4, the buttons on GPIO 17/18 and /dev/rpibsp-devicemodel.
/// Every failed check says what is wrong and where to look.
#[derive(Debug, Parser)]
#[command(name = "rpibsp-verify", version, after_help = AFTER_HELP)]
struct Cli {
    /// How buttons get pressed
    #[arg(long, value_enum, default_value = "auto")]
    mode: ModeArg,

    /// Run only these check groups (comma separated): overlay, drivers, led, buttons, devicemodel
    #[arg(long, value_delimiter = ',', value_name = "GROUPS")]
    only: Vec<Group>,

    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: FormatArg,

    /// Write the report to FILE instead of standard output
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Accept skipped checks (exit 0 if nothing failed)
    #[arg(long)]
    allow_skip: bool,

    /// Loopback wires DRIVER:BUTTON (BCM numbers) for --mode loopback
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "DRIVER:BUTTON",
        default_value = "22:17,23:18"
    )]
    loopback: Vec<LoopbackWire>,

    /// Milliseconds to wait for a key event after a simulated or loopback press
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    event_timeout: u64,

    /// Seconds a person has to press or release a button (--mode interactive)
    #[arg(long, value_name = "S", default_value_t = 10)]
    press_timeout: u64,

    /// Milliseconds to wait for GPIO 4 and the LED brightness to follow
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    gpio_timeout: u64,

    /// sysfs root (to check a copy of a board's tree)
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/sys",
        hide_short_help = true
    )]
    sysfs_root: PathBuf,

    /// Device-tree root
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/proc/device-tree",
        hide_short_help = true
    )]
    devtree_root: PathBuf,

    /// Device-node root
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/dev",
        hide_short_help = true
    )]
    dev_root: PathBuf,
}

fn options(cli: &Cli) -> Options {
    Options {
        roots: Roots {
            sys: cli.sysfs_root.clone(),
            devtree: cli.devtree_root.clone(),
            dev: cli.dev_root.clone(),
        },
        mode: match cli.mode {
            ModeArg::Auto => Mode::Auto,
            ModeArg::Emulated => Mode::Emulated,
            ModeArg::Interactive => Mode::Interactive,
            ModeArg::Loopback => Mode::Loopback,
        },
        only: cli.only.clone(),
        event_timeout: Duration::from_millis(cli.event_timeout),
        press_timeout: Duration::from_secs(cli.press_timeout),
        gpio_timeout: Duration::from_millis(cli.gpio_timeout),
        loopback: cli.loopback.clone(),
    }
}

/// Exit status when the report cannot be written.
const EXIT_OUTPUT: u8 = 3;
/// Exit status for a bad command line or an internal error.
const EXIT_USAGE: u8 = 2;

/// How long the checks get to stop after SIGINT/SIGTERM before the exit is forced.
const SIGNAL_GRACE: Duration = Duration::from_secs(3);

fn real_main() -> Result<u8, (u8, anyhow::Error)> {
    let cli = Cli::parse();
    let opts = options(&cli);
    let format = match cli.format {
        FormatArg::Human => Format::Human,
        FormatArg::Json => Format::Json,
        FormatArg::Tap => Format::Tap,
        FormatArg::Junit => Format::Junit,
    };
    // The output is opened before any check runs: a bad path fails at once, not after the run.
    let out: Box<dyn Write> = match &cli.output {
        Some(path) => Box::new(BufWriter::new(File::create(path).map_err(|e| {
            (
                EXIT_OUTPUT,
                anyhow!(e).context(format!("cannot create the report file {}", path.display())),
            )
        })?)),
        None => Box::new(std::io::stdout()),
    };
    let interrupt = Interrupt::install(SIGNAL_GRACE).map_err(|e| (EXIT_USAGE, e.into()))?;
    let mut platform = RealPlatform::with_interrupt(interrupt);
    let mut writer = ReportWriter::new(out, format);
    let report = rpibsp_verify::run_observed(&opts, &mut platform, &mut |e| writer.event(e));
    drop(platform); // releases anything still driven
    let where_to = cli.output.as_ref().map_or_else(
        || "standard output".to_string(),
        |p| p.display().to_string(),
    );
    writer
        .finish(&report, cli.allow_skip)
        .with_context(|| format!("writing the report to {where_to}"))
        .map_err(|e| (EXIT_OUTPUT, e))?;
    if let Some(path) = &cli.output {
        eprintln!("{} -> {}", report.counts().line(), path.display());
    }
    let code = report.exit_code(cli.allow_skip);
    Ok(u8::try_from(code).unwrap_or(1))
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => ExitCode::from(code),
        Err((code, e)) => {
            eprintln!("rpibsp-verify: {e:#}");
            ExitCode::from(code)
        }
    }
}
