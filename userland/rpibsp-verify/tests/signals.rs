//! SIGTERM / SIGINT during a loopback run: the driven lines are released and the exit status
//! is 143 / 130.
//!
//! Each test runs itself again as a child process (this test binary, filtered to the one
//! test, with RPIBSP_VERIFY_SIGNAL_CHILD set): the child installs the real signal handlers
//! (`Interrupt::install`, as the binary does) and runs the loopback checks on the fake board,
//! whose first press hangs with the spare GPIO driven low, i.e. the button held down. The
//! parent sends the signal from outside at that moment and looks at what the child did.
//!
//! What the fake board cannot show: that rppal's `OutputPin` really returns the pin to input
//! when dropped (the real platform's `release_outputs` and forced-exit cleanup both drop the
//! pins; rppal documents reset-on-drop). Everything above that, from the signal to the
//! release call and the exit status, is the code the binary runs.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Bugs, FakeBoard, FakeTree, Layout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rpibsp_verify::interrupt::Interrupt;
use rpibsp_verify::output::{Format, ReportWriter};
use rpibsp_verify::Mode;

const CHILD: &str = "RPIBSP_VERIFY_SIGNAL_CHILD";

/// The child's side: a loopback run that hangs on its first press. `stuck`: the hang ignores
/// the signal too (a call that never returns), so only the watchdog can end the process.
fn child(dir: &Path, stuck: bool) -> ! {
    let layout = Layout {
        emulated: false,
        ..Layout::default()
    };
    let tree = FakeTree::new(&layout);
    let board = FakeBoard::new(&tree, &layout, Bugs::default());
    let grace = Duration::from_millis(if stuck { 500 } else { 20_000 });
    let interrupt = Interrupt::install(grace).expect("install the signal handlers");
    // The real platform registers "drop every OutputPin" here; the fake notes that it ran.
    let marker = dir.join("forced-release");
    interrupt.on_forced_exit(move || {
        let _ = std::fs::write(&marker, "cleanup ran\n");
    });
    {
        let mut s = board.0.borrow_mut();
        s.interrupt = interrupt;
        s.hang_on_press = Some(dir.join("pressing"));
        s.hang_forever = stuck;
    }
    let mut opts = tree.options();
    opts.mode = Mode::Loopback;
    let mut platform = board.clone();
    let mut writer = ReportWriter::new(Vec::new(), Format::Tap);
    let report = rpibsp_verify::run_observed(&opts, &mut platform, &mut |e| writer.event(e));
    let tap = writer.finish(&report, false).expect("render");
    let s = board.0.borrow();
    let presses_after_signal = s
        .drive_log
        .iter()
        .filter(|(_, high, interrupted)| *interrupted && !high)
        .count();
    let result = format!(
        "driven after the run: {:?}\npresses after the signal: {presses_after_signal}\n{}",
        s.driven,
        String::from_utf8_lossy(&tap)
    );
    std::fs::write(dir.join("result"), result).expect("write the result");
    std::process::exit(report.exit_code(false));
}

struct Outcome {
    code: Option<i32>,
    result: Option<String>,
    forced_release: bool,
    waited: Duration,
}

fn wait_for(child: &mut Child, what: impl Fn() -> bool, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if what() {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the child ended early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Runs test `name` as a child, sends `signal` once it presses, and collects what happened.
fn signal_child(name: &str, signal: Signal) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the child test process");
    let pressing: PathBuf = dir.path().join("pressing");
    let pressed = wait_for(&mut child, || pressing.exists(), Duration::from_secs(60));
    if !pressed {
        let _ = child.kill();
        panic!("the child never pressed a button");
    }
    let sent = Instant::now();
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the child did not end within 30 s of {signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Outcome {
        code: status.code(),
        result: std::fs::read_to_string(dir.path().join("result")).ok(),
        forced_release: dir.path().join("forced-release").exists(),
        waited: sent.elapsed(),
    }
}

fn check_graceful(o: &Outcome, code: i32, name: &str) {
    assert_eq!(o.code, Some(code), "exit status after {name}");
    let result = o
        .result
        .as_deref()
        .expect("the run ended and wrote its result");
    assert!(
        result.starts_with("driven after the run: {}\n"),
        "a line is still driven:\n{result}"
    );
    assert!(result.contains("presses after the signal: 0\n"), "{result}");
    // The results before the signal are kept, the last case names the signal.
    let doc = rpibsp_report::tap::parse(result);
    assert!(doc.tests.len() > 10, "{result}");
    assert!(doc.tests[0].name.starts_with("overlay: "), "{result}");
    let last = doc.tests.last().unwrap();
    assert_eq!(last.name, "run: all selected checks ran");
    let why = last.outcome.reason().unwrap_or_default();
    assert!(
        why.contains(&format!("interrupted by {name} during the buttons checks")),
        "{why}"
    );
    assert_eq!(doc.plan, Some(doc.tests.len()), "{result}");
    assert!(
        !o.forced_release,
        "the watchdog should not have been needed"
    );
    assert!(o.waited < Duration::from_secs(10), "took {:?}", o.waited);
}

#[test]
fn sigterm_during_a_loopback_press_releases_the_lines_and_exits_143() {
    if let Some(dir) = std::env::var_os(CHILD) {
        child(Path::new(&dir), false);
    }
    let o = signal_child(
        "sigterm_during_a_loopback_press_releases_the_lines_and_exits_143",
        Signal::SIGTERM,
    );
    check_graceful(&o, 143, "SIGTERM");
}

#[test]
fn sigint_during_a_loopback_press_releases_the_lines_and_exits_130() {
    if let Some(dir) = std::env::var_os(CHILD) {
        child(Path::new(&dir), false);
    }
    let o = signal_child(
        "sigint_during_a_loopback_press_releases_the_lines_and_exits_130",
        Signal::SIGINT,
    );
    check_graceful(&o, 130, "SIGINT");
}

#[test]
fn a_stuck_run_is_ended_by_the_watchdog_after_releasing_the_lines() {
    if let Some(dir) = std::env::var_os(CHILD) {
        child(Path::new(&dir), true);
    }
    let o = signal_child(
        "a_stuck_run_is_ended_by_the_watchdog_after_releasing_the_lines",
        Signal::SIGTERM,
    );
    assert_eq!(o.code, Some(143));
    assert!(o.forced_release, "the forced exit did not run the cleanups");
    assert!(o.result.is_none(), "the stuck run cannot have finished");
    assert!(
        o.waited >= Duration::from_millis(450) && o.waited < Duration::from_secs(10),
        "the watchdog's grace is 0.5 s, took {:?}",
        o.waited
    );
}
