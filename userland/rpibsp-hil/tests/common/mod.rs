//! A simulated board at the other end of a console: prints a boot log, runs a busybox-like
//! getty and a tiny shell that understands what rpibsp-hil sends (echo, eval, quoting, `;`,
//! `$?`), and can misbehave: garbage, kernel messages in the middle of output, a panic, no
//! login prompt, a command that hangs until Ctrl-C.
//!
//! And [`ShellBoard`]: a real shell on a pseudo-terminal behind a TCP console, for what the
//! simulation cannot show (file transfers with real `base64`, `gunzip`, `sha256sum`).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the board behaves.
#[derive(Clone, Debug)]
pub struct Board {
    /// Wait before the first output.
    pub boot_delay: Duration,
    /// Print nothing until a newline arrives (an already booted board).
    pub silent_until_poke: bool,
    /// With `silent_until_poke`: an earlier session's shell is still logged in on the
    /// console (the poke shows its prompt; `exit` brings getty back).
    pub logged_in: bool,
    /// Put garbage bytes on the line during boot.
    pub garbage: bool,
    /// Print the boot log but never a login prompt.
    pub no_prompt: bool,
    /// Panic instead of reaching the prompt.
    pub panic: bool,
    /// Run getty (`login:`); otherwise a shell prompt right away.
    pub getty: bool,
    /// Password getty asks for, if any.
    pub password: Option<String>,
    /// Insert kernel log lines into command output (also in mid-line).
    pub kernel_noise: bool,
    /// TAP printed by `rpibsp-verify --format tap`, and its exit status.
    pub verify_output: String,
    pub verify_status: i32,
    /// rpibsp-verify prints this many lines of its output, then hangs until Ctrl-C.
    pub verify_hang_after: Option<usize>,
    /// Pause between the lines of rpibsp-verify's output (a slow board).
    pub verify_line_delay: Duration,
    /// What `id -un` prints in a shell that was not started by a login here (the one left
    /// logged in, the one without getty); `None`: the board has no `id`. After a login it
    /// prints the user logged in.
    pub shell_user: Option<String>,
}

pub const GOOD_TAP: &str = "# rpibsp-verify 0.1.0: mode emulated\n1..3\nok 1 - overlay: live device tree readable\nok 2 - led: brightness 1 -> LED on\nok 3 - devicemodel: IOC_GET_STATUS fields\n# 3 passed, 0 failed, 0 skipped\n";

impl Default for Board {
    fn default() -> Self {
        Board {
            boot_delay: Duration::from_millis(200),
            silent_until_poke: false,
            logged_in: false,
            garbage: false,
            no_prompt: false,
            panic: false,
            getty: true,
            password: None,
            kernel_noise: false,
            verify_output: GOOD_TAP.to_string(),
            verify_status: 0,
            verify_hang_after: None,
            verify_line_delay: Duration::ZERO,
            shell_user: None,
        }
    }
}

/// What the board saw, for assertions.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub lines: Vec<String>,
    pub ctrl_c: usize,
    pub logins: Vec<String>,
    pub exits: usize,
}

enum State {
    Boot,
    Login,
    Password(String),
    Shell,
}

struct Sim<W: Write> {
    out: W,
    b: Board,
    state: State,
    last_rc: i32,
    hung: bool,
    exited: bool,
    seen: Arc<Mutex<Seen>>,
    noise_counter: u32,
    /// Who the shell runs as (`id -un`).
    user: Option<String>,
}

const PROMPT: &str = "~ # ";

fn noise(n: u32) -> String {
    format!(
        "[ {:>4}.{:06}] rpibsp-button rpibsp-button-on: noise {n}\r\n",
        40 + n,
        123456 + n
    )
}

/// Splits on unquoted `;`.
fn split_commands(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut sq, mut dq, mut esc) = (false, false, false);
    for c in line.chars() {
        if esc {
            cur.push(c);
            esc = false;
            continue;
        }
        match c {
            '\\' if !sq => {
                esc = true;
                cur.push(c);
            }
            '\'' if !dq => {
                sq = !sq;
                cur.push(c);
            }
            '"' if !sq => {
                dq = !dq;
                cur.push(c);
            }
            ';' if !sq && !dq => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// POSIX-ish word splitting with quotes, backslashes and `$?`.
fn words(s: &str, rc: i32) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut chars = s.chars().peekable();
    let (mut sq, mut dq) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\'' if !dq => {
                sq = !sq;
                have = true;
            }
            '"' if !sq => {
                dq = !dq;
                have = true;
            }
            '\\' if !sq => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    have = true;
                }
            }
            '$' if !sq && chars.peek() == Some(&'?') => {
                chars.next();
                cur.push_str(&rc.to_string());
                have = true;
            }
            c if c.is_whitespace() && !sq && !dq => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                cur.push(c);
                have = true;
            }
        }
    }
    if have {
        out.push(cur);
    }
    out
}

