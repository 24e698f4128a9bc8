//! `rpibsp-hil`: boot a Raspberry Pi (real or emulated) through its console and run the
//! BSP checks on it.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Parser, ValueEnum};

use rpibsp_hil::qemu::{Machine, QemuSpec, Rootfs};
use rpibsp_hil::runner::{Observer, RunReport};
use rpibsp_hil::{LiveOutput, Login, PushSpec, RunConfig, Target, TcpMode, Timeouts};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TcpModeArg {
    /// RFC 2217 if the server negotiates telnet first, else raw
    Auto,
    /// Telnet with COM-PORT-OPTION (RFC 2217); fail if the server does not negotiate
    Rfc2217,
    /// Plain bytes
    Raw,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MachineArg {
    /// Raspberry Pi 3 Model B (BCM2837)
    Raspi3b,
    /// Raspberry Pi 4 Model B (BCM2711)
    Raspi4b,
}

const AFTER_HELP: &str = "\
WHAT IT DOES:
  1. connects to the board's console (or starts QEMU) and waits for the boot to reach
     busybox getty's `login:` (with --no-login: for the shell to answer),
  2. logs in, runs `dmesg -n 1` so kernel messages stay off the console (a shell of --user
     already logged in on the console is used as it is; another user's is logged out),
  3. copies the --push files to the board over the console; each is a test case,
  4. runs `rpibsp-verify --format tap` on the board; every TAP line becomes a test case,
  5. runs the --cmd / --script commands; each passes when its exit status is 0.
  Commands are framed with unique markers, so exit statuses are recovered even when kernel
  messages interleave. Only the boot is retried (--boot-retries), never a command.

PUSH (deploy without reflashing):
  --push LOCAL:REMOTE (repeatable; REMOTE absolute) sends the file as base64 of its gzip in
  short framed commands (`printf %s '...' >>REMOTE.b64`, each console line <= 1000 bytes, which
  busybox ash's line editor takes whole), unpacks it on the board (base64 -d | gunzip) into
  REMOTE.part, compares the board's sha256sum with the local SHA-256, and only then sets the
  local file's mode and moves it to REMOTE (after mkdir -p of its directory). The temporaries
  are removed either way. Each command may take --cmd-timeout. A failed push fails the run,
  and the steps after it are reported as failures (\"not run: ...\"), not skipped silently.
  REMOTE is taken literally (no $VARIABLES); the split is at the last \":/\".
  A file the board already has (same SHA-256 and mode) is only compared, not sent.
  With --http-host HOST the board fetches each file instead (wget -O - http://HOST:PORT/N |
  gunzip), from a server this program runs on --http-listen for the length of the run; the
  SHA-256 check and the installation are the same. A file the board cannot fetch (no network,
  a firewall) goes over the console, and the case says why.

LIVE OUTPUT:
  Lines of a running command's output are copied to standard error as they arrive, as
  `board| <line>`: by default only for a verify command with `--mode interactive` (its
  instructions, e.g. \">>> Press and hold the button on GPIO 17 ...\", must reach you while it
  waits for you), with --live for every command. Lines are shown once complete (at their
  newline); kernel messages are not shown. Of the verify command only lines that are not
  TAP are shown (TAP results appear as progress lines and become test cases as always); an
  instruction is never a failure. --quiet does not silence them.

EXAMPLES:
  # emulated Pi 3B with an initramfs (rpibsp-verify in /usr/bin)
  rpibsp-hil --qemu raspi3b --kernel out/Image --dtb out/bcm2837-rpi-3-b-rpibsp.dtb \\
             --initrd out/initramfs.cpio.gz --log-dir out/hil --junit out/hil.xml
  # emulated board from an SD image (root=/dev/mmcblk0p2; non-power-of-two images are
  # used through a resized copy; the image itself is never modified)
  rpibsp-hil --qemu raspi3b --kernel Image --dtb board.dtb --sd sdcard.img
  # real board on a USB serial adapter, button checks with loopback wires
  rpibsp-hil --serial /dev/ttyUSB0 --verify-cmd 'rpibsp-verify --format tap --mode loopback'
  # you press the buttons: the board's instructions are shown as they come (board| ...)
  rpibsp-hil --serial /dev/ttyUSB0 --verify-cmd 'rpibsp-verify --format tap --mode interactive'
  # module deploy loop on a running board: push, reload, check, without reflashing
  # (REMOTE is taken literally: write the kernel release out, no $(uname -r))
  rpibsp-hil --tcp 127.0.0.1:5000 --no-verify --live \\
             --push out/rpibsp_led.ko:/lib/modules/RELEASE/extra/rpibsp_led.ko \\
             --cmd /usr/share/rpibsp/reload
  # console served by ser2net / labgrid: telnet(rfc2217) is detected (--tcp-mode auto);
  # --tcp-mode rfc2217 insists on it, --tcp-mode raw for ser2net raw or QEMU -serial tcp:
  rpibsp-hil --tcp 127.0.0.1:5000 --cmd 'uname -a' --script checks.txt
  rpibsp-hil --tcp 127.0.0.1:5000 --tcp-mode rfc2217

OUTPUT:
  The on-board results are taken as each TAP line arrives. With --junit the file is rewritten
  (atomically) after every result, with one extra failing case \"hil: run completed\" until the
  run ends: a board that hangs, or rpibsp-hil killed by a CI timeout, leaves the results so far
  and an honest failure. --junit's directory must exist and be writable and --log-dir must be
  creatable; both are checked before anything starts.

ENVIRONMENT:
  RPIBSP_HIL_PASSWORD  the login password (instead of --password, which `ps` shows)

EXIT STATUS:
  0 all passed   1 a check or command failed   2 bad command line
  3 no shell (boot/login failed after all attempts)   4 target could not be opened/started
  5 an output cannot be written (--junit, --log-dir)";

/// Boots a Raspberry Pi through its serial console (a serial device, a TCP console, or QEMU
/// started for you), logs in, runs rpibsp-verify and your commands on it, and reports.
#[derive(Debug, Parser)]
#[command(name = "rpibsp-hil", version, after_help = AFTER_HELP)]
#[command(group(ArgGroup::new("target").required(true).args(["serial", "tcp", "qemu"])))]
struct Cli {
    /// Serial device of the board's console, e.g. /dev/ttyUSB0
    #[arg(long, value_name = "DEV", help_heading = "Target (choose one)")]
    serial: Option<String>,

    /// Baud rate of --serial
    #[arg(long, default_value_t = 115_200, help_heading = "Target (choose one)")]
    baud: u32,

    /// TCP console, HOST:PORT: ser2net / labgrid (RFC 2217 or raw), QEMU -serial tcp: (raw)
    #[arg(long, value_name = "HOST:PORT", help_heading = "Target (choose one)")]
    tcp: Option<String>,

    /// How --tcp is spoken: rfc2217 (telnet, COM-PORT-OPTION sets 115200 8N1), raw, or auto
    /// (RFC 2217 when the server starts telnet negotiation within 2 s, else raw)
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        default_value = "auto",
        requires = "tcp",
        help_heading = "Target (choose one)"
    )]
    tcp_mode: TcpModeArg,

    /// Start the emulated board in qemu-system-aarch64
    #[arg(
        long,
        value_enum,
        value_name = "MACHINE",
        help_heading = "Target (choose one)"
    )]
    qemu: Option<MachineArg>,

    /// Kernel Image for --qemu
    #[arg(
        long,
        value_name = "FILE",
        requires = "qemu",
        help_heading = "Emulated board"
    )]
    kernel: Option<PathBuf>,

    /// Device tree blob for --qemu (with the board and emulation overlays applied)
    #[arg(
        long,
        value_name = "FILE",
        requires = "qemu",
        help_heading = "Emulated board"
    )]
    dtb: Option<PathBuf>,

    /// Initramfs for --qemu
    #[arg(
        long,
        value_name = "FILE",
        requires = "qemu",
        conflicts_with = "sd",
        help_heading = "Emulated board"
    )]
    initrd: Option<PathBuf>,

    /// SD card image for --qemu (root on its 2nd partition)
    #[arg(
        long,
        value_name = "IMAGE",
        requires = "qemu",
        help_heading = "Emulated board"
    )]
    sd: Option<PathBuf>,

    /// Kernel command line [default: console=ttyAMA0,115200 loglevel=7, plus
    /// root=/dev/mmcblk0p2 rootwait rw with --sd]
    #[arg(
        long,
        value_name = "CMDLINE",
        requires = "qemu",
        help_heading = "Emulated board"
    )]
    append: Option<String>,

    /// QEMU binary
    #[arg(
        long,
        value_name = "PROGRAM",
        default_value = "qemu-system-aarch64",
        help_heading = "Emulated board"
    )]
    qemu_bin: String,

    /// Extra QEMU argument (repeatable)
    #[arg(
        long,
        value_name = "ARG",
        allow_hyphen_values = true,
        help_heading = "Emulated board"
    )]
    qemu_arg: Vec<String>,

    /// Let the guest write to the SD image (default: snapshot=on, the image stays unchanged)
    #[arg(long, help_heading = "Emulated board")]
    sd_writable: bool,

    /// Fail instead of using a power-of-two copy when the SD image size is not a power of two
    #[arg(long, help_heading = "Emulated board")]
    no_sd_resize: bool,

    /// Directory for QEMU's socket and files [default: a temporary directory]
    #[arg(long, value_name = "DIR", help_heading = "Emulated board")]
    workdir: Option<PathBuf>,

    /// User to log in as
    #[arg(long, default_value = "root", help_heading = "Login")]
    user: String,

    /// Password, if the board asks for one
    #[arg(
        long,
        env = "RPIBSP_HIL_PASSWORD",
        hide_env_values = true,
        help_heading = "Login"
    )]
    password: Option<String>,

    /// The console runs a shell without getty (initramfs): no login, wait for the shell
    #[arg(long, help_heading = "Login")]
    no_login: bool,

    /// With --no-login: text that shows the system is up (e.g. a line the init script prints)
    #[arg(
        long,
        value_name = "TEXT",
        requires = "no_login",
        help_heading = "Login"
    )]
    ready_marker: Option<String>,

    /// On-board check command; its TAP output becomes test cases
    #[arg(
        long,
        value_name = "CMD",
        default_value = "rpibsp-verify --format tap",
        help_heading = "Work"
    )]
    verify_cmd: String,

    /// Do not run the on-board check command
    #[arg(long, help_heading = "Work")]
    no_verify: bool,

    /// A command to run on the board (repeatable; passes on exit status 0)
    #[arg(long = "cmd", value_name = "CMD", help_heading = "Work")]
    cmds: Vec<String>,

    /// File with one command per line (blank lines and # comments ignored)
    #[arg(long, value_name = "FILE", help_heading = "Work")]
    script: Option<PathBuf>,

    /// Copy a file of this machine to the board over the console before the verification and
    /// the commands; REMOTE is an absolute path there (repeatable; see PUSH below)
    #[arg(long = "push", value_name = "LOCAL:REMOTE", help_heading = "Work")]
    pushes: Vec<PushSpec>,

    /// Push over the network: the board fetches the files with wget from this machine, which it
    /// reaches at HOST (e.g. 192.168.1.10; 10.0.2.2 from QEMU's user network); the console is
    /// used for a file the board cannot fetch
    #[arg(long, value_name = "HOST", help_heading = "Work")]
    http_host: Option<String>,

    /// Where this machine serves the pushed files for --http-host (default: every interface, a
    /// free port)
    #[arg(
        long,
        value_name = "ADDR:PORT",
        default_value = "0.0.0.0:0",
        help_heading = "Work"
    )]
    http_listen: String,

    /// Do not run `dmesg -n 1` after login
    #[arg(long, help_heading = "Work")]
    keep_kernel_console: bool,

    /// Seconds from start (or power cycle) to the login prompt / shell
    #[arg(
        long,
        value_name = "S",
        default_value_t = 300,
        help_heading = "Time limits"
    )]
    boot_timeout: u64,

    /// Seconds from the login prompt to a working shell
    #[arg(
        long,
        value_name = "S",
        default_value_t = 60,
        help_heading = "Time limits"
    )]
    login_timeout: u64,

    /// Seconds each --cmd may take
    #[arg(
        long,
        value_name = "S",
        default_value_t = 120,
        help_heading = "Time limits"
    )]
    cmd_timeout: u64,

    /// Seconds the verify command may take
    #[arg(
        long,
        value_name = "S",
        default_value_t = 600,
        help_heading = "Time limits"
    )]
    verify_timeout: u64,

    /// Overall limit in seconds
    #[arg(
        long,
        value_name = "S",
        default_value_t = 1800,
        help_heading = "Time limits"
    )]
    deadline: u64,

    /// Press Enter after this many silent seconds while waiting for the prompt (0: never)
    #[arg(
        long,
        value_name = "S",
        default_value_t = 10,
        help_heading = "Time limits"
    )]
    poke_after: u64,

    /// Extra boot attempts when no shell is reached (QEMU is restarted, --power-cycle is run)
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        help_heading = "Time limits"
    )]
    boot_retries: u32,

    /// Shell command run on this machine before each boot attempt (e.g. a relay or USB hub
    /// power cycle of a real board)
    #[arg(long, value_name = "CMD", help_heading = "Time limits")]
    power_cycle: Option<String>,

    /// Keep each attempt's raw console log here
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    log_dir: Option<PathBuf>,

    /// Write JUnit XML here (updated while the run goes; the directory must exist)
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    junit: Option<PathBuf>,

    /// No progress lines on standard error
    #[arg(long, short, help_heading = "Output")]
    quiet: bool,

    /// Show every command's output on standard error as it arrives (`board| ` lines); without
    /// it only a verify command with `--mode interactive` is shown (see LIVE OUTPUT below)
    #[arg(long, help_heading = "Output")]
    live: bool,
}

