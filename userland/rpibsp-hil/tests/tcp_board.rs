//! rpibsp-hil over TCP against a fake board on 127.0.0.1, the binary end to end, and the
//! QEMU target with a stand-in QEMU.

mod common;

use std::process::Command;
use std::time::Duration;

use common::hil;
use common::{Board, TcpBoard};
use rpibsp_hil::{RunConfig, Target, TcpMode, Verdict};
use rpibsp_report::Outcome;

#[test]
fn tcp_console_good_run_via_library() {
    let board = TcpBoard::start(vec![Board::default()]);
    let mut cfg = RunConfig::new(Target::Tcp {
        addr: board.addr.clone(),
        mode: TcpMode::Raw,
    });
    cfg.timeouts.boot = Duration::from_secs(5);
    cfg.commands = vec!["uname -a".into()];
    let r = rpibsp_hil::run(&cfg, &mut |_| {});
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
    assert_eq!(r.counts().passed, 7, "{}", r.summary());
}

#[test]
fn boot_is_retried_on_a_fresh_connection() {
    let board = TcpBoard::start(vec![
        Board {
            no_prompt: true,
            ..Board::default()
        },
        Board::default(),
    ]);
    let mut cfg = RunConfig::new(Target::Tcp {
        addr: board.addr.clone(),
        mode: TcpMode::Raw,
    });
    cfg.timeouts.boot = Duration::from_secs(2);
    cfg.timeouts.poke_after = None;
    cfg.boot_retries = 2;
    let r = rpibsp_hil::run(&cfg, &mut |_| {});
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
    assert_eq!(r.attempts.len(), 2);
    assert!(
        r.attempts[0].outcome.contains("no login prompt"),
        "{:?}",
        r.attempts
    );
    assert_eq!(*board.connections.lock().unwrap(), 2);
    // Only the boot is retried: no case records the failed attempt as a failure.
    assert!(r.cases.iter().all(|c| c.outcome == Outcome::Pass));
}

#[test]
fn binary_end_to_end_with_junit_logs_and_script() {
    let board = TcpBoard::start(vec![Board::default()]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("report")).unwrap();
    let junit = dir.path().join("report/hil.xml");
    let logs = dir.path().join("logs");
    let script = dir.path().join("cmds.txt");
    std::fs::write(&script, "# comment\n\ntrue\nuname -a\n").unwrap();
    let (code, out, err) = hil(&[
        "--tcp",
        &board.addr,
        "--boot-timeout",
        "5",
        "--script",
        script.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("PASSED: 8 passed, 0 failed, 0 skipped"),
        "{out}"
    );
    assert!(out.contains("on-board checks: 3 of 3 passed"), "{out}");
    assert!(err.contains("running: uname -a"), "{err}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testcase name=\"uname -a\" classname=\"command\""),
        "{xml}"
    );
    assert!(
        !xml.contains("run completed"),
        "the final file has no snapshot case"
    );
    let logs: Vec<_> = std::fs::read_dir(&logs).unwrap().collect();
    assert_eq!(logs.len(), 1);
}

#[test]
fn binary_exit_codes() {
    let board = TcpBoard::start(vec![Board::default()]);
    let (code, out, _) = hil(&[
        "--tcp",
        &board.addr,
        "--boot-timeout",
        "5",
        "--no-verify",
        "--cmd",
        "false",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  command              false"), "{out}");
    assert!(out.contains("exit status 1"), "{out}");

    let (code, _, err) = hil(&["--cmd", "true"]);
    assert_eq!(code, 2, "no target is a usage error");
    assert!(err.contains("--serial") && err.contains("--qemu"), "{err}");

    let (code, out, _) = hil(&["--tcp", "127.0.0.1:1", "--boot-timeout", "1"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("SETUP FAILED"), "{out}");

    let (code, out, _) = hil(&["--help"]);
    assert_eq!(code, 0);
    for needle in [
        "--qemu",
        "--sd",
        "power-of-two",
        "--no-login",
        "--boot-retries",
        "--junit",
        "EXIT STATUS",
        "5 an output cannot be written",
        "RPIBSP_HIL_PASSWORD",
        "--push <LOCAL:REMOTE>",
        "PUSH (deploy without reflashing)",
        "--live",
        "LIVE OUTPUT",
        "board| ",
    ] {
        assert!(out.contains(needle), "--help lacks {needle}:\n{out}");
    }
}

/// rpibsp-hil --qemu raspi3b with the stand-in QEMU (its arguments recorded in
/// `dir/qemu-args.txt`), dummy kernel and DTB, and its work directory in `dir/work`.
fn hil_with_fake_qemu(dir: &std::path::Path) -> Command {
    let (kernel, dtb) = (dir.join("Image"), dir.join("board.dtb"));
    std::fs::write(&kernel, b"kernel").unwrap();
    std::fs::write(&dtb, b"dtb").unwrap();
    let fake = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-qemu.py");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rpibsp-hil"));
    cmd.env("FAKE_QEMU_ARGS", dir.join("qemu-args.txt"))
        .args(["--qemu", "raspi3b", "--qemu-bin", fake])
        .arg("--kernel")
        .arg(&kernel)
        .arg("--dtb")
        .arg(&dtb)
        .arg("--workdir")
        .arg(dir.join("work"));
    cmd
}

#[test]
fn qemu_target_starts_qemu_and_attaches_to_its_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("sd.img");
    std::fs::write(&sd, vec![0u8; 5000]).unwrap();
    let argfile = dir.path().join("qemu-args.txt");
    let out = hil_with_fake_qemu(dir.path())
        .args(["--boot-timeout", "10", "--no-verify", "--cmd", "true"])
        .arg("--sd")
        .arg(&sd)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("not a power of two"),
        "the user is told about the resized copy:\n{stdout}"
    );
    let args = std::fs::read_to_string(&argfile).unwrap();
    assert!(
        args.contains("raspi3b") && args.contains("root=/dev/mmcblk0p2"),
        "{args}"
    );
    assert!(
        args.contains("sd-resized.img,if=sd,format=raw,snapshot=on"),
        "{args}"
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("work/sd-resized.img"))
            .unwrap()
            .len(),
        8192
    );
    assert_eq!(std::fs::metadata(&sd).unwrap().len(), 5000);
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet: it no longer runs).
fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[test]
fn qemu_dies_with_a_killed_rpibsp_hil() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("qemu.pid");
    // A ready marker that never comes keeps rpibsp-hil waiting.
    let mut hil = hil_with_fake_qemu(dir.path())
        .env("FAKE_QEMU_PID", &pidfile)
        .args(["--boot-timeout", "60", "--poke-after", "0"])
        .args(["--no-login", "--ready-marker", "never"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let pid: i32 = loop {
        if let Some(p) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "fake QEMU did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !process_gone(pid),
        "fake QEMU should run while rpibsp-hil waits"
    );
    // SIGTERM to rpibsp-hil alone, as a CI timeout would send it: no Drop runs.
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(hil.id() as i32, libc::SIGTERM) }, 0);
    hil.wait().unwrap();
    let killed = std::time::Instant::now();
    while !process_gone(pid) && killed.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let gone = process_gone(pid);
    if !gone {
        // SAFETY: kill(2) on the leftover stand-in so the test leaves nothing behind.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(gone, "QEMU (pid {pid}) outlived the killed rpibsp-hil");
}

