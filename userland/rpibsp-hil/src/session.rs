//! Talking to the board's shell over the console: wait for boot, log in, run framed
//! commands with timeouts, recover after a hung command.

use std::time::{Duration, Instant};

use crate::console::{Console, LinkState, WaitError};
use crate::protocol::{self, parse_framed, split_kernel_lines, ConsoleLine, FrameStream};

/// Text the kernel prints when it dies.
pub const PANIC: &str = "Kernel panic - not syncing";
/// busybox init's `askfirst` prompt.
pub const ASKFIRST: &str = "Please press Enter to activate this console";
/// How many left-over shells are logged out of before giving up on a login prompt.
const MAX_LOGOUTS: u32 = 3;

/// What ended the wait during boot.
enum BootEvent {
    /// The marker (login prompt or ready marker).
    Marker,
    /// A shell prompt: the console is already logged in.
    ShellPrompt,
}

/// How to get a shell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Login {
    /// Wait for getty's `login:` and log in.
    User {
        /// User name.
        user: String,
        /// Password, if the board asks for one.
        password: Option<String>,
    },
    /// The console already runs a shell (initramfs without getty): optionally wait for a
    /// marker line, then handshake with the shell.
    NoLogin {
        /// Text to wait for before the handshake.
        ready_marker: Option<String>,
    },
}

/// Per-step time limits.
#[derive(Clone, Debug)]
pub struct Timeouts {
    /// Power-on (or attach) to login prompt / shell.
    pub boot: Duration,
    /// Login prompt to a working shell.
    pub login: Duration,
    /// Each command.
    pub command: Duration,
    /// Getting the shell back after a timed-out command.
    pub resync: Duration,
    /// Send a newline when the console was silent this long while waiting for boot
    /// (a board that has already booted shows its prompt again). `None`: never.
    pub poke_after: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            boot: Duration::from_secs(300),
            login: Duration::from_secs(60),
            command: Duration::from_secs(120),
            resync: Duration::from_secs(15),
            poke_after: Some(Duration::from_secs(10)),
        }
    }
}

/// Why there is no shell.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{stage}: {reason}")]
pub struct BootError {
    /// Which step failed (`boot`, `login`, `deadline`).
    pub stage: &'static str,
    /// What happened.
    pub reason: String,
    /// Last console lines.
    pub tail: String,
}

/// Timings of a successful boot.
#[derive(Clone, Copy, Debug, Default)]
pub struct BootTimes {
    /// Until the login prompt (or the shell, without login).
    pub boot: Duration,
    /// From the prompt to a working shell.
    pub login: Duration,
    /// Shells found already logged in on the console (left over from an earlier session, or
    /// of another user) and logged out of before logging in afresh.
    pub logouts: u32,
    /// A shell of the configured user was already on the console and is used as it is: no
    /// login took place (`login` is zero).
    pub reused: bool,
}

/// Prints the user a shell runs as (see [`Session::shell_user`]).
pub const SHELL_USER_CMD: &str = "id -un 2>/dev/null || printf '%s\\n' \"${LOGNAME:-$USER}\"";

/// Result of one command.
#[derive(Clone, Debug, Default)]
pub struct CmdResult {
    /// The command.
    pub command: String,
    /// Exit status, if the end marker came back.
    pub status: Option<i32>,
    /// Output without kernel log lines.
    pub output: String,
    /// Kernel log lines that arrived during the command.
    pub kernel_lines: Vec<String>,
    /// How long it took.
    pub duration: Duration,
    /// Why there is no status (timeout, panic, console closed).
    pub error: Option<String>,
}

impl CmdResult {
    /// Exit status 0.
    pub fn ok(&self) -> bool {
        self.status == Some(0)
    }
}

/// A shell session on a console.
pub struct Session<'c> {
    /// The console.
    pub console: &'c mut Console,
    nonce: String,
    next: u32,
    deadline: Instant,
}

/// A fresh random nonce for markers.
pub fn new_nonce() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{:010x}", h.finish() & 0xff_ffff_ffff)
}

impl<'c> Session<'c> {
    /// A session that gives up at `deadline`.
    pub fn new(console: &'c mut Console, deadline: Instant) -> Self {
        Session {
            console,
            nonce: new_nonce(),
            next: 0,
            deadline,
        }
    }

