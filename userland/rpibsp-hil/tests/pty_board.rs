//! rpibsp-hil against a simulated board on a pseudo-terminal (the serial-port code path).

mod common;

use std::time::{Duration, Instant};

use common::{Board, PtyBoard, GOOD_TAP};
use rpibsp_hil::{Login, RunConfig, RunReport, Target, Timeouts, Verdict};
use rpibsp_report::Outcome;

fn config(board: &PtyBoard) -> RunConfig {
    let mut cfg = RunConfig::new(Target::Serial {
        path: board.path.display().to_string(),
        baud: 115_200,
    });
    cfg.timeouts = Timeouts {
        boot: Duration::from_secs(5),
        login: Duration::from_secs(5),
        command: Duration::from_secs(3),
        resync: Duration::from_secs(3),
        poke_after: None,
    };
    cfg.verify_timeout = Duration::from_secs(5);
    cfg.deadline = Duration::from_secs(40);
    cfg
}

fn run(cfg: &RunConfig) -> RunReport {
    rpibsp_hil::run(cfg, &mut |line| eprintln!("progress: {line}"))
}

fn case<'a>(r: &'a RunReport, name: &str) -> &'a rpibsp_report::Case {
    r.cases
        .iter()
        .find(|c| c.name.contains(name))
        .unwrap_or_else(|| panic!("no case {name:?} in:\n{}", r.summary()))
}

#[test]
fn good_boot_login_verify_and_commands() {
    let board = PtyBoard::start(Board::default());
    let mut cfg = config(&board);
    let logs = tempfile::tempdir().unwrap();
    cfg.log_dir = Some(logs.path().to_owned());
    cfg.commands = vec![
        "uname -a".into(),
        "echo 'it'\\''s quoted; not split'".into(),
        "false".into(),
    ];
    let r = run(&cfg);
    let summary = r.summary();
    assert_eq!(r.verdict, Verdict::Failed, "{summary}");
    assert_eq!(case(&r, "boot to login prompt").outcome, Outcome::Pass);
    assert_eq!(case(&r, "login as root").outcome, Outcome::Pass);
    assert_eq!(
        case(&r, "live device tree readable").group,
        "verify.overlay"
    );
    assert_eq!(
        case(&r, "`rpibsp-verify --format tap` completes").outcome,
        Outcome::Pass,
        "{summary}"
    );
    assert_eq!(case(&r, "uname -a").outcome, Outcome::Pass);
    let quoted = case(&r, "quoted");
    assert_eq!(quoted.outcome, Outcome::Pass);
    assert!(
        quoted.details[0].contains("it's quoted; not split"),
        "{:?}",
        quoted.details
    );
    assert_eq!(
        case(&r, "false").outcome,
        Outcome::Fail("exit status 1".into())
    );
    assert_eq!(r.counts().failed, 1, "{summary}");
    // The session quieted the kernel first, and logged in as root.
    let seen = board.seen.lock().unwrap().clone();
    assert_eq!(seen.logins, vec!["root".to_string()]);
    assert!(
        seen.lines.iter().any(|l| l.contains("eval 'dmesg -n 1'")),
        "{:?}",
        seen.lines
    );
    // One raw log for the one attempt, holding the whole conversation.
    let log = r.attempts[0].log.clone().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("rpibsp login:") && text.contains("Linux rpibsp 7.3.4"),
        "{text}"
    );
    assert!(
        summary.contains("on-board checks: 3 of 3 passed"),
        "{summary}"
    );
    let xml = r.junit().unwrap();
    assert_eq!(xml.matches("tests=\"9\"").count(), 2, "{xml}");
    assert_eq!(xml.matches("failures=\"1\"").count(), 2, "{xml}");
}

