//! rpibsp-hil over TCP against a fake board on 127.0.0.1, the binary end to end, and the
//! QEMU target with a stand-in QEMU.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Board, TcpBoard};
use rpibsp_hil::{RunConfig, Target, Verdict};
use rpibsp_report::Outcome;

fn hil(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rpibsp-hil"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tcp_console_good_run_via_library() {
    let board = TcpBoard::start(vec![Board::default()]);
    let mut cfg = RunConfig::new(Target::Tcp {
        addr: board.addr.clone(),
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
        xml.contains("<testcase classname=\"command\" name=\"uname -a\""),
        "{xml}"
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
    ] {
        assert!(out.contains(needle), "--help lacks {needle}:\n{out}");
    }
}

#[test]
fn qemu_target_starts_qemu_and_attaches_to_its_socket() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = dir.path().join("Image");
    let dtb = dir.path().join("board.dtb");
    let sd = dir.path().join("sd.img");
    std::fs::write(&kernel, b"kernel").unwrap();
    std::fs::write(&dtb, b"dtb").unwrap();
    std::fs::write(&sd, vec![0u8; 5000]).unwrap();
    let argfile = dir.path().join("qemu-args.txt");
    let fake = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-qemu.py");
    let out = Command::new(env!("CARGO_BIN_EXE_rpibsp-hil"))
        .env("FAKE_QEMU_ARGS", &argfile)
        .args([
            "--qemu",
            "raspi3b",
            "--qemu-bin",
            fake,
            "--boot-timeout",
            "10",
            "--no-verify",
            "--cmd",
            "true",
        ])
        .arg("--kernel")
        .arg(&kernel)
        .arg("--dtb")
        .arg(&dtb)
        .arg("--sd")
        .arg(&sd)
        .arg("--workdir")
        .arg(dir.path().join("work"))
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