impl<W: Write> Sim<W> {
    fn put(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.flush();
    }

    fn put_bytes(&mut self, b: &[u8]) {
        let _ = self.out.write_all(b);
        let _ = self.out.flush();
    }

    fn boot(&mut self) {
        std::thread::sleep(self.b.boot_delay);
        self.put("[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd034]\r\n");
        self.put("[    0.000000] Linux version 7.3.4-rpibsp (fake board)\r\n");
        if self.b.garbage {
            self.put_bytes(b"\xff\xfe\x00\x1b[2J\x1b[0;31m\xc3\x28garbage\x07\x08\r\n\xf0\x90\x80");
            self.put("[    1.234567] random: crng init done\r\n");
            self.put_bytes(b"\x00\x00\xffmore \x80 noise");
        }
        if self.b.panic {
            self.put("[    2.000000] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r\n");
            // The stack trace and the end line follow a little later (a slow UART).
            std::thread::sleep(Duration::from_millis(300));
            self.put(
                "[    2.000100] CPU: 0 UID: 0 PID: 1 Comm: swapper/0 Not tainted 7.3.4-rpibsp\r\n",
            );
            self.put("[    2.000200] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---\r\n");
            return;
        }
        self.put("[    2.500000] Run /init as init process\r\n");
        if self.b.no_prompt {
            return;
        }
        self.prompt();
    }

    fn prompt(&mut self) {
        if self.b.getty {
            self.state = State::Login;
            self.user = None;
            self.put("\r\nrpibsp login: ");
        } else {
            // init's next shell on the console.
            self.state = State::Shell;
            self.user = self.b.shell_user.clone();
            self.put(PROMPT);
        }
    }

    fn handle_line(&mut self, line: &str) {
        self.seen.lock().unwrap().lines.push(line.to_string());
        match std::mem::replace(&mut self.state, State::Shell) {
            State::Boot => {
                self.state = State::Boot;
            }
            State::Login => {
                self.put(&format!("{line}\r\n"));
                if line.trim().is_empty() {
                    self.prompt();
                    return;
                }
                self.seen.lock().unwrap().logins.push(line.to_string());
                self.user = Some(line.to_string());
                if self.b.password.is_some() {
                    self.put("Password: ");
                    self.state = State::Password(line.to_string());
                } else {
                    self.put(PROMPT);
                }
            }
            State::Password(_user) => {
                self.put("\r\n");
                if Some(line) == self.b.password.as_deref() {
                    self.put(PROMPT);
                } else {
                    self.put("Login incorrect\r\n");
                    self.prompt();
                }
            }
            State::Shell => {
                self.put(&format!("{line}\r\n")); // tty echo
                self.run_line(line);
                if self.exited {
                    self.exited = false;
                    self.prompt(); // getty again (or, without getty, init's next shell)
                } else if !self.hung {
                    self.put(PROMPT);
                }
            }
        }
    }

    fn run_line(&mut self, line: &str) {
        for cmd in split_commands(line) {
            if self.hung || self.exited {
                return;
            }
            self.run_simple(&cmd);
        }
    }