#[test]
fn no_login_prompt_is_a_boot_failure_with_the_console_tail() {
    let board = PtyBoard::start(Board {
        no_prompt: true,
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.timeouts.boot = Duration::from_secs(2);
    cfg.boot_retries = 1;
    let started = Instant::now();
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::BootFailed);
    assert_eq!(r.verdict.exit_code(), 3);
    assert_eq!(r.attempts.len(), 2, "one retry");
    let why = case(&r, "boot and get a shell")
        .outcome
        .reason()
        .unwrap()
        .to_string();
    assert!(why.contains("no login prompt (\"login:\")"), "{why}");
    assert!(
        why.contains("Run /init as init process"),
        "tail missing: {why}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn kernel_panic_ends_the_boot_at_once() {
    let board = PtyBoard::start(Board {
        panic: true,
        ..Board::default()
    });
    let cfg = config(&board);
    let started = Instant::now();
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::BootFailed);
    assert!(case(&r, "boot and get a shell")
        .outcome
        .reason()
        .unwrap()
        .contains("kernel panic during boot"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "panic should not wait for the timeout"
    );
}

#[test]
fn kernel_panic_reason_and_trace_are_kept() {
    let board = PtyBoard::start(Board {
        panic: true,
        ..Board::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&board);
    cfg.log_dir = Some(dir.path().to_owned());
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::BootFailed);
    let why = case(&r, "boot and get a shell")
        .outcome
        .reason()
        .unwrap()
        .to_string();
    // The kernel's own panic line, not just "a panic happened".
    assert!(
        why.contains("kernel panic during boot: Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"),
        "{why}"
    );
    // What the board printed after the panic line (stack, end marker) is in the log.
    let log = r.attempts[0].log.clone().expect("log path");
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.contains("---[ end Kernel panic"), "{text}");
    assert!(why.contains("---[ end Kernel panic"), "tail: {why}");
}

#[test]
fn a_shell_of_another_user_left_logged_in_is_logged_out_and_logged_in_afresh() {
    let board = PtyBoard::start(Board {
        silent_until_poke: true,
        logged_in: true,
        shell_user: Some("pi".into()),
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.timeouts.poke_after = Some(Duration::from_millis(500));
    cfg.commands = vec!["uname -a".into()];
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
    let seen = board.seen.lock().unwrap().clone();
    assert_eq!(seen.exits, 1, "{seen:?}");
    assert_eq!(seen.logins, vec!["root".to_string()], "{seen:?}");
    assert!(
        case(&r, "login as root")
            .details
            .iter()
            .any(|d| d.contains("already logged in")),
        "{}",
        r.summary()
    );
    assert!(r.notes.iter().any(|n| n.contains("already logged in")));
}

#[test]
fn a_shell_that_cannot_tell_its_user_is_logged_out_and_logged_in_afresh() {
    // No `id` on the board: not known to be root's shell.
    let board = PtyBoard::start(Board {
        silent_until_poke: true,
        logged_in: true,
        shell_user: None,
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.timeouts.poke_after = Some(Duration::from_millis(500));
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
    let seen = board.seen.lock().unwrap().clone();
    assert_eq!((seen.exits, seen.logins.len()), (1, 1), "{seen:?}");
}

#[test]
fn a_root_shell_left_logged_in_is_used_as_it_is() {
    // An earlier run logged in; the board still sits at root's prompt (and prints nothing
    // until poked). The configured user's own shell is used: no `exit`, and no user name
    // typed into the shell.
    let board = PtyBoard::start(Board {
        silent_until_poke: true,
        logged_in: true,
        shell_user: Some("root".into()),
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.timeouts.poke_after = Some(Duration::from_millis(500));
    cfg.commands = vec!["uname -a".into()];
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
    let seen = board.seen.lock().unwrap().clone();
    assert_eq!(seen.exits, 0, "{seen:?}");
    assert!(seen.logins.is_empty(), "{seen:?}");
    assert!(!seen.lines.iter().any(|l| l == "root"), "{:?}", seen.lines);
    assert_eq!(case(&r, "boot to shell").outcome, Outcome::Pass);
    let login = case(&r, "login as root");
    assert_eq!(login.outcome, Outcome::Pass);
    assert!(
        login.details.iter().any(|d| d.contains("used as it is")),
        "{:?}",
        login.details
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("already logged in on the console")),
        "{:?}",
        r.notes
    );
    assert_eq!(case(&r, "uname -a").outcome, Outcome::Pass);
}

#[test]
fn a_board_that_boots_straight_to_a_root_shell_needs_no_no_login() {
    // No getty: init runs root's shell on the console. Run with the normal login options.
    let board = PtyBoard::start(Board {
        getty: false,
        shell_user: Some("root".into()),
        ..Board::default()
    });
    let cfg = config(&board);
    assert!(matches!(cfg.login, Login::User { .. }));
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
    assert_eq!(
        case(&r, "`rpibsp-verify --format tap` completes").outcome,
        Outcome::Pass
    );
    let seen = board.seen.lock().unwrap().clone();
    assert_eq!((seen.exits, seen.logins.len()), (0, 0), "{seen:?}");
    assert!(!seen.lines.iter().any(|l| l == "root"), "{:?}", seen.lines);
}

#[test]
fn a_shell_without_getty_is_not_logged_out_forever() {
    let board = PtyBoard::start(Board {
        silent_until_poke: true,
        logged_in: true,
        getty: false,
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.timeouts.poke_after = Some(Duration::from_millis(500));
    cfg.timeouts.boot = Duration::from_secs(15);
    let started = Instant::now();
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::BootFailed, "{}", r.summary());
    let why = case(&r, "boot and get a shell")
        .outcome
        .reason()
        .unwrap()
        .to_string();
    assert!(why.contains("--no-login"), "{why}");
    assert_eq!(board.seen.lock().unwrap().exits, 3);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "gave up only at the timeout"
    );
}

#[test]
fn garbage_on_the_line_does_not_disturb_the_session() {
    let board = PtyBoard::start(Board {
        garbage: true,
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.commands = vec!["true".into()];
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
    let xml = r.junit().unwrap();
    assert!(xml.contains("garbage"), "console tail in system-out");
    assert!(!xml.contains('\u{0}') && !xml.contains('\u{1b}'));
}

#[test]
fn kernel_messages_inside_command_output_are_filtered() {
    let tap = "1..4\nok 1 - overlay: first check\nok 2 - led: second check\nnot ok 3 - buttons: third check\n# the LED did not follow\nok 4 - devicemodel: fourth check\n";
    let board = PtyBoard::start(Board {
        kernel_noise: true,
        verify_output: tap.into(),
        verify_status: 1,
        ..Board::default()
    });
    let r = run(&config(&board));
    assert_eq!(r.verdict, Verdict::Failed);
    assert_eq!(
        case(&r, "first check").outcome,
        Outcome::Pass,
        "{}",
        r.summary()
    );
    assert_eq!(
        case(&r, "fourth check").outcome,
        Outcome::Pass,
        "{}",
        r.summary()
    );
    assert_eq!(
        case(&r, "third check").outcome,
        Outcome::Fail("the LED did not follow".into())
    );
    let v = case(&r, "completes");
    assert_eq!(
        v.outcome,
        Outcome::Fail("exit status 1".into()),
        "plan must match despite noise: {}",
        r.summary()
    );
    assert!(
        v.details
            .iter()
            .any(|d| d.contains("kernel message(s) interleaved")),
        "{:?}",
        v.details
    );
}

#[test]
fn hung_command_times_out_and_the_session_continues() {
    let board = PtyBoard::start(Board::default());
    let mut cfg = config(&board);
    cfg.verify = None;
    cfg.timeouts.command = Duration::from_secs(1);
    cfg.commands = vec!["sleep 1000".into(), "uname -a".into()];
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::Failed);
    let hung = case(&r, "sleep 1000").outcome.reason().unwrap().to_string();
    assert!(hung.contains("no end marker within 1 s"), "{hung}");
    assert_eq!(
        case(&r, "uname -a").outcome,
        Outcome::Pass,
        "{}",
        r.summary()
    );
    assert!(
        board.seen.lock().unwrap().ctrl_c >= 1,
        "Ctrl-C was not sent"
    );
}

#[test]
fn password_and_refused_login() {
    let board = PtyBoard::start(Board {
        password: Some("s3cret".into()),
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.login = Login::User {
        user: "root".into(),
        password: Some("s3cret".into()),
    };
    assert_eq!(run(&cfg).verdict, Verdict::Passed);

    let board = PtyBoard::start(Board {
        password: Some("s3cret".into()),
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.login = Login::User {
        user: "root".into(),
        password: Some("wrong".into()),
    };
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::BootFailed);
    assert!(case(&r, "boot and get a shell")
        .outcome
        .reason()
        .unwrap()
        .contains("Login incorrect"));

    let board = PtyBoard::start(Board {
        password: Some("s3cret".into()),
        ..Board::default()
    });
    let r = run(&config(&board));
    assert!(case(&r, "boot and get a shell")
        .outcome
        .reason()
        .unwrap()
        .contains("pass --password"));
}

#[test]
fn no_login_mode_and_an_already_booted_silent_board() {
    let board = PtyBoard::start(Board {
        getty: false,
        silent_until_poke: true,
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.login = Login::NoLogin { ready_marker: None };
    cfg.verify = Some("rpibsp-verify --format tap".into());
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
    assert_eq!(case(&r, "boot to shell").outcome, Outcome::Pass);
}

#[test]
fn silent_board_is_poked_for_its_login_prompt() {
    let board = PtyBoard::start(Board {
        silent_until_poke: true,
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.timeouts.poke_after = Some(Duration::from_millis(500));
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());

    let board = PtyBoard::start(Board {
        silent_until_poke: true,
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.timeouts.boot = Duration::from_secs(2);
    let r = run(&cfg);
    let why = case(&r, "boot and get a shell")
        .outcome
        .reason()
        .unwrap()
        .to_string();
    assert!(why.contains("nothing at all received"), "{why}");
}

#[test]
fn missing_verify_tool_is_explained() {
    let board = PtyBoard::start(Board::default());
    let mut cfg = config(&board);
    cfg.verify = Some("rpibsp-verify-missing --format tap".into());
    let r = run(&cfg);
    let why = case(&r, "completes").outcome.reason().unwrap().to_string();
    assert!(why.contains("not found on the board"), "{why}");
    assert!(why.contains("no TAP plan"), "{why}");
    assert_eq!(r.verdict, Verdict::Failed);
    let _ = GOOD_TAP;
}

#[test]
fn unopenable_serial_port_is_a_setup_failure() {
    let mut cfg = RunConfig::new(Target::Serial {
        path: "/dev/does-not-exist-rpibsp".into(),
        baud: 115_200,
    });
    cfg.boot_retries = 3;
    let r = run(&cfg);
    assert_eq!(r.verdict, Verdict::SetupFailed);
    assert_eq!(r.verdict.exit_code(), 4);
    assert_eq!(
        r.attempts.len(),
        1,
        "no retries when the port cannot be opened"
    );
    assert!(r.cases[0]
        .outcome
        .reason()
        .unwrap()
        .contains("/dev/does-not-exist-rpibsp"));
}

/// rpibsp-verify's TAP as it now prints it: results as they come, the plan last.
const STREAMED_TAP: &str = "# rpibsp-verify 0.1.0: mode emulated\nok 1 - overlay: live device tree readable\nok 2 - led: brightness 1 -> LED on\nok 3 - buttons: press button on\nok 4 - devicemodel: IOC_GET_STATUS fields\n1..4\n# 4 passed, 0 failed, 0 skipped\n";

struct Snapshots(Vec<(String, String)>);

impl rpibsp_hil::Observer for Snapshots {
    fn progress(&mut self, _line: &str) {}
    fn snapshot(&mut self, report: &rpibsp_hil::RunReport, step: &str) {
        self.0
            .push((step.to_string(), report.junit_snapshot(step).unwrap()));
    }
}

#[test]
fn a_board_hanging_mid_verify_keeps_the_results_so_far_and_names_the_hang() {
    let board = PtyBoard::start(Board {
        verify_output: STREAMED_TAP.into(),
        verify_hang_after: Some(3), // header, results 1 and 2, then the buttons check hangs
        verify_line_delay: Duration::from_millis(100),
        ..Board::default()
    });
    let mut cfg = config(&board);
    cfg.verify_timeout = Duration::from_secs(2);
    cfg.commands = vec!["uname -a".into()];
    let mut obs = Snapshots(Vec::new());
    let r = rpibsp_hil::run_observed(&cfg, &mut obs);
    assert_eq!(r.verdict, Verdict::Failed, "{}", r.summary());
    assert_eq!(case(&r, "live device tree readable").outcome, Outcome::Pass);
    assert_eq!(
        case(&r, "live device tree readable").group,
        "verify.overlay"
    );
    assert_eq!(case(&r, "brightness 1 -> LED on").outcome, Outcome::Pass);
    assert!(r.cases.iter().all(|c| c.name != "press button on"));
    let why = case(&r, "completes").outcome.reason().unwrap().to_string();
    assert!(
        why.starts_with(
            "no further result after result 2 `led: brightness 1 -> LED on`: the next check hung"
        ),
        "{why}"
    );
    assert!(why.contains("no end marker within 2 s"), "{why}");
    // The session was recovered: the command after it ran.
    assert_eq!(
        case(&r, "uname -a").outcome,
        Outcome::Pass,
        "{}",
        r.summary()
    );

    // While it hung, the snapshots already had both results and an honest failure.
    let (step, during) = obs
        .0
        .iter()
        .rev()
        .find(|(step, _)| step == "running `rpibsp-verify --format tap`")
        .expect("snapshots during the verify command");
    assert!(
        during.contains("name=\"brightness 1 -&gt; LED on\""),
        "{step}: {during}"
    );
    assert!(during.contains("name=\"run completed\""), "{during}");
    assert!(during.contains("rpibsp-hil has not finished"), "{during}");
    // The results arrived one by one: an earlier snapshot had only the first.
    assert!(obs
        .0
        .iter()
        .any(|(_, x)| x.contains("live device tree readable") && !x.contains("brightness 1")));
    // The final XML has no such case.
    assert!(!r.junit().unwrap().contains("run completed"));
}