    fn limit(&self, step: Duration) -> Duration {
        step.min(self.deadline.saturating_duration_since(Instant::now()))
    }

    fn fail(&self, stage: &'static str, reason: impl Into<String>) -> BootError {
        let reason = if Instant::now() >= self.deadline {
            format!("{} (overall deadline reached)", reason.into())
        } else {
            reason.into()
        };
        BootError {
            stage,
            reason,
            tail: self.console.tail(25),
        }
    }

    /// Waits for the system to come up and gets a shell.
    pub fn boot(&mut self, login: &Login, t: &Timeouts) -> Result<BootTimes, BootError> {
        let start = Instant::now();
        let poke_after = t.poke_after;
        let mut last_poke = Instant::now();
        let mut pokes = 0u32;
        let mut poke = move |c: &mut Console| {
            if let Some(after) = poke_after {
                if c.quiet_for() >= after && last_poke.elapsed() >= after && pokes < 10 {
                    let _ = c.send(b"\n");
                    last_poke = Instant::now();
                    pokes += 1;
                }
            }
        };
        let boot_limit = self.limit(t.boot);
        match login {
            Login::User { user, password } => {
                let what = "login prompt (\"login:\")";
                let mut logouts = 0;
                loop {
                    let event =
                        self.wait_boot_marker("login:", what, start, boot_limit, &mut poke, true)?;
                    if let BootEvent::Marker = event {
                        break;
                    }
                    // A shell answers instead of getty: a real board (or a console server)
                    // keeps the session of an earlier run, or the console runs a shell
                    // without getty. Confirm it is a shell; if it is the configured user's,
                    // use it as it is (typing the user name into it would only run a
                    // command of that name); otherwise log out and log in afresh.
                    let left = boot_limit.saturating_sub(start.elapsed());
                    if self
                        .handshake(left.min(Duration::from_secs(6)), "boot")
                        .is_err()
                    {
                        self.console.cursor = self.console.buf.len();
                        continue;
                    }
                    let left = boot_limit.saturating_sub(start.elapsed());
                    let who = self.shell_user(left.min(Duration::from_secs(6)));
                    if who.as_deref() == Some(user.as_str()) {
                        return Ok(BootTimes {
                            boot: start.elapsed(),
                            login: Duration::ZERO,
                            logouts,
                            reused: true,
                        });
                    }
                    if logouts == MAX_LOGOUTS {
                        return Err(self.fail(
                            "boot",
                            format!(
                                "a shell is on the console, and {MAX_LOGOUTS} `exit`s brought no login prompt \
                                 (a console without getty? then use --no-login)"
                            ),
                        ));
                    }
                    logouts += 1;
                    self.console
                        .send_line("exit")
                        .map_err(|e| self.fail("boot", e.to_string()))?;
                }
                let boot = start.elapsed();
                let login_start = Instant::now();
                self.login(user, password.as_deref(), t)?;
                Ok(BootTimes {
                    boot,
                    login: login_start.elapsed(),
                    logouts,
                    reused: false,
                })
            }
            Login::NoLogin { ready_marker } => {
                if let Some(marker) = ready_marker {
                    let what = format!("ready marker {marker:?}");
                    self.wait_boot_marker(marker, &what, start, boot_limit, &mut poke, false)?;
                }
                let left = boot_limit.saturating_sub(start.elapsed());
                self.handshake(left, "boot")?;
                Ok(BootTimes {
                    boot: start.elapsed(),
                    login: Duration::ZERO,
                    logouts: 0,
                    reused: false,
                })
            }
        }
    }

