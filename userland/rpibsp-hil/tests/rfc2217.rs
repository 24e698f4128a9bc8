//! `--tcp` against a real RFC 2217 server: ser2net (`telnet(rfc2217)` accepter on 127.0.0.1)
//! in front of the simulated board on a pseudo-terminal; and the modes against the wrong kind
//! of server (raw against RFC 2217 sees the telnet bytes; RFC 2217 against raw fails clearly).
//!
//! The ser2net tests are reported as ignored when ser2net is not installed (build.rs looks for
//! it); `apt-get install ser2net` and they run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Board, PtyBoard, TcpBoard};
use rpibsp_hil::console::Console;
use rpibsp_hil::{RunConfig, RunReport, Target, TcpMode, Timeouts, Verdict};

const NO_SER2NET: &str = "ser2net is not installed (apt-get install ser2net): no RFC 2217 server";

fn ser2net_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join("ser2net"))
        .find(|f| f.is_file())
        .unwrap_or_else(|| panic!("{NO_SER2NET}"))
}

/// Whether something listens on 127.0.0.1:`port` (read from /proc: a probe connection would
/// make ser2net open the board's pty and swallow its boot log).
fn listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == want && f[3] == "0A"
        })
}

/// ser2net on 127.0.0.1, a free port, in front of `dev`; killed when dropped.
struct Ser2net {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Ser2net {
    fn start(dev: &Path) -> Ser2net {
        let bin = ser2net_binary();
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let conf = dir.path().join("ser2net.yaml");
            std::fs::write(
                &conf,
                format!(
                    "connection: &hil\n  accepter: telnet(rfc2217),tcp,127.0.0.1,{port}\n  \
                     connector: serialdev,{},115200n81,local\n  options:\n    kickolduser: true\n",
                    dev.display()
                ),
            )
            .unwrap();
            let mut child = Command::new(&bin)
                .arg("-n")
                .arg("-u")
                .arg("-c")
                .arg(&conf)
                .arg("-P")
                .arg(dir.path().join("ser2net.pid"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if listening(port) {
                    return Ser2net {
                        child,
                        addr: format!("127.0.0.1:{port}"),
                        _dir: dir,
                    };
                }
                if child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile, or a bad configuration
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            eprintln!(
                "ser2net did not listen on {port}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        panic!("ser2net could not be started on 127.0.0.1");
    }
}

impl Drop for Ser2net {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(addr: &str, mode: TcpMode) -> RunConfig {
    let mut cfg = RunConfig::new(Target::Tcp {
        addr: addr.to_string(),
        mode,
    });
    cfg.timeouts = Timeouts {
        boot: Duration::from_secs(8),
        login: Duration::from_secs(5),
        command: Duration::from_secs(5),
        resync: Duration::from_secs(3),
        poke_after: Some(Duration::from_secs(1)),
    };
    cfg.verify_timeout = Duration::from_secs(5);
    cfg.deadline = Duration::from_secs(40);
    cfg
}

fn run(cfg: &RunConfig) -> RunReport {
    rpibsp_hil::run(cfg, &mut |line| eprintln!("progress: {line}"))
}

#[test]
#[cfg_attr(
    rpibsp_hil_no_ser2net,
    ignore = "ser2net is not installed (apt-get install ser2net): no RFC 2217 server"
)]
fn login_and_verify_through_ser2net_rfc2217() {
    for mode in [TcpMode::Rfc2217, TcpMode::Auto] {
        let board = PtyBoard::start(Board::default());
        let server = Ser2net::start(&board.path);
        let mut cfg = config(&server.addr, mode);
        cfg.commands = vec!["uname -a".into()];
        let logs = tempfile::tempdir().unwrap();
        cfg.log_dir = Some(logs.path().to_owned());
        let r = run(&cfg);
        let summary = r.summary();
        assert_eq!(r.verdict, Verdict::Passed, "{mode:?}:\n{summary}");
        assert!(
            summary.contains("on-board checks: 3 of 3 passed"),
            "{summary}"
        );
        let log = std::fs::read(r.attempts[0].log.clone().unwrap()).unwrap();
        assert!(
            !log.contains(&0xff),
            "telnet bytes in the console log ({mode:?}): {:?}",
            String::from_utf8_lossy(&log)
        );
        assert!(
            !summary.contains("raw TCP") && !summary.contains("not confirm"),
            "{mode:?}: {summary}"
        );
        let seen = board.seen.lock().unwrap().clone();
        assert_eq!(seen.logins, vec!["root".to_string()], "{seen:?}");
        assert!(
            seen.lines.iter().any(|l| l.contains("rpibsp-verify")),
            "{seen:?}"
        );
    }
}

#[test]
#[cfg_attr(
    rpibsp_hil_no_ser2net,
    ignore = "ser2net is not installed (apt-get install ser2net): no RFC 2217 server"
)]
fn binary_default_mode_through_ser2net() {
    let board = PtyBoard::start(Board::default());
    let server = Ser2net::start(&board.path);
    let out = Command::new(env!("CARGO_BIN_EXE_rpibsp-hil"))
        .args([
            "--tcp",
            &server.addr,
            "--boot-timeout",
            "8",
            "--poke-after",
            "1",
        ])
        .args(["--cmd", "uname -a"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("PASSED"), "{text}");
}

#[test]
#[cfg_attr(
    rpibsp_hil_no_ser2net,
    ignore = "ser2net is not installed (apt-get install ser2net): no RFC 2217 server"
)]
fn raw_mode_against_rfc2217_sees_telnet_bytes() {
    let board = PtyBoard::start(Board::default());
    let server = Ser2net::start(&board.path);
    let mut c = Console::tcp(&server.addr, Duration::from_secs(5), TcpMode::Raw).unwrap();
    let start = Instant::now();
    while !c.buf.contains(&0xff) && start.elapsed() < Duration::from_secs(5) {
        c.pump(Duration::from_millis(100));
    }
    assert!(
        c.buf.starts_with(&[0xff]),
        "ser2net's telnet negotiation arrives as console text in raw mode: {:?}",
        c.buf
    );
}

