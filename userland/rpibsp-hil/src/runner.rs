//! One hardware-in-the-loop run: open the target, boot (with retries), log in, quiet the
//! kernel, run rpibsp-verify and the commands, and collect the results.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use rpibsp_report::tap::{LineKind, TapDocument, TapStream};
use rpibsp_report::{human_duration, Case, Counts, Outcome};

use crate::console::{Console, ConsoleError, TcpMode};
use crate::protocol::{printable, ConsoleLine};
use crate::push::{self, PushSpec};
use crate::qemu::{Qemu, QemuError, QemuSpec};
use crate::session::{BootError, CmdResult, Login, Session, Timeouts};

/// Where the board is.
#[derive(Clone, Debug)]
pub enum Target {
    /// A serial device.
    Serial {
        /// Device path, e.g. /dev/ttyUSB0.
        path: String,
        /// Baud rate.
        baud: u32,
    },
    /// A TCP console (raw or RFC 2217).
    Tcp {
        /// host:port.
        addr: String,
        /// Raw, RFC 2217, or whichever the server speaks.
        mode: TcpMode,
    },
    /// The emulated board, started by rpibsp-hil.
    Qemu {
        /// How to start it.
        spec: QemuSpec,
        /// Use a power-of-two copy of a non-power-of-two SD image.
        resize_sd: bool,
    },
}

impl Target {
    /// A short description.
    pub fn describe(&self) -> String {
        match self {
            Target::Serial { path, baud } => format!("serial {path} @ {baud}"),
            Target::Tcp { addr, .. } => format!("tcp {addr}"),
            Target::Qemu { spec, .. } => format!("qemu {}", spec.machine.name()),
        }
    }

    fn slug(&self) -> String {
        self.describe()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// Which commands' output is passed on to the [`Observer`] as it arrives
/// ([`Observer::live_output`]), for a person watching the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LiveOutput {
    /// Only a verify command that asks a person for something (`--mode interactive`, see
    /// [`asks_a_person`]): its lines that are not TAP (the instructions) are passed on.
    #[default]
    Interactive,
    /// Every command: the verify command's lines that are not TAP, and all output lines of
    /// the other commands.
    All,
    /// Nothing.
    Off,
}

/// Whether a verify command runs `rpibsp-verify --mode interactive` (also `--mode=interactive`),
/// which tells a person on its standard error what to do and waits for it.
pub fn asks_a_person(cmd: &str) -> bool {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    words.iter().enumerate().any(|(i, w)| {
        *w == "--mode=interactive" || (*w == "--mode" && words.get(i + 1) == Some(&"interactive"))
    })
}

/// `--http-host`: the laptop serves the pushed files over HTTP and the board fetches them with
/// `wget` (the console is used when that fails, e.g. a board without a network).
#[derive(Clone, Debug)]
pub struct HttpPush {
    /// Where the laptop listens (e.g. `0.0.0.0:0`: every interface, a free port).
    pub listen: String,
    /// The laptop's address as the board reaches it (e.g. `10.0.2.2` from QEMU's user network).
    pub host: String,
}

/// A run's configuration.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The board.
    pub target: Target,
    /// How to get a shell.
    pub login: Login,
    /// Step time limits.
    pub timeouts: Timeouts,
    /// Time limit of the on-board verification command.
    pub verify_timeout: Duration,
    /// Overall time limit.
    pub deadline: Duration,
    /// Extra boot attempts after a failed boot.
    pub boot_retries: u32,
    /// Shell command run on the laptop before every boot attempt (real boards: power cycle).
    pub power_cycle: Option<String>,
    /// Command run right after login (default `dmesg -n 1`), failures noted only.
    pub quiet_cmd: Option<String>,
    /// Files copied to the board after the quiet command, before the verification and the
    /// commands; each is a test case, and a failed one fails (skips) everything after it.
    pub pushes: Vec<PushSpec>,
    /// Pushes over the network instead of the console, where the board can fetch them.
    pub http: Option<HttpPush>,
    /// On-board verification command whose TAP output becomes test cases.
    pub verify: Option<String>,
    /// Further commands, each a test case (exit status 0 = pass).
    pub commands: Vec<String>,
    /// Which commands' output lines are passed on live.
    pub live: LiveOutput,
    /// Directory for raw console logs (one per attempt).
    pub log_dir: Option<PathBuf>,
    /// Directory for QEMU's socket and files (default: a fresh temporary directory).
    pub workdir: Option<PathBuf>,
}