    /// Waits for `marker` during boot; answers busybox's "press Enter" and stops at a panic.
    /// With `shell_prompt`, a console that falls silent after a shell prompt ends the wait too.
    fn wait_boot_marker(
        &mut self,
        marker: &str,
        what: &str,
        start: Instant,
        limit: Duration,
        poke: &mut impl FnMut(&mut Console),
        shell_prompt: bool,
    ) -> Result<BootEvent, BootError> {
        let start_len = self.console.buf.len();
        loop {
            let left = limit.saturating_sub(start.elapsed());
            // Short slices when a prompt is watched for, so a quiet prompt is noticed.
            let slice = if shell_prompt {
                left.min(Duration::from_millis(500))
            } else {
                left
            };
            match self
                .console
                .wait_for(&[marker, PANIC, ASKFIRST], slice, &mut *poke)
            {
                Ok(0) => return Ok(BootEvent::Marker),
                Ok(1) => return Err(self.panic_error("boot", "kernel panic during boot")),
                Ok(_) => self
                    .console
                    .send(b"\n")
                    .map_err(|e| self.fail("boot", e.to_string()))?,
                Err(WaitError::Timeout { .. }) if slice < left => {
                    if self.console.quiet_for() >= Duration::from_millis(500)
                        && protocol::looks_like_prompt(&self.console.buf, self.console.cursor)
                    {
                        return Ok(BootEvent::ShellPrompt);
                    }
                }
                Err(WaitError::Timeout { .. }) => {
                    let e = WaitError::Timeout {
                        waited: start.elapsed(),
                        received: self.console.buf.len() - start_len,
                    };
                    return Err(self.fail("boot", format!("no {what}: {e}")));
                }
                Err(e) => return Err(self.fail("boot", format!("no {what}: {e}"))),
            }
        }
    }

    /// After the panic marker: lets the rest of the panic (reason, stack trace) arrive, then
    /// describes it with the kernel's own panic line.
    fn panic_error(&mut self, stage: &'static str, what: &str) -> BootError {
        self.console
            .settle(Duration::from_millis(500), Duration::from_secs(3));
        let reason = match protocol::line_at(&self.console.buf, PANIC, 0) {
            Some(line) => format!("{what}: {line}"),
            None => what.to_string(),
        };
        self.fail(stage, reason)
    }

    fn login(&mut self, user: &str, password: Option<&str>, t: &Timeouts) -> Result<(), BootError> {
        let limit = self.limit(t.login);
        let start = Instant::now();
        self.console
            .send_line(user)
            .map_err(|e| self.fail("login", e.to_string()))?;
        // A password prompt, a refusal, or (most often) a shell prompt.
        let first = self.limit(Duration::from_secs(10).min(limit));
        match self
            .console
            .wait_for(&["assword:", "Login incorrect", "# ", "$ "], first, |_| {})
        {
            Ok(0) => match password {
                Some(p) => self
                    .console
                    .send_line(p)
                    .map_err(|e| self.fail("login", e.to_string()))?,
                None => {
                    return Err(self.fail(
                        "login",
                        format!("the board asks for a password for {user:?}: pass --password"),
                    ))
                }
            },
            Ok(1) => {
                return Err(self.fail(
                    "login",
                    format!("login as {user:?} was refused (Login incorrect)"),
                ))
            }
            Ok(_) => {}
            Err(WaitError::Closed(why)) => {
                return Err(self.fail("login", format!("console closed: {why}")))
            }
            Err(WaitError::Timeout { .. }) => {} // unusual prompt: the handshake decides
        }
        let left = limit.saturating_sub(start.elapsed());
        self.handshake(left, "login")
    }

    /// The user a shell that answered the handshake runs as (`id -un`, or else the login's
    /// `LOGNAME`/`USER`: a statically linked busybox cannot look names up through glibc's NSS
    /// and says "id: unknown ID 0"), if it can tell.
    fn shell_user(&mut self, limit: Duration) -> Option<String> {
        let r = self.run(SHELL_USER_CMD, limit);
        if !r.ok() {
            if r.status.is_none() {
                // Whatever it printed late must not be taken for the next answer.
                self.console.cursor = self.console.buf.len();
            }
            return None;
        }
        r.output
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(str::to_string)
    }