fn read_script(path: &PathBuf) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --script {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

fn config(cli: &Cli) -> Result<RunConfig> {
    let target = if let Some(path) = &cli.serial {
        Target::Serial {
            path: path.clone(),
            baud: cli.baud,
        }
    } else if let Some(addr) = &cli.tcp {
        Target::Tcp {
            addr: addr.clone(),
            mode: match cli.tcp_mode {
                TcpModeArg::Auto => TcpMode::Auto,
                TcpModeArg::Rfc2217 => TcpMode::Rfc2217,
                TcpModeArg::Raw => TcpMode::Raw,
            },
        }
    } else if let Some(m) = cli.qemu {
        let (Some(kernel), Some(dtb)) = (&cli.kernel, &cli.dtb) else {
            bail!("--qemu needs --kernel and --dtb");
        };
        let rootfs = match (&cli.initrd, &cli.sd) {
            (Some(i), None) => Rootfs::Initrd(i.clone()),
            (None, Some(s)) => Rootfs::Sd(s.clone()),
            (None, None) => Rootfs::None,
            (Some(_), Some(_)) => bail!("--initrd and --sd exclude each other"),
        };
        Target::Qemu {
            spec: QemuSpec {
                program: cli.qemu_bin.clone(),
                machine: match m {
                    MachineArg::Raspi3b => Machine::Raspi3b,
                    MachineArg::Raspi4b => Machine::Raspi4b,
                },
                kernel: kernel.clone(),
                dtb: dtb.clone(),
                rootfs,
                append: cli.append.clone(),
                sd_writable: cli.sd_writable,
                extra: cli.qemu_arg.clone(),
            },
            resize_sd: !cli.no_sd_resize,
        }
    } else {
        bail!("choose a target: --serial, --tcp or --qemu");
    };
    let mut cfg = RunConfig::new(target);
    cfg.login = if cli.no_login {
        Login::NoLogin {
            ready_marker: cli.ready_marker.clone(),
        }
    } else {
        Login::User {
            user: cli.user.clone(),
            password: cli.password.clone(),
        }
    };
    cfg.timeouts = Timeouts {
        boot: Duration::from_secs(cli.boot_timeout),
        login: Duration::from_secs(cli.login_timeout),
        command: Duration::from_secs(cli.cmd_timeout),
        resync: Duration::from_secs(15),
        poke_after: (cli.poke_after > 0).then(|| Duration::from_secs(cli.poke_after)),
    };
    cfg.verify_timeout = Duration::from_secs(cli.verify_timeout);
    cfg.deadline = Duration::from_secs(cli.deadline);
    cfg.boot_retries = cli.boot_retries;
    cfg.power_cycle = cli.power_cycle.clone();
    cfg.quiet_cmd = (!cli.keep_kernel_console).then(|| "dmesg -n 1".to_string());
    for p in &cli.pushes {
        let meta =
            std::fs::metadata(&p.local).with_context(|| format!("--push {}", p.local.display()))?;
        if !meta.is_file() {
            bail!("--push {}: not a regular file", p.local.display());
        }
    }
    cfg.pushes = cli.pushes.clone();
    cfg.http = cli.http_host.as_ref().map(|host| rpibsp_hil::HttpPush {
        listen: cli.http_listen.clone(),
        host: host.clone(),
    });
    cfg.live = if cli.live {
        LiveOutput::All
    } else {
        LiveOutput::Interactive
    };
    cfg.verify = (!cli.no_verify).then(|| cli.verify_cmd.clone());
    cfg.commands = cli.cmds.clone();
    if let Some(script) = &cli.script {
        cfg.commands.extend(read_script(script)?);
    }
    cfg.log_dir = cli.log_dir.clone();
    cfg.workdir = cli.workdir.clone();
    if cfg.verify.is_none() && cfg.commands.is_empty() && cfg.pushes.is_empty() {
        eprintln!(
            "rpibsp-hil: note: --no-verify and no --cmd/--script: only boot and login are tested"
        );
    }
    Ok(cfg)
}

/// Exit status for a bad command line.
const EXIT_USAGE: u8 = 2;
/// Exit status when an output (--junit, --log-dir) cannot be written.
const EXIT_OUTPUT: u8 = 5;

/// The directory a file path lives in (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// --junit FILE: not a directory, in an existing directory where files can be created (the
/// file is replaced by renaming a new one over it).
fn check_junit(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("--junit {}: is a directory", path.display());
    }
    let dir = dir_of(path);
    if dir.exists() && !dir.is_dir() {
        bail!(
            "--junit {}: {} is not a directory",
            path.display(),
            dir.display()
        );
    }
    if !dir.is_dir() {
        bail!(
            "--junit {}: directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    temp_file_in(dir).with_context(|| {
        format!(
            "--junit {}: cannot create files in {}",
            path.display(),
            dir.display()
        )
    })?;
    Ok(())
}