    fn run_simple(&mut self, cmd: &str) {
        let w: Vec<String> = words(cmd, self.last_rc)
            .into_iter()
            .filter(|w| !w.starts_with('<'))
            .collect();
        let Some(first) = w.first() else { return };
        match first.as_str() {
            "echo" => {
                let text = w[1..].join(" ");
                self.put(&format!("{text}\r\n"));
                self.last_rc = 0;
            }
            "eval" => {
                let inner = w[1..].join(" ");
                self.run_line(&inner);
            }
            "true" => self.last_rc = 0,
            "exit" => {
                self.seen.lock().unwrap().exits += 1;
                self.exited = true;
                self.last_rc = 0;
            }
            "false" => self.last_rc = 1,
            "id" if w.get(1).map(String::as_str) == Some("-un") && self.user.is_some() => {
                let user = self.user.clone().unwrap_or_default();
                self.put(&format!("{user}\r\n"));
                self.last_rc = 0;
            }
            "dmesg" => self.last_rc = 0,
            "uname" => {
                self.put("Linux rpibsp 7.3.4-rpibsp #1 SMP PREEMPT aarch64 GNU/Linux\r\n");
                self.last_rc = 0;
            }
            "exit_with" => self.last_rc = w.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
            "sleep" => {
                self.hung = true;
            }
            "rpibsp-verify" => {
                let out = self.b.verify_output.clone();
                for (i, l) in out.lines().enumerate() {
                    if self.b.verify_hang_after == Some(i) {
                        self.hung = true;
                        return;
                    }
                    std::thread::sleep(self.b.verify_line_delay);
                    if self.b.kernel_noise && i % 2 == 1 {
                        self.noise_counter += 1;
                        let n = noise(self.noise_counter);
                        if l.len() > 6 {
                            // In the middle of an output line.
                            let (a, b) = l.split_at(4);
                            self.put(a);
                            self.put(&n);
                            self.put(&format!("{b}\r\n"));
                            continue;
                        }
                        self.put(&n);
                    }
                    self.put(&format!("{l}\r\n"));
                }
                self.last_rc = self.b.verify_status;
            }
            other => {
                self.put(&format!("sh: {other}: not found\r\n"));
                self.last_rc = 127;
            }
        }
        if self.b.kernel_noise && first == "echo" && w.get(1).is_some_and(|a| a.contains("BEGIN")) {
            self.noise_counter += 1;
            let n = noise(self.noise_counter);
            self.put(&n);
        }
    }
}

/// Runs the board on a byte stream until it closes.
pub fn serve(mut input: impl Read, output: impl Write, board: Board, seen: Arc<Mutex<Seen>>) {
    let mut sim = Sim {
        out: output,
        b: board,
        state: State::Boot,
        last_rc: 0,
        hung: false,
        exited: false,
        seen,
        noise_counter: 0,
        user: None,
    };
    sim.user = sim.b.shell_user.clone();
    if !sim.b.silent_until_poke {
        sim.boot();
    }
    let mut line = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        for &byte in &buf[..n] {
            match byte {
                0x03 => {
                    sim.seen.lock().unwrap().ctrl_c += 1;
                    if sim.hung {
                        sim.hung = false;
                        sim.last_rc = 130;
                        sim.put("^C\r\n");
                        sim.put(PROMPT);
                    }
                    line.clear();
                }
                b'\n' | b'\r' => {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    line.clear();
                    if sim.b.silent_until_poke && matches!(sim.state, State::Boot) {
                        sim.b.silent_until_poke = false;
                        if sim.b.logged_in {
                            sim.state = State::Shell;
                            sim.put(PROMPT);
                        } else {
                            sim.b.boot_delay = Duration::ZERO;
                            sim.boot();
                        }
                        continue;
                    }
                    if sim.hung {
                        continue; // typed ahead into a hung command: swallowed
                    }
                    sim.handle_line(&text);
                }
                b => line.push(b),
            }
        }
    }
}

/// A pseudo-terminal whose master side is the board; hil opens `path` as a serial port.
pub struct PtyBoard {
    pub path: PathBuf,
    pub seen: Arc<Mutex<Seen>>,
    _slave: OwnedFd,
    _thread: JoinHandle<()>,
}

impl PtyBoard {
    pub fn start(board: Board) -> PtyBoard {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let pty = nix::pty::openpty(None, None).expect("openpty");
        // Raw line discipline, like a real UART: no echo, no CR/LF mangling.
        let mut t = tcgetattr(pty.slave.as_fd()).unwrap();
        cfmakeraw(&mut t);
        tcsetattr(pty.slave.as_fd(), SetArg::TCSANOW, &t).unwrap();
        let path = nix::unistd::ttyname(pty.slave.as_fd()).expect("ttyname");
        let master = std::fs::File::from(pty.master);
        let reader = master.try_clone().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s2 = seen.clone();
        let thread = std::thread::spawn(move || serve(reader, master, board, s2));
        PtyBoard {
            path,
            seen,
            _slave: pty.slave,
            _thread: thread,
        }
    }
}