    /// Sends the ready handshake until the shell answers.
    fn handshake(&mut self, limit: Duration, stage: &'static str) -> Result<(), BootError> {
        let token = protocol::ready_token(&self.nonce);
        let line = protocol::ready_line(&self.nonce);
        let start = Instant::now();
        loop {
            self.console
                .send_line(&line)
                .map_err(|e| self.fail(stage, e.to_string()))?;
            let left = limit.saturating_sub(start.elapsed());
            let wait = left.min(Duration::from_secs(2));
            match self.console.wait_for(&[&token, "Login incorrect", PANIC], wait, |_| {}) {
                Ok(0) => return Ok(()),
                Ok(1) => return Err(self.fail(stage, "login was refused (Login incorrect)")),
                Ok(_) => return Err(self.panic_error(stage, "kernel panic")),
                Err(WaitError::Closed(why)) => return Err(self.fail(stage, format!("console closed: {why}"))),
                Err(WaitError::Timeout { .. }) if start.elapsed() >= limit => {
                    return Err(self.fail(
                        stage,
                        format!(
                            "the shell did not answer `{line}` within {:.0} s (no shell on the console?)",
                            limit.as_secs_f64()
                        ),
                    ))
                }
                Err(WaitError::Timeout { .. }) => {}
            }
        }
    }

    /// Runs `cmd` and waits for its end marker at most `timeout`.
    pub fn run(&mut self, cmd: &str, timeout: Duration) -> CmdResult {
        self.run_streaming(cmd, timeout, &mut |_| {})
    }

    /// [`Session::run`], handing each line of the command's output (and each kernel line) to
    /// `on_line` as soon as it has arrived completely. When the command ends, the lines given
    /// are exactly those of [`CmdResult::output`] and [`CmdResult::kernel_lines`]; when it
    /// hangs, they are the complete lines received until then.
    pub fn run_streaming(
        &mut self,
        cmd: &str,
        timeout: Duration,
        on_line: &mut dyn FnMut(&ConsoleLine),
    ) -> CmdResult {
        self.next += 1;
        let n = self.next;
        let start = Instant::now();
        let mut result = CmdResult {
            command: cmd.to_string(),
            ..CmdResult::default()
        };
        if cmd.contains('\n') || cmd.contains('\r') {
            result.error = Some("a command must be one line".into());
            return result;
        }
        let from = self.console.cursor;
        if let Err(e) = self
            .console
            .send_line(&protocol::frame(cmd, &self.nonce, n))
        {
            result.error = Some(e.to_string());
            return result;
        }
        let limit = self.limit(timeout);
        let mut stream = FrameStream::new(&self.nonce, n, from);
        loop {
            for line in stream.poll(&self.console.buf) {
                on_line(&line);
            }
            if let Some(f) = parse_framed(&self.console.buf, &self.nonce, n, from) {
                for line in stream.finish(&self.console.buf, &f) {
                    on_line(&line);
                }
                let (clean, kernel) = split_kernel_lines(&f.raw);
                result.status = Some(f.status);
                result.output = clean;
                result.kernel_lines = kernel;
                self.console.cursor = f.end;
                break;
            }
            if protocol::find(&self.console.buf, PANIC.as_bytes(), from).is_some() {
                self.console
                    .settle(Duration::from_millis(500), Duration::from_secs(3));
                let line = protocol::line_at(&self.console.buf, PANIC, from).unwrap_or_default();
                result.error = Some(format!("kernel panic while the command ran: {line}"));
                break;
            }
            if let LinkState::Closed(why) = self.console.state() {
                result.error = Some(format!("console closed: {why}"));
                break;
            }
            if start.elapsed() >= limit {
                result.error = Some(format!(
                    "no end marker within {:.0} s: the command hangs or the board stopped responding",
                    limit.as_secs_f64()
                ));
                break;
            }
            self.console.pump(Duration::from_millis(100));
        }
        if result.status.is_none() {
            // Whatever came back, without the echoed command line.
            let raw = &self.console.buf[from.min(self.console.buf.len())..];
            let (clean, kernel) = split_kernel_lines(raw);
            result.output = clean;
            result.kernel_lines = kernel;
            self.console.cursor = self.console.buf.len();
        }
        result.duration = start.elapsed();
        result
    }

    /// After a timed-out command: Ctrl-C, then handshake again.
    pub fn recover(&mut self, limit: Duration) -> Result<(), BootError> {
        let _ = self.console.send(b"\x03");
        std::thread::sleep(Duration::from_millis(200));
        let _ = self.console.send(b"\n");
        let limit = self.limit(limit);
        self.handshake(limit, "resync")
    }
}