/// --log-dir DIR: created if missing, and writable.
fn check_log_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--log-dir {}: cannot create it", dir.display()))?;
    temp_file_in(dir)
        .with_context(|| format!("--log-dir {}: cannot create files in it", dir.display()))?;
    Ok(())
}

/// A new temporary file in `dir` (hidden, `.tmp`: never taken for a report by a glob).
fn temp_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".rpibsp-hil-")
        .suffix(".tmp")
        .tempfile_in(dir)
}

/// Replaces `path` with `text` atomically: readers see the old or the new file, never half of
/// one, even when rpibsp-hil is killed while writing.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let mut f = temp_file_in(dir_of(path))?;
    f.write_all(text.as_bytes())?;
    f.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    f.persist(path)?;
    Ok(())
}

struct ConsoleObserver {
    quiet: bool,
    junit: Option<PathBuf>,
    warned: bool,
}

impl Observer for ConsoleObserver {
    fn progress(&mut self, line: &str) {
        if !self.quiet {
            eprintln!("rpibsp-hil: {line}");
        }
    }

    fn live_output(&mut self, _command: &str, line: &str) {
        // Shown even with --quiet: a person may have to act on it. eprintln! is unbuffered.
        eprintln!("board| {line}");
    }

    fn snapshot(&mut self, report: &RunReport, step: &str) {
        let Some(path) = &self.junit else { return };
        let written = report
            .junit_snapshot(step)
            .map_err(anyhow::Error::from)
            .and_then(|xml| write_atomically(path, &xml));
        if let Err(e) = written {
            if !self.warned {
                eprintln!(
                    "rpibsp-hil: warning: cannot update {} during the run: {e:#}",
                    path.display()
                );
                self.warned = true;
            }
        }
    }
}