#[test]
fn unwritable_outputs_are_exit_5_before_the_board_is_touched() {
    let board = TcpBoard::start(vec![Board::default()]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let missing = dir.path().join("no/such/dir/hil.xml");
    let under_file = file.join("hil.xml");
    let cases: [(&[&str], &str); 4] = [
        (&["--junit", missing.to_str().unwrap()], "does not exist"),
        (&["--junit", dir.path().to_str().unwrap()], "is a directory"),
        (
            &["--junit", under_file.to_str().unwrap()],
            "is not a directory",
        ),
        (&["--log-dir", under_file.to_str().unwrap()], "--log-dir"),
    ];
    for (args, why) in cases {
        let mut all = vec!["--tcp", &board.addr, "--boot-timeout", "5"];
        all.extend_from_slice(args);
        let (code, out, err) = hil(&all);
        assert_eq!(code, 5, "{args:?}: {out}{err}");
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: nothing may run: {out}");
    }
    assert_eq!(
        *board.connections.lock().unwrap(),
        0,
        "the board was contacted"
    );
}

#[test]
fn password_from_the_environment_and_never_shown() {
    let board = TcpBoard::start(vec![Board {
        password: Some("s3cret".into()),
        ..Board::default()
    }]);
    let out = Command::new(env!("CARGO_BIN_EXE_rpibsp-hil"))
        .env("RPIBSP_HIL_PASSWORD", "s3cret")
        .args(["--tcp", &board.addr, "--boot-timeout", "5", "--no-verify"])
        .args(["--cmd", "true"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let help = Command::new(env!("CARGO_BIN_EXE_rpibsp-hil"))
        .env("RPIBSP_HIL_PASSWORD", "s3cret")
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("RPIBSP_HIL_PASSWORD"), "{help}");
    assert!(
        !help.contains("s3cret"),
        "--help shows the password:\n{help}"
    );
}

#[test]
fn junit_file_holds_the_results_while_the_board_hangs_and_after_a_kill() {
    let tap = "# rpibsp-verify 0.1.0: mode emulated\nok 1 - overlay: first\nnot ok 2 - led: second\n# GPIO 4 stayed low\nok 3 - buttons: third\n1..3\n";
    let board = TcpBoard::start(vec![Board {
        verify_output: tap.into(),
        verify_hang_after: Some(4), // the buttons check hangs
        ..Board::default()
    }]);
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("hil.xml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpibsp-hil"))
        .args([
            "--tcp",
            &board.addr,
            "--boot-timeout",
            "5",
            "--verify-timeout",
            "120",
        ])
        .arg("--junit")
        .arg(&junit)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let xml = loop {
        let xml = std::fs::read_to_string(&junit).unwrap_or_default();
        if xml.contains("GPIO 4 stayed low") {
            break xml;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the results never reached {}: {xml}", junit.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // A CI timeout kills the harness while the board hangs: SIGKILL, nothing runs after it.
    child.kill().unwrap();
    child.wait().unwrap();
    let after = std::fs::read_to_string(&junit).unwrap();
    for x in [&xml, &after] {
        assert!(
            x.contains("name=\"first\" classname=\"verify.overlay\""),
            "{x}"
        );
        assert!(x.contains("<failure message=\"GPIO 4 stayed low\""), "{x}");
        assert!(!x.contains("third"), "{x}");
        // Never a success: the unfinished run is a failing case of its own.
        assert!(
            x.contains("name=\"run completed\" classname=\"hil\""),
            "{x}"
        );
        assert!(x.contains("rpibsp-hil has not finished"), "{x}");
        assert!(x.contains("running `rpibsp-verify --format tap`"), "{x}");
        assert_eq!(x.matches("failures=\"2\"").count(), 2, "{x}");
    }
}
