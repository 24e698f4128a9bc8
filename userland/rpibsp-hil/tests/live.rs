//! Live output: what a command prints reaches the person at the laptop while it runs —
//! above all the instructions of `rpibsp-verify --mode interactive`, which waits for a button
//! press after asking for it — and the TAP results still become test cases as before.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Board, PtyBoard, ShellBoard};
use rpibsp_hil::{asks_a_person, LiveOutput, RunConfig, RunReport, Target, Timeouts, Verdict};
use rpibsp_report::Outcome;

const PROMPT: &str = ">>> Press and hold the button on GPIO 17 (KEY_PROG1, on) within 10 s";

/// rpibsp-hil (the binary) whose standard error is read line by line as it comes, each line
/// with the time it arrived; `on_line` may act on a line at once (press the button).
struct Watched {
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    child: std::process::Child,
    reader: std::thread::JoinHandle<()>,
}

impl Watched {
    fn start(args: &[&str], mut on_line: impl FnMut(&str) + Send + 'static) -> Watched {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rpibsp-hil"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l2 = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                on_line(&line);
                l2.lock().unwrap().push((Instant::now(), line));
            }
        });
        Watched {
            lines,
            child,
            reader,
        }
    }

    /// Waits (at most 60 s) for the exit: status, stdout, stderr lines with their times.
    fn finish(mut self) -> (i32, String, Vec<(Instant, String)>) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                panic!(
                    "rpibsp-hil did not finish: {:#?}",
                    self.lines.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut out = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut o, &mut out).unwrap();
        }
        self.reader.join().unwrap();
        let lines = self.lines.lock().unwrap().clone();
        (status.code().unwrap_or(-1), out, lines)
    }
}

fn position(lines: &[(Instant, String)], what: &str) -> usize {
    lines
        .iter()
        .position(|(_, l)| l.contains(what))
        .unwrap_or_else(|| panic!("no stderr line with {what:?}: {lines:#?}"))
}