impl RunConfig {
    /// Defaults for a target: root login, `rpibsp-verify --format tap`, no pushes or commands,
    /// live output of an interactive verification only.
    pub fn new(target: Target) -> Self {
        RunConfig {
            target,
            login: Login::User {
                user: "root".into(),
                password: None,
            },
            timeouts: Timeouts::default(),
            verify_timeout: Duration::from_secs(600),
            deadline: Duration::from_secs(1800),
            boot_retries: 0,
            power_cycle: None,
            quiet_cmd: Some("dmesg -n 1".into()),
            pushes: Vec::new(),
            http: None,
            verify: Some("rpibsp-verify --format tap".into()),
            commands: Vec::new(),
            live: LiveOutput::default(),
            log_dir: None,
            workdir: None,
        }
    }
}

/// One boot attempt.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// 1-based.
    pub number: u32,
    /// What happened.
    pub outcome: String,
    /// Raw console log of the attempt.
    pub log: Option<PathBuf>,
}

/// How the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Everything passed.
    Passed,
    /// Booted, but a check or command failed.
    Failed,
    /// No shell after all attempts.
    BootFailed,
    /// The target could not be opened or started.
    SetupFailed,
}

impl Verdict {
    /// Process exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Passed => 0,
            Verdict::Failed => 1,
            Verdict::BootFailed => 3,
            Verdict::SetupFailed => 4,
        }
    }
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Target description.
    pub target: String,
    /// One case per step, check and command.
    pub cases: Vec<Case>,
    /// Boot attempts.
    pub attempts: Vec<Attempt>,
    /// Things a person should know (resized SD image, QEMU command line, ...).
    pub notes: Vec<String>,
    /// Verdict.
    pub verdict: Verdict,
    /// Wall time.
    pub duration: Duration,
    /// Start time (UTC, RFC 3339).
    pub started: String,
    /// Start time.
    pub started_at: SystemTime,
    /// Last console lines of the last attempt.
    pub console_tail: String,
}

/// RFC 3339 UTC time, e.g. `2026-11-22T10:04:05Z`.
pub fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Compact UTC time for file names, e.g. `20261122T100405Z`.
pub fn file_stamp(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// Receives what a run does while it goes.
pub trait Observer {
    /// One line per step (boot, login, each command, each on-board result).
    fn progress(&mut self, line: &str);
    /// The report as it stands, after every new result; `step` says what runs now. A JUnit
    /// file written from it ([`RunReport::junit_snapshot`]) survives a hang or a kill.
    fn snapshot(&mut self, _report: &RunReport, _step: &str) {}
    /// A line of a running command's output, as soon as it has arrived (printable, never
    /// empty), for the commands [`RunConfig::live`] selects: of the verify command only the
    /// lines that are not TAP (instructions for a person, messages), of other commands all.
    fn live_output(&mut self, _command: &str, _line: &str) {}
}

struct ProgressOnly<'a>(&'a mut dyn FnMut(&str));

impl Observer for ProgressOnly<'_> {
    fn progress(&mut self, line: &str) {
        (self.0)(line);
    }
}

enum Opened {
    Plain(Console),
    Qemu(Qemu, Console),
}