#[test]
fn rfc2217_mode_against_a_raw_server_fails_clearly() {
    // A board that talks at once, and one that stays silent.
    for (board, why) in [
        (Board::default(), "console data"),
        (
            Board {
                silent_until_poke: true,
                ..Board::default()
            },
            "no telnet negotiation within 3 s",
        ),
    ] {
        let server = TcpBoard::start(vec![board]);
        let r = run(&config(&server.addr, TcpMode::Rfc2217));
        assert_eq!(r.verdict, Verdict::SetupFailed, "{}", r.summary());
        let summary = r.summary();
        assert!(
            summary.contains("does not speak RFC 2217") && summary.contains(why),
            "{summary}"
        );
        assert!(summary.contains("--tcp-mode raw"), "{summary}");
    }
    let server = TcpBoard::start(vec![Board::default()]);
    let out = Command::new(env!("CARGO_BIN_EXE_rpibsp-hil"))
        .args(["--tcp", &server.addr, "--tcp-mode", "rfc2217"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains("the server does not speak RFC 2217") && text.contains("--tcp-mode raw"),
        "{text}"
    );
}

#[test]
fn auto_mode_falls_back_to_raw_and_says_so() {
    // Data first: raw at once. A silent board: raw after the wait, nothing telnet sent to it.
    for (board, note) in [
        (
            Board::default(),
            "sent data, no telnet negotiation: raw TCP",
        ),
        (
            Board {
                silent_until_poke: true,
                ..Board::default()
            },
            "no telnet negotiation from the server within 2 s: raw TCP",
        ),
    ] {
        let server = TcpBoard::start(vec![board]);
        let mut cfg = config(&server.addr, TcpMode::Auto);
        cfg.commands = vec!["uname -a".into()];
        let r = run(&cfg);
        let summary = r.summary();
        assert_eq!(r.verdict, Verdict::Passed, "{summary}");
        assert!(summary.contains(note), "{summary}");
        let seen = server.seen.lock().unwrap().clone();
        assert!(
            seen.lines.iter().all(|l| !l.contains('\u{fffd}')),
            "telnet bytes reached a raw console: {:?}",
            seen.lines
        );
    }
}

#[test]
#[cfg_attr(
    rpibsp_hil_no_ser2net,
    ignore = "ser2net is not installed (apt-get install ser2net): no RFC 2217 server"
)]
fn ser2net_confirms_the_line_settings_and_data_passes_both_ways() {
    let board = PtyBoard::start(Board {
        silent_until_poke: true,
        ..Board::default()
    });
    let server = Ser2net::start(&board.path);
    for mode in [TcpMode::Rfc2217, TcpMode::Auto] {
        let mut c = Console::tcp(&server.addr, Duration::from_secs(5), mode).unwrap();
        assert_eq!(
            c.description,
            format!("tcp {} (RFC 2217, 115200 8N1)", server.addr),
            "{mode:?}: {:?}",
            c.notes
        );
        assert!(c.notes.is_empty(), "{:?}", c.notes);
        c.send_line("").unwrap();
        c.wait_for(&["login:"], Duration::from_secs(5), |_| {})
            .unwrap_or_else(|e| panic!("{mode:?}: {e}: {:?}", c.tail(5)));
        assert!(!c.buf.contains(&0xff), "{:?}", c.buf);
        drop(c);
    }
}

#[test]
#[cfg_attr(
    rpibsp_hil_no_ser2net,
    ignore = "ser2net is not installed (apt-get install ser2net): no RFC 2217 server"
)]
fn console_bytes_0xff_come_through_ser2net_unchanged() {
    // The board puts 0xFF (and NUL, ESC, invalid UTF-8) on the line: ser2net sends 0xFF as
    // IAC IAC, the log holds exactly the board's bytes.
    let board = PtyBoard::start(Board {
        garbage: true,
        ..Board::default()
    });
    let server = Ser2net::start(&board.path);
    let mut cfg = config(&server.addr, TcpMode::Rfc2217);
    let logs = tempfile::tempdir().unwrap();
    cfg.log_dir = Some(logs.path().to_owned());
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
    let log = std::fs::read(r.attempts[0].log.clone().unwrap()).unwrap();
    for want in [&b"\xff\xfe\x00\x1b[2J"[..], b"\x00\x00\xffmore \x80 noise"] {
        assert!(
            log.windows(want.len()).any(|w| w == want),
            "{want:?} not in {:?}",
            String::from_utf8_lossy(&log)
        );
    }
    assert_eq!(log.iter().filter(|&&b| b == 0xff).count(), 2, "{log:?}");
}