#[test]
fn interactive_instructions_reach_the_laptop_while_the_check_waits_for_them() {
    let board = ShellBoard::start();
    // The check asks on stderr, then waits until someone "presses": the file the test creates
    // only once it has read the instruction on rpibsp-hil's stderr. If the instruction came
    // only after the command ended, the check would give up after 10 s and fail.
    let pressed = board.dir.path().join("pressed");
    board.script(
        "rpibsp-verify",
        &format!(
            "echo '# rpibsp-verify 0.1.0: mode interactive'\n\
             echo 'ok 1 - overlay: live device tree readable'\n\
             echo '{PROMPT}' >&2\n\
             i=0\n\
             while [ ! -e '{p}' ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n\
             if [ -e '{p}' ]; then echo 'ok 2 - buttons: press button on'\n\
             else echo 'not ok 2 - buttons: press button on'; echo '# no press within 10 s'; fi\n\
             echo '1..2'\n\
             echo '# 2 passed, 0 failed, 0 skipped'\n",
            p = pressed.display()
        ),
    );
    let user = common::current_user();
    let press = pressed.clone();
    let hil = Watched::start(
        &[
            "--tcp",
            &board.addr,
            "--tcp-mode",
            "raw",
            "--user",
            &user,
            "--boot-timeout",
            "10",
            "--verify-cmd",
            "rpibsp-verify --format tap --mode interactive",
            "--cmd",
            "echo not-shown-without-live",
        ],
        move |line| {
            if line.starts_with("board| >>> Press") {
                std::fs::write(&press, "").unwrap();
            }
        },
    );
    let (code, out, lines) = hil.finish();
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{lines:#?}");
    // The instruction, prefixed, before the result it waited for and before the end.
    let prompt = position(&lines, &format!("board| {PROMPT}"));
    let result = position(&lines, "PASS buttons: press button on");
    let ended = position(&lines, "  exit 0 in");
    assert!(prompt < result && result < ended, "{lines:#?}");
    assert!(lines[prompt].0 <= lines[result].0);
    // Only what is not TAP is passed on; TAP stays progress lines and test cases.
    let board_lines: Vec<&str> = lines
        .iter()
        .map(|(_, l)| l.as_str())
        .filter(|l| l.starts_with("board| "))
        .collect();
    assert_eq!(board_lines, [format!("board| {PROMPT}")], "{lines:#?}");
    assert!(out.contains("on-board checks: 2 of 2 passed"), "{out}");
    assert!(out.contains("PASSED: 6 passed, 0 failed"), "{out}");
    assert!(
        !out.contains(">>> Press"),
        "the instruction is no case: {out}"
    );
}

#[test]
fn with_live_every_command_shows_its_lines_as_they_come() {
    let board = ShellBoard::start();
    let user = common::current_user();
    let hil = Watched::start(
        &[
            "--tcp",
            &board.addr,
            "--tcp-mode",
            "raw",
            "--user",
            &user,
            "--boot-timeout",
            "10",
            "--no-verify",
            "--live",
            "--quiet",
            "--cmd",
            "echo first; sleep 1; echo second",
        ],
        |_| {},
    );
    let (code, out, lines) = hil.finish();
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{lines:#?}");
    let first = position(&lines, "board| first");
    let second = position(&lines, "board| second");
    // `first` arrived about a second before `second`: as printed, not at the end.
    let gap = lines[second].0.duration_since(lines[first].0);
    assert!(gap >= Duration::from_millis(700), "{gap:?}: {lines:#?}");
    // --quiet keeps the progress lines away, not the board's.
    assert!(
        lines
            .iter()
            .all(|(_, l)| !l.starts_with("rpibsp-hil: running")),
        "{lines:#?}"
    );
    // The command's case keeps its output as before.
    assert!(out.contains("PASSED: 3 passed, 0 failed"), "{out}");
}

/// Records what the runner passes on live.
#[derive(Default)]
struct Live(Vec<(String, String)>);

impl rpibsp_hil::Observer for Live {
    fn progress(&mut self, _line: &str) {}
    fn live_output(&mut self, command: &str, line: &str) {
        self.0.push((command.to_string(), line.to_string()));
    }
}

fn sim_config(board: &PtyBoard) -> RunConfig {
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
    cfg
}

fn outcomes(r: &RunReport) -> Vec<(String, Outcome)> {
    r.cases
        .iter()
        .map(|c| (c.name.clone(), c.outcome.clone()))
        .collect()
}

#[test]
fn which_lines_are_passed_on_and_the_results_do_not_change() {
    let tap = "# rpibsp-verify 0.1.0: mode interactive\n1..2\nok 1 - overlay: first\n\
               >>> Press the button on GPIO 17 now\n\nok 2 - buttons: pressed\n# 2 passed\n";
    let run = |verify: &str, live: LiveOutput| {
        let board = PtyBoard::start(Board {
            verify_output: tap.into(),
            ..Board::default()
        });
        let mut cfg = sim_config(&board);
        cfg.verify = Some(verify.into());
        cfg.commands = vec!["uname -a".into()];
        cfg.live = live;
        let mut obs = Live::default();
        let r = rpibsp_hil::run_observed(&cfg, &mut obs);
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
        (outcomes(&r), obs.0)
    };
    let plain = "rpibsp-verify --format tap";
    let interactive = "rpibsp-verify --format tap --mode interactive";

    let (quiet_cases, seen) = run(plain, LiveOutput::Interactive);
    assert!(seen.is_empty(), "{seen:?}");

    let (cases, seen) = run(interactive, LiveOutput::Interactive);
    assert_eq!(
        seen,
        [(
            interactive.to_string(),
            ">>> Press the button on GPIO 17 now".to_string()
        )]
    );
    // The same results with and without live output (names aside: the command differs), and
    // the instruction is no case.
    let results =
        |c: &[(String, Outcome)]| -> Vec<Outcome> { c.iter().map(|x| x.1.clone()).collect() };
    assert_eq!(results(&cases), results(&quiet_cases));
    assert!(
        cases.iter().all(|(name, _)| !name.contains(">>>")),
        "{cases:?}"
    );

    let (_, seen) = run(plain, LiveOutput::All);
    let lines: Vec<&str> = seen.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        lines,
        [
            ">>> Press the button on GPIO 17 now",
            "Linux rpibsp 7.3.4-rpibsp #1 SMP PREEMPT aarch64 GNU/Linux"
        ]
    );
    assert_eq!(seen[1].0, "uname -a");

    let (_, seen) = run(interactive, LiveOutput::Off);
    assert!(seen.is_empty(), "{seen:?}");
}

#[test]
fn interactive_verify_commands_are_recognised() {
    assert!(asks_a_person(
        "rpibsp-verify --format tap --mode interactive"
    ));
    assert!(asks_a_person(
        "rpibsp-verify --mode=interactive --format tap"
    ));
    assert!(asks_a_person("/usr/bin/rpibsp-verify --mode  interactive"));
    assert!(!asks_a_person("rpibsp-verify --format tap"));
    assert!(!asks_a_person("rpibsp-verify --format tap --mode loopback"));
    assert!(!asks_a_person("rpibsp-verify --mode"));
    assert!(!asks_a_person("echo interactive"));
}