impl Opened {
    fn console(&mut self) -> &mut Console {
        match self {
            Opened::Plain(c) | Opened::Qemu(_, c) => c,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error(transparent)]
    Console(#[from] ConsoleError),
    #[error(transparent)]
    Qemu(#[from] QemuError),
    #[error("power-cycle command `{cmd}` failed: {why}")]
    PowerCycle { cmd: String, why: String },
}

fn open(cfg: &RunConfig, workdir: &Path, notes: &mut Vec<String>) -> Result<Opened, OpenError> {
    if let Some(cmd) = &cfg.power_cycle {
        let status = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .status()
            .map_err(|e| OpenError::PowerCycle {
                cmd: cmd.clone(),
                why: e.to_string(),
            })?;
        if !status.success() {
            return Err(OpenError::PowerCycle {
                cmd: cmd.clone(),
                why: status.to_string(),
            });
        }
    }
    Ok(match &cfg.target {
        Target::Serial { path, baud } => Opened::Plain(Console::serial(path, *baud)?),
        Target::Tcp { addr, mode } => {
            let mut c = Console::tcp(addr, Duration::from_secs(10), *mode)?;
            for n in std::mem::take(&mut c.notes) {
                if !notes.contains(&n) {
                    notes.push(n);
                }
            }
            Opened::Plain(c)
        }
        Target::Qemu { spec, resize_sd } => {
            let (q, c, more) = Qemu::start(spec, workdir, *resize_sd)?;
            for n in more {
                if !notes.contains(&n) {
                    notes.push(n);
                }
            }
            let line = format!("QEMU: {}", q.command_line);
            if !notes.contains(&line) {
                notes.push(line);
            }
            Opened::Qemu(q, c)
        }
    })
}

/// QEMU's directory: the one given, or a fresh private temporary directory (random name,
/// mode 0700, removed at the end) from `tempfile`.
enum Workdir {
    Given(PathBuf),
    Temporary(tempfile::TempDir),
}

impl Workdir {
    fn path(&self) -> &Path {
        match self {
            Workdir::Given(p) => p,
            Workdir::Temporary(t) => t.path(),
        }
    }
}

fn case(
    group: &str,
    name: impl Into<String>,
    outcome: Outcome,
    duration: Option<Duration>,
) -> Case {
    Case {
        duration,
        ..Case::new(group, name, outcome)
    }
}

/// Runs everything; `progress` receives one line per step as it happens.
pub fn run(cfg: &RunConfig, progress: &mut dyn FnMut(&str)) -> RunReport {
    run_observed(cfg, &mut ProgressOnly(progress))
}

fn add(report: &mut RunReport, obs: &mut dyn Observer, c: Case, step: &str) {
    report.cases.push(c);
    obs.snapshot(report, step);
}

/// [`run`] with an [`Observer`] that also gets the report after every new result.
pub fn run_observed(cfg: &RunConfig, obs: &mut dyn Observer) -> RunReport {
    let started_at = SystemTime::now();
    let start = Instant::now();
    let deadline = start + cfg.deadline;
    let mut report = RunReport {
        target: cfg.target.describe(),
        cases: Vec::new(),
        attempts: Vec::new(),
        notes: Vec::new(),
        verdict: Verdict::BootFailed,
        duration: Duration::ZERO,
        started: rfc3339(started_at),
        started_at,
        console_tail: String::new(),
    };
    let workdir = match &cfg.workdir {
        Some(p) => std::fs::create_dir_all(p).map(|()| Workdir::Given(p.clone())),
        None => tempfile::Builder::new()
            .prefix("rpibsp-hil-")
            .tempdir()
            .map(Workdir::Temporary),
    };
    let workdir = match workdir {
        Ok(w) => w,
        Err(e) => {
            let what = cfg.workdir.as_ref().map_or_else(
                || {
                    format!(
                        "a temporary directory in {}",
                        std::env::temp_dir().display()
                    )
                },
                |p| p.display().to_string(),
            );
            report.cases.push(case(
                "setup",
                "work directory",
                Outcome::Fail(format!("{what}: {e}")),
                None,
            ));
            report.verdict = Verdict::SetupFailed;
            return report;
        }
    };

    let attempts = cfg.boot_retries + 1;
    let mut boot_errors: Vec<BootError> = Vec::new();
    for number in 1..=attempts {
        if Instant::now() >= deadline {
            break;
        }
        obs.progress(&format!(
            "attempt {number}/{attempts}: connecting to {}",
            report.target
        ));
        let mut opened = match open(cfg, workdir.path(), &mut report.notes) {
            Ok(o) => o,
            Err(e) => {
                report.cases.push(case(
                    "setup",
                    format!("open {}", report.target),
                    Outcome::Fail(e.to_string()),
                    None,
                ));
                report.attempts.push(Attempt {
                    number,
                    outcome: format!("setup failed: {e}"),
                    log: None,
                });
                report.verdict = Verdict::SetupFailed;
                break;
            }
        };
        let log = cfg.log_dir.as_ref().map(|d| {
            d.join(format!(
                "{}-{}-attempt{number}.log",
                file_stamp(started_at),
                cfg.target.slug()
            ))
        });
        if let Some(path) = &log {
            if let Err(e) = opened.console().log_to(path) {
                report.notes.push(format!("no console log: {e}"));
            }
        }
        let boot_start = Instant::now();
        obs.snapshot(&report, &format!("booting (attempt {number})"));
        let booted = {
            let mut session = Session::new(opened.console(), deadline);
            session.boot(&cfg.login, &cfg.timeouts)
        };
        match booted {
            Ok(times) => {
                obs.progress(&format!(
                    "attempt {number}: shell after {} (prompt after {})",
                    human_duration(boot_start.elapsed()),
                    human_duration(times.boot)
                ));
                let step = match cfg.login {
                    Login::User { .. } if !times.reused => "boot to login prompt",
                    _ => "boot to shell",
                };
                add(
                    &mut report,
                    obs,
                    case("boot", step, Outcome::Pass, Some(times.boot)),
                    "logging in",
                );
                if let Login::User { user, .. } = &cfg.login {
                    let mut c = case(
                        "boot",
                        format!("login as {user}"),
                        Outcome::Pass,
                        Some(times.login),
                    );
                    if times.logouts > 0 {
                        let n = format!(
                            "a shell was already logged in on the console: logged out ({} time(s)) and logged in afresh",
                            times.logouts
                        );
                        c.details.push(n.clone());
                        report.notes.push(n);
                    }
                    if times.reused {
                        let n = format!(
                            "a shell of {user} was already logged in on the console: used as it is, no new login"
                        );
                        c.details.push(n.clone());
                        report.notes.push(n);
                    }
                    add(&mut report, obs, c, "logged in");
                }
                report.attempts.push(Attempt {
                    number,
                    outcome: "booted".into(),
                    log: log.clone(),
                });
                let mut session = Session::new(opened.console(), deadline);
                run_commands(cfg, &mut session, &mut report, obs);
                report.console_tail = opened.console().tail(200);
                report.verdict = if Counts::of(&report.cases).failed == 0 {
                    Verdict::Passed
                } else {
                    Verdict::Failed
                };
                if let Opened::Qemu(q, _) = &opened {
                    copy_qemu_output(q, log.as_deref(), &mut report.notes);
                }
                break;
            }
            Err(e) => {
                let exited = match &mut opened {
                    Opened::Qemu(q, _) => q.exited().map(|s| format!(" (QEMU exited: {s})")),
                    Opened::Plain(_) => None,
                };
                let outcome = format!("{e}{}", exited.unwrap_or_default());
                obs.progress(&format!("attempt {number}: {outcome}"));
                report.attempts.push(Attempt {
                    number,
                    outcome,
                    log: log.clone(),
                });
                report.console_tail = opened.console().tail(200);
                if let Opened::Qemu(q, _) = &opened {
                    copy_qemu_output(q, log.as_deref(), &mut report.notes);
                }
                boot_errors.push(e);
            }
        }
    }
    if report.verdict == Verdict::BootFailed {
        let last = boot_errors.last();
        let mut why = last
            .map(|e| e.to_string())
            .unwrap_or_else(|| "overall deadline reached before booting".into());
        // The last attempt may have seen nothing (a board that does not reboot): show the
        // console of the latest attempt that printed something.
        if let Some((i, e)) = boot_errors
            .iter()
            .enumerate()
            .rev()
            .find(|(_, e)| !e.tail.is_empty())
        {
            if i + 1 == boot_errors.len() {
                why.push_str("\nlast console lines:\n");
            } else {
                why.push_str(&format!("\nlast console lines of attempt {}:\n", i + 1));
            }
            why.push_str(&e.tail);
        }
        let mut c = case(
            "boot",
            "boot and get a shell",
            Outcome::Fail(why),
            Some(start.elapsed()),
        );
        c.details = report
            .attempts
            .iter()
            .map(|a| {
                format!(
                    "attempt {}: {}",
                    a.number,
                    a.outcome.lines().next().unwrap_or("")
                )
            })
            .collect();
        report.cases.push(c);
    }
    report.duration = start.elapsed();
    report
}

fn copy_qemu_output(q: &Qemu, log: Option<&Path>, notes: &mut Vec<String>) {
    let Some(log) = log else { return };
    let dest = log.with_extension("qemu.txt");
    if std::fs::copy(&q.output_path, &dest).is_ok()
        && std::fs::metadata(&dest)
            .map(|m| m.len() > 0)
            .unwrap_or(false)
    {
        notes.push(format!("QEMU's own output: {}", dest.display()));
    }
}

/// A step after login, in the order they run.
enum Step<'a> {
    Push(&'a PushSpec),
    Verify(&'a str),
    Command(&'a str),
}

impl Step<'_> {
    /// The failing case of a step that was not run.
    fn not_run(&self, why: &str) -> Case {
        let outcome = Outcome::Fail(format!("not run: {why}"));
        match self {
            Step::Push(p) => case("push", p.label(), outcome, None),
            Step::Verify(v) => case("verify", format!("`{v}` completes"), outcome, None),
            Step::Command(c) => case("command", *c, outcome, None),
        }
    }
}

fn run_commands(
    cfg: &RunConfig,
    session: &mut Session<'_>,
    report: &mut RunReport,
    obs: &mut dyn Observer,
) {
    if let Some(q) = &cfg.quiet_cmd {
        let r = session.run(q, cfg.timeouts.command);
        if !r.ok() {
            report.notes.push(format!(
                "`{q}` did not succeed ({}); kernel messages may interleave with output",
                r.error
                    .clone()
                    .unwrap_or_else(|| format!("exit {}", r.status.unwrap_or(-1)))
            ));
            if r.status.is_none() && !recover(cfg, session, report, obs) {
                return;
            }
        }
    }
    let server = match (&cfg.http, cfg.pushes.is_empty()) {
        (Some(h), false) => match crate::http::FileServer::start(&h.listen) {
            Ok(s) => Some(s),
            Err(e) => {
                report
                    .notes
                    .push(format!("--http-listen: {e}; the files go over the console"));
                None
            }
        },
        _ => None,
    };
    let mut pending: Vec<Step<'_>> = cfg.pushes.iter().map(Step::Push).collect();
    pending.extend(cfg.verify.as_deref().map(Step::Verify));
    pending.extend(cfg.commands.iter().map(|c| Step::Command(c)));
    let mut iter = pending.into_iter();
    while let Some(step) = iter.next() {
        // Why the remaining steps are not run, if this one makes it so.
        let stop = match step {
            Step::Push(spec) => run_push(cfg, session, spec, server.as_ref(), report, obs),
            Step::Verify(cmd) | Step::Command(cmd) => {
                obs.progress(&format!("running: {cmd}"));
                let what = format!("running `{cmd}`");
                obs.snapshot(report, &what);
                let r = if let Step::Verify(_) = step {
                    run_verify(cfg, session, cmd, report, obs, &what)
                } else {
                    let live = cfg.live == LiveOutput::All;
                    let r = session.run_streaming(cmd, cfg.timeouts.command, &mut |line| {
                        if let (true, ConsoleLine::Output(text)) = (live, line) {
                            pass_on(obs, cmd, text);
                        }
                    });
                    report.cases.push(command_case(&r));
                    r
                };
                obs.progress(&format!(
                    "  {} in {}",
                    match (r.status, &r.error) {
                        (Some(s), _) => format!("exit {s}"),
                        (None, Some(e)) => e.clone(),
                        (None, None) => "no status".into(),
                    },
                    human_duration(r.duration)
                ));
                obs.snapshot(report, &format!("`{cmd}` ended"));
                (r.status.is_none() && !recover(cfg, session, report, obs))
                    .then(|| "the console stopped responding after an earlier command".to_string())
            }
        };
        if let Some(why) = stop {
            for rest in iter.by_ref() {
                report.cases.push(rest.not_run(&why));
            }
            obs.snapshot(report, "giving up");
            return;
        }
    }
}

/// Hands a line of live output to the observer (printable; blank lines are left out).
fn pass_on(obs: &mut dyn Observer, cmd: &str, text: &str) {
    let line = printable(text);
    if !line.trim().is_empty() {
        obs.live_output(cmd, line.trim_end());
    }
}

/// Copies one file to the board (a case); on failure removes its temporaries and returns why
/// the remaining steps are not run.
fn run_push(
    cfg: &RunConfig,
    session: &mut Session<'_>,
    spec: &PushSpec,
    server: Option<&crate::http::FileServer>,
    report: &mut RunReport,
    obs: &mut dyn Observer,
) -> Option<String> {
    let label = spec.label();
    obs.progress(&format!(
        "pushing {} -> {}",
        spec.local.display(),
        spec.remote
    ));
    obs.snapshot(report, &label);
    let start = Instant::now();
    let mut fallback = None;
    let over_http = match (server, &cfg.http) {
        (Some(srv), Some(h)) => {
            match push::push_http(session, spec, srv, &h.host, cfg.timeouts.command) {
                Err(e) if !e.needs_recovery() => {
                    let _ =
                        push::cleanup(session, spec, cfg.timeouts.command.max(cfg.timeouts.resync));
                    let why = format!("over the network: {e}; sending it over the console");
                    obs.progress(&format!("  {why}"));
                    fallback = Some(why);
                    None
                }
                r => Some(r),
            }
        }
        _ => None,
    };
    let result = match over_http {
        Some(r) => r,
        None => push::push(session, spec, cfg.timeouts.command, &mut |line| {
            obs.progress(line)
        }),
    };
    let (c, stop) = match result {
        Ok(r) => {
            obs.progress(&format!(
                "  pushed {} bytes in {}{}",
                r.size,
                human_duration(r.duration),
                if r.unchanged {
                    " (already there)"
                } else if r.url.is_some() {
                    " (over the network)"
                } else {
                    ""
                }
            ));
            let mut c = case("push", label, Outcome::Pass, Some(r.duration));
            c.details.extend(fallback);
            c.details.push(r.summary());
            (c, None)
        }
        Err(e) => {
            let mut why = format!("{label} failed: {e}");
            let shell = !e.needs_recovery() || recover(cfg, session, report, obs);
            if shell && e.touched_board() {
                // A plain `rm`: given at least the resync time, so that a short --cmd-timeout
                // on a loaded board does not leave the temporaries behind.
                let limit = cfg.timeouts.command.max(cfg.timeouts.resync);
                if let Err(c) = push::cleanup(session, spec, limit) {
                    why.push_str(&format!(
                        "; removing the temporary files {} and {} failed too: {c}",
                        spec.b64_path(),
                        spec.part_path()
                    ));
                }
            } else if e.touched_board() {
                why.push_str(&format!(
                    "; the temporary files {} and {} may be left on the board",
                    spec.b64_path(),
                    spec.part_path()
                ));
            }
            obs.progress(&format!("  {why}"));
            let c = case(
                "push",
                label.clone(),
                Outcome::Fail(why.clone()),
                Some(start.elapsed()),
            );
            (c, Some(format!("`{label}` failed: {e}")))
        }
    };
    add(report, obs, c, &format!("`{}` ended", spec.label()));
    stop
}

fn recover(
    cfg: &RunConfig,
    session: &mut Session<'_>,
    report: &mut RunReport,
    obs: &mut dyn Observer,
) -> bool {
    obs.progress("  interrupting it (Ctrl-C) and waiting for the shell");
    match session.recover(cfg.timeouts.resync) {
        Ok(()) => true,
        Err(e) => {
            add(
                report,
                obs,
                case(
                    "session",
                    "shell responds after a failed command",
                    Outcome::Fail(format!("{e}\nlast console lines:\n{}", e.tail)),
                    None,
                ),
                "giving up on the console",
            );
            false
        }
    }
}

/// Runs the on-board verification: each TAP result becomes a case as soon as its line has
/// arrived (with progress and a snapshot), so a board that hangs half-way still leaves the
/// results before the hang, and the final case names where it hung.
fn run_verify(
    cfg: &RunConfig,
    session: &mut Session<'_>,
    cmd: &str,
    report: &mut RunReport,
    obs: &mut dyn Observer,
    step: &str,
) -> CmdResult {
    let base = report.cases.len();
    let mut stream = TapStream::new();
    let live = match cfg.live {
        LiveOutput::All => true,
        LiveOutput::Interactive => asks_a_person(cmd),
        LiveOutput::Off => false,
    };
    let r = session.run_streaming(cmd, cfg.verify_timeout, &mut |line| {
        let ConsoleLine::Output(text) = line else {
            return;
        };
        let kind = stream.push_line(text);
        if live && kind == LineKind::Other {
            // Instructions for a person (`>>> Press ...`), warnings: at once, not at the end.
            pass_on(obs, cmd, text);
        }
        match kind {
            LineKind::Test => {
                if let Some(t) = stream.tests().last() {
                    obs.progress(&format!("  {} {}", t.outcome.label(), t.name));
                }
            }
            LineKind::Diagnostic if stream.tests().is_empty() => return,
            LineKind::Diagnostic => {}
            _ => return,
        }
        report.cases.truncate(base);
        report.cases.extend(verify_test_cases(stream.document()));
        obs.snapshot(report, step);
    });
    report.cases.truncate(base);
    let doc = stream.finish();
    verify_cases(&doc, &r, report);
    r
}

fn output_tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn command_case(r: &CmdResult) -> Case {
    let outcome = match (r.status, &r.error) {
        (Some(0), _) => Outcome::Pass,
        (Some(s), _) => Outcome::Fail(format!("exit status {s}{}", hint(s, &r.command))),
        (None, Some(e)) => Outcome::Fail(e.clone()),
        (None, None) => Outcome::Fail("no exit status".into()),
    };
    let mut c = case("command", r.command.clone(), outcome, Some(r.duration));
    let out = output_tail(&crate::protocol::printable(&r.output), 40);
    if !out.is_empty() {
        c.details.push(format!("output:\n{out}"));
    }
    if !r.kernel_lines.is_empty() {
        c.details.push(format!(
            "kernel messages meanwhile:\n{}",
            r.kernel_lines.join("\n")
        ));
    }
    c
}

fn hint(status: i32, cmd: &str) -> String {
    let prog = cmd.split_whitespace().next().unwrap_or(cmd);
    match status {
        127 => format!(" (`{prog}` not found on the board: is it in the rootfs and on PATH?)"),
        126 => format!(" (`{prog}` is not executable: wrong architecture or not static?)"),
        130 => " (interrupted: SIGINT)".into(),
        143 => " (terminated: SIGTERM)".into(),
        _ => String::new(),
    }
}

/// One case per TAP result (`group: name` becomes class `verify.group`).
fn verify_test_cases(doc: &TapDocument) -> Vec<Case> {
    let mut cases = Vec::new();
    for t in &doc.tests {
        let (group, name) = match t.name.split_once(": ") {
            Some((g, n)) => (format!("verify.{g}"), n.to_string()),
            None => ("verify".to_string(), t.name.clone()),
        };
        let mut c = case(&group, name, t.outcome.clone(), None);
        c.details = t
            .diagnostics
            .iter()
            .skip(usize::from(matches!(t.outcome, Outcome::Fail(_))))
            .cloned()
            .collect();
        cases.push(c);
    }
    cases
}

/// The cases of a finished (or hung) verification: its results and whether it completed.
fn verify_cases(doc: &TapDocument, r: &CmdResult, report: &mut RunReport) {
    report.cases.extend(verify_test_cases(doc));
    let mut problems = Vec::new();
    if r.status.is_none() {
        // It hung (or the board did): say after which result.
        problems.push(match doc.tests.last() {
            Some(t) => format!(
                "no further result after result {} `{}`: the next check hung or the board stopped responding",
                doc.tests.len(),
                t.name
            ),
            None => "no result at all: it hung before the first check completed, or the board stopped responding".into(),
        });
    }
    if doc.tests.is_empty() || r.status.is_none() {
        problems.extend(doc.problems());
    } else if let Some(p) = doc
        .problems()
        .into_iter()
        .find(|p| !p.starts_with("no TAP plan"))
    {
        problems.push(p);
    }
    let status_problem = match (r.status, &r.error) {
        (Some(0), _) => None,
        (Some(s), _) if doc.tests.iter().all(|t| !matches!(t.outcome, Outcome::Fail(_))) && doc.tests.iter().any(|t| matches!(t.outcome, Outcome::Skip(_))) => {
            Some(format!("exit status {s}: checks were skipped (add --allow-skip to the verify command to accept skips)"))
        }
        (Some(s), _) => Some(format!("exit status {s}{}", hint(s, &r.command))),
        (None, Some(e)) => Some(e.clone()),
        (None, None) => Some("no exit status".into()),
    };
    problems.extend(status_problem);
    let outcome = if problems.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(problems.join("; "))
    };
    let mut c = case(
        "verify",
        format!("`{}` completes", r.command),
        outcome,
        Some(r.duration),
    );
    if c.outcome != Outcome::Pass {
        let out = output_tail(&crate::protocol::printable(&r.output), 30);
        if !out.is_empty() {
            c.details.push(format!("output:\n{out}"));
        }
    }
    if !r.kernel_lines.is_empty() {
        c.details.push(format!(
            "{} kernel message(s) interleaved, e.g. {}",
            r.kernel_lines.len(),
            r.kernel_lines[0]
        ));
    }
    report.cases.push(c);
}

impl RunReport {
    /// Pass/fail/skip counts.
    pub fn counts(&self) -> Counts {
        Counts::of(&self.cases)
    }

    /// A summary for people.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "rpibsp-hil: {} ({} attempt(s), {})",
            self.target,
            self.attempts.len(),
            human_duration(self.duration)
        );
        for a in &self.attempts {
            let _ = write!(
                s,
                "  attempt {}: {}",
                a.number,
                a.outcome.lines().next().unwrap_or("")
            );
            if let Some(l) = &a.log {
                let _ = write!(s, "  [log {}]", l.display());
            }
            s.push('\n');
        }
        let failed: Vec<&Case> = self
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fail(_)))
            .collect();
        let skipped: Vec<&Case> = self
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skip(_)))
            .collect();
        let mut last_group = "";
        for c in &self.cases {
            if c.group.starts_with("verify.") && c.outcome == Outcome::Pass {
                continue; // passing on-board checks are counted, not listed
            }
            if c.group != last_group {
                last_group = &c.group;
            }
            let _ = writeln!(s, "  {:<5} {:<20} {}", c.outcome.label(), c.group, c.name);
            if let Some(r) = c.outcome.reason() {
                for line in r.lines().take(12) {
                    let _ = writeln!(s, "        {line}");
                }
            }
        }
        let verified = self
            .cases
            .iter()
            .filter(|c| c.group.starts_with("verify."))
            .count();
        if verified > 0 {
            let passed = self
                .cases
                .iter()
                .filter(|c| c.group.starts_with("verify.") && c.outcome == Outcome::Pass)
                .count();
            let _ = writeln!(s, "  on-board checks: {passed} of {verified} passed");
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        let c = self.counts();
        let verdict = match self.verdict {
            Verdict::Passed => "PASSED",
            Verdict::Failed => "FAILED",
            Verdict::BootFailed => "BOOT FAILED",
            Verdict::SetupFailed => "SETUP FAILED",
        };
        let _ = writeln!(s, "{verdict}: {}", c.line());
        if !failed.is_empty() && self.verdict != Verdict::Passed {
            let _ = writeln!(
                s,
                "({} failing, {} skipped case(s) listed above)",
                failed.len(),
                skipped.len()
            );
        }
        s
    }

    /// JUnit XML of the run.
    pub fn junit(&self) -> Result<String, rpibsp_report::junit::Error> {
        self.junit_of(&self.cases, self.duration)
    }

    /// JUnit XML of a run still going (see [`Observer::snapshot`]): the cases so far and one
    /// more that fails and says the run has not finished, so a file left behind by a killed
    /// or hung rpibsp-hil never reads as a success. The final [`RunReport::junit`] has no
    /// such case.
    pub fn junit_snapshot(&self, step: &str) -> Result<String, rpibsp_report::junit::Error> {
        let mut cases = self.cases.clone();
        cases.push(case(
            "hil",
            "run completed",
            Outcome::Fail(format!(
                "rpibsp-hil has not finished: this file was written while it ran, at: {step}. \
                 If it stays like this, rpibsp-hil was killed or hangs."
            )),
            None,
        ));
        let elapsed = self.started_at.elapsed().unwrap_or_default();
        self.junit_of(&cases, elapsed)
    }

    fn junit_of(
        &self,
        cases: &[Case],
        duration: Duration,
    ) -> Result<String, rpibsp_report::junit::Error> {
        let mut props = vec![("target".to_string(), self.target.clone())];
        for a in &self.attempts {
            props.push((format!("attempt{}", a.number), a.outcome.clone()));
            if let Some(l) = &a.log {
                props.push((format!("attempt{}.log", a.number), l.display().to_string()));
            }
        }
        for (i, n) in self.notes.iter().enumerate() {
            props.push((format!("note{}", i + 1), n.clone()));
        }
        rpibsp_report::junit::render(&rpibsp_report::junit::Suite {
            name: "rpibsp-hil",
            cases,
            timestamp: Some(self.started_at),
            duration: Some(duration),
            properties: props,
            system_out: if self.console_tail.is_empty() {
                None
            } else {
                Some(self.console_tail.clone())
            },
        })
    }
}