/// A board behind a TCP console on 127.0.0.1; each accepted connection gets the next board
/// behaviour (the last one repeats).
pub struct TcpBoard {
    pub addr: String,
    pub seen: Arc<Mutex<Seen>>,
    pub connections: Arc<Mutex<usize>>,
}

impl TcpBoard {
    pub fn start(boards: Vec<Board>) -> TcpBoard {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let connections = Arc::new(Mutex::new(0));
        let (s2, c2) = (seen.clone(), connections.clone());
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                *c2.lock().unwrap() += 1;
                let board = boards.get(i).or(boards.last()).cloned().unwrap();
                let reader = stream.try_clone().unwrap();
                let s3 = s2.clone();
                std::thread::spawn(move || serve(reader, stream, board, s3));
            }
        });
        TcpBoard {
            addr,
            seen,
            connections,
        }
    }
}

/// The shell a [`ShellBoard`] runs: `RPIBSP_TEST_BOARD_SHELL` (words) if set, else busybox's
/// ash when busybox is installed (the board's own shell: its line editor drops what goes
/// beyond 1022 characters of a line), else /bin/sh.
pub fn board_shell() -> Vec<String> {
    if let Ok(words) = std::env::var("RPIBSP_TEST_BOARD_SHELL") {
        let words: Vec<String> = words.split_whitespace().map(str::to_string).collect();
        if !words.is_empty() {
            return words;
        }
    }
    for bb in ["/usr/bin/busybox", "/bin/busybox"] {
        if std::path::Path::new(bb).is_file() {
            return vec![bb.into(), "sh".into(), "-i".into()];
        }
    }
    vec!["/bin/sh".into(), "-i".into()]
}

/// The user this test runs as (the user of a [`ShellBoard`]'s shell).
pub fn current_user() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A real shell ([`board_shell`]) on a pseudo-terminal — canonical mode and echo, the line
/// discipline of a serial console — served over TCP on 127.0.0.1, one fresh shell per
/// connection, killed when the connection closes. It starts at a prompt (`~ # `), in
/// `dir`, with `dir/bin` first on PATH (stand-ins for board tools go there).
pub struct ShellBoard {
    pub addr: String,
    pub dir: tempfile::TempDir,
    pub connections: Arc<Mutex<usize>>,
}

impl ShellBoard {
    pub fn start() -> ShellBoard {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let connections = Arc::new(Mutex::new(0));
        let (root, c2) = (dir.path().to_owned(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                *c2.lock().unwrap() += 1;
                serve_shell(stream, &root);
            }
        });
        let board = ShellBoard {
            addr,
            dir,
            connections,
        };
        // `dmesg -n 1` would set this machine's console log level: a stand-in that does not.
        board.script("dmesg", "exit 0\n");
        board
    }

    /// The board's PATH directory for stand-ins.
    pub fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// Puts an executable script `name` with `body` (a `#!/bin/sh` script) on the PATH.
    pub fn script(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.bin().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn serve_shell(stream: std::net::TcpStream, root: &std::path::Path) {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    // Without this, Nagle's algorithm holds back the shell's small writes (echo, markers)
    // for the client's delayed ACK: tens of milliseconds per command.
    let _ = stream.set_nodelay(true);
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let shell = board_shell();
    let path = format!(
        "{}:{}",
        root.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(&shell[0]);
    cmd.args(&shell[1..])
        .current_dir(root)
        .env("PS1", "~ # ")
        .env("PATH", path)
        .env("HOME", root)
        .env("TERM", "vt100")
        .env_remove("ENV")
        .stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
    // SAFETY: only async-signal-safe calls between fork and exec: a new session whose
    // controlling terminal is the pty (stdin), so Ctrl-C reaches the foreground job.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("start the board's shell");
    drop(pty.slave);
    let master = std::fs::File::from(pty.master);
    let mut to_shell = master.try_clone().unwrap();
    let mut from_shell = master;
    let mut sock_in = stream.try_clone().unwrap();
    let mut sock_out = stream;
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from_shell.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sock_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sock_out.shutdown(std::net::Shutdown::Both);
    });
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match sock_in.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to_shell.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        // rpibsp-hil hung up: end this board's shell (our own child) and reap it.
        let _ = child.kill();
        let _ = child.wait();
    });
}

/// Runs the rpibsp-hil binary with `args`: (exit code, stdout, stderr).
pub fn hil(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rpibsp-hil"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