fn real_main() -> Result<u8, (u8, anyhow::Error)> {
    let cli = Cli::parse();
    let cfg = config(&cli).map_err(|e| (EXIT_USAGE, e))?;
    if let Some(path) = &cli.junit {
        check_junit(path).map_err(|e| (EXIT_OUTPUT, e))?;
    }
    if let Some(dir) = &cli.log_dir {
        check_log_dir(dir).map_err(|e| (EXIT_OUTPUT, e))?;
    }
    let mut observer = ConsoleObserver {
        quiet: cli.quiet,
        junit: cli.junit.clone(),
        warned: false,
    };
    let report = rpibsp_hil::run_observed(&cfg, &mut observer);
    print!("{}", report.summary());
    if let Some(path) = &cli.junit {
        report
            .junit()
            .map_err(anyhow::Error::from)
            .and_then(|xml| write_atomically(path, &xml))
            .with_context(|| format!("writing JUnit XML to {}", path.display()))
            .map_err(|e| (EXIT_OUTPUT, e))?;
        println!("JUnit XML: {}", path.display());
    }
    Ok(u8::try_from(report.verdict.exit_code()).unwrap_or(1))
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => ExitCode::from(code),
        Err((code, e)) => {
            eprintln!("rpibsp-hil: {e:#}");
            ExitCode::from(code)
        }
    }
}
