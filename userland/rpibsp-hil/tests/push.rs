//! `--push LOCAL:REMOTE` against a real shell on a pseudo-terminal behind a TCP console
//! ([`common::ShellBoard`]): the file arrives byte for byte with its mode through real
//! `base64 -d`, `gunzip` and `sha256sum`, and a push that cannot be done (a directory that
//! cannot be created, a board that corrupts the data, a command that hangs) is a failed case
//! that names the file and the cause, leaves no temporaries, and fails the steps after it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::hil;
use common::ShellBoard;
use rpibsp_hil::{Login, PushSpec, RunConfig, RunReport, Target, TcpMode, Verdict};
use rpibsp_report::{Case, Outcome};

/// Deterministic pseudo-random bytes (xorshift): incompressible, like a stripped module.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

fn config(board: &ShellBoard) -> RunConfig {
    let mut cfg = RunConfig::new(Target::Tcp {
        addr: board.addr.clone(),
        mode: TcpMode::Raw,
    });
    cfg.login = Login::NoLogin { ready_marker: None };
    cfg.timeouts.boot = Duration::from_secs(10);
    cfg.timeouts.command = Duration::from_secs(30);
    cfg.verify = None;
    cfg
}

/// Writes `data` to a new local file with permission bits `mode`.
fn local_file(dir: &Path, name: &str, data: &[u8], mode: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn case<'a>(r: &'a RunReport, name: &str) -> &'a Case {
    r.cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name:?} in\n{}", r.summary()))
}

/// The files in `dir` (names), sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn pushed_files_arrive_byte_for_byte_with_their_mode_before_the_commands_run() {
    let board = ShellBoard::start();
    let local = tempfile::tempdir().unwrap();
    let module = noise(300 * 1024, 11);
    let m = local_file(local.path(), "rpibsp_led.ko", &module, 0o750);
    let text = b"# a config file\nkey = 'value'\n".repeat(100);
    let t = local_file(local.path(), "it's a file.conf", &text, 0o640);
    let remote_m = board
        .dir
        .path()
        .join("lib/modules/7.3.4-rpibsp/extra/rpibsp_led.ko");
    let remote_t = board.dir.path().join("etc/it's here.conf");
    let mut cfg = config(&board);
    cfg.pushes = vec![
        PushSpec::new(&m, remote_m.to_str().unwrap()).unwrap(),
        PushSpec::new(&t, remote_t.to_str().unwrap()).unwrap(),
    ];
    // The command runs after the pushes: the module is there then.
    cfg.commands = vec![format!("test -x '{}'", remote_m.display())];
    let mut progress = Vec::new();
    let r = rpibsp_hil::run(&cfg, &mut |l| progress.push(l.to_string()));
    let summary = r.summary();
    assert_eq!(r.verdict, Verdict::Passed, "{summary}\n{progress:#?}");

    assert_eq!(
        std::fs::read(&remote_m).unwrap(),
        module,
        "module bytes differ"
    );
    assert_eq!(std::fs::read(&remote_t).unwrap(), text, "text bytes differ");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&remote_m), 0o750);
    assert_eq!(mode(&remote_t), 0o640);
    // No temporaries left.
    assert_eq!(names(remote_m.parent().unwrap()), vec!["rpibsp_led.ko"]);
    assert_eq!(names(remote_t.parent().unwrap()), vec!["it's here.conf"]);

    let c = case(
        &r,
        &format!("push {} -> {}", m.display(), remote_m.display()),
    );
    assert_eq!(c.group, "push");
    assert_eq!(c.outcome, Outcome::Pass);
    assert!(c.duration.is_some());
    let details = c.details.join("\n");
    assert!(
        details.contains(&format!("{} bytes (mode 0750) sent as", module.len()))
            && details.contains(" s ("),
        "bytes and time: {details}"
    );
    // Base64 of incompressible data: a third more, in lines of at most 1000 bytes.
    assert!(progress.iter().any(|l| l.contains("25%")), "{progress:#?}");
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("pushing ") && l.contains("rpibsp_led.ko")),
        "{progress:#?}"
    );
    // The order: pushes, then the command.
    let order: Vec<&str> = r.cases.iter().map(|c| c.group.as_str()).collect();
    assert_eq!(order, ["boot", "push", "push", "command"], "{summary}");
    let xml = r.junit().unwrap();
    assert!(
        xml.contains(&format!(
            "name=\"push {} -&gt; {}\" classname=\"push\"",
            m.display(),
            remote_m.display()
        )),
        "{xml}"
    );
}

#[test]
fn a_push_that_cannot_create_its_directory_fails_and_the_rest_is_not_run() {
    let board = ShellBoard::start();
    let local = tempfile::tempdir().unwrap();
    let m = local_file(local.path(), "m.ko", &noise(5000, 2), 0o644);
    // Not even root can create a directory under a regular file.
    std::fs::write(board.dir.path().join("a-file"), "").unwrap();
    let bad = board.dir.path().join("a-file/extra/m.ko");
    let good = board.dir.path().join("m.ko");
    let mut cfg = config(&board);
    cfg.pushes = vec![
        PushSpec::new(&m, bad.to_str().unwrap()).unwrap(),
        PushSpec::new(&m, good.to_str().unwrap()).unwrap(),
    ];
    cfg.verify = Some("rpibsp-verify --format tap".into());
    cfg.commands = vec!["true".into()];
    let r = rpibsp_hil::run(&cfg, &mut |_| {});
    let summary = r.summary();
    assert_eq!(r.verdict, Verdict::Failed, "{summary}");
    let label = format!("push {} -> {}", m.display(), bad.display());
    let why = case(&r, &label).outcome.reason().unwrap().to_string();
    assert!(
        why.starts_with(&format!("{label} failed: preparing: `mkdir -p")),
        "{why}"
    );
    assert!(why.contains("exit status 1"), "{why}");
    assert!(
        why.contains("Not a directory"),
        "the board's message: {why}"
    );
    // Everything after it is a failure that says why, not a silent skip.
    let not_run = format!("not run: `{label}` failed: preparing:");
    for name in [
        format!("push {} -> {}", m.display(), good.display()),
        "`rpibsp-verify --format tap` completes".to_string(),
        "true".to_string(),
    ] {
        let reason = case(&r, &name).outcome.reason().unwrap_or("").to_string();
        assert!(reason.starts_with(&not_run), "{name}: {reason}");
    }
    assert!(!good.exists(), "the second push ran");
    assert_eq!(r.counts().failed, 4, "{summary}");
    assert!(summary.contains("FAIL  push"), "{summary}");
}

#[test]
fn a_copy_corrupted_on_the_board_is_not_installed() {
    let board = ShellBoard::start();
    // The board's gunzip damages what it unpacks.
    board.script("gunzip", "gzip -d \"$@\"\nprintf X\n");
    let local = tempfile::tempdir().unwrap();
    let m = local_file(local.path(), "m.ko", &noise(40_000, 5), 0o644);
    let remote = board.dir.path().join("extra/m.ko");
    let mut cfg = config(&board);
    cfg.pushes = vec![PushSpec::new(&m, remote.to_str().unwrap()).unwrap()];
    cfg.commands = vec!["true".into()];
    let r = rpibsp_hil::run(&cfg, &mut |_| {});
    assert_eq!(r.verdict, Verdict::Failed, "{}", r.summary());
    let label = format!("push {} -> {}", m.display(), remote.display());
    let why = case(&r, &label).outcome.reason().unwrap().to_string();
    assert!(
        why.starts_with(&format!(
            "{label} failed: SHA-256 mismatch: the copy on the board has "
        )),
        "{why}"
    );
    assert!(why.contains("the file was not installed"), "{why}");
    assert!(!remote.exists(), "a corrupted file was installed");
    assert!(
        names(remote.parent().unwrap()).is_empty(),
        "temporaries left: {:?}",
        names(remote.parent().unwrap())
    );
    assert!(case(&r, "true")
        .outcome
        .reason()
        .unwrap()
        .starts_with(&format!("not run: `{label}` failed: SHA-256 mismatch")));
}

#[test]
fn a_hanging_board_command_times_out_and_the_temporaries_are_removed() {
    let board = ShellBoard::start();
    board.script("sha256sum", "sleep 60\n");
    let local = tempfile::tempdir().unwrap();
    let m = local_file(local.path(), "m.ko", b"module", 0o644);
    let remote = board.dir.path().join("m.ko");
    let mut cfg = config(&board);
    cfg.timeouts.command = Duration::from_secs(2);
    cfg.pushes = vec![PushSpec::new(&m, remote.to_str().unwrap()).unwrap()];
    cfg.commands = vec!["true".into()];
    let started = std::time::Instant::now();
    let r = rpibsp_hil::run(&cfg, &mut |_| {});
    assert_eq!(r.verdict, Verdict::Failed, "{}", r.summary());
    let label = format!("push {} -> {}", m.display(), remote.display());
    let why = case(&r, &label).outcome.reason().unwrap().to_string();
    assert!(
        why.contains("checking: `sha256sum") && why.contains("no end marker within 2 s"),
        "{why}"
    );
    // Ctrl-C brought the shell back, and the temporaries were removed.
    let left: Vec<String> = names(board.dir.path())
        .into_iter()
        .filter(|n| n.starts_with("m.ko"))
        .collect();
    assert!(left.is_empty(), "left on the board: {left:?}");
    assert!(case(&r, "true")
        .outcome
        .reason()
        .unwrap()
        .starts_with("not run: "));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn binary_push_with_the_normal_login_options_and_junit() {
    let board = ShellBoard::start();
    let local = tempfile::tempdir().unwrap();
    let data = noise(64 * 1024, 9);
    let m = local_file(local.path(), "rpibsp_button.ko", &data, 0o600);
    let remote = board.dir.path().join("extra/rpibsp_button.ko");
    let junit = local.path().join("hil.xml");
    let spec = format!("{}:{}", m.display(), remote.display());
    // No --no-login: the shell already at its prompt is the user's own, so it is used as it is.
    let user = common::current_user();
    let (code, out, err) = hil(&[
        "--tcp",
        &board.addr,
        "--tcp-mode",
        "raw",
        "--user",
        &user,
        "--boot-timeout",
        "10",
        "--no-verify",
        "--push",
        &spec,
        "--cmd",
        &format!("cmp '{}' '{}'", remote.display(), m.display()),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(std::fs::read(&remote).unwrap(), data);
    assert!(
        out.contains(&format!(
            "PASS  push                 push {} -> {}",
            m.display(),
            remote.display()
        )),
        "{out}"
    );
    assert!(out.contains("already logged in on the console"), "{out}");
    assert!(
        err.contains(&format!("pushing {} -> ", m.display())),
        "{err}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("classname=\"push\""), "{xml}");
    assert!(
        xml.contains(&format!("{} bytes (mode 0600) sent as", data.len())),
        "{xml}"
    );
    assert_eq!(*board.connections.lock().unwrap(), 1);
}

#[test]
fn binary_refuses_bad_push_arguments_before_touching_the_board() {
    let board = ShellBoard::start();
    let dir = tempfile::tempdir().unwrap();
    let file = local_file(dir.path(), "m.ko", b"x", 0o644);
    let missing = dir.path().join("missing.ko");
    let cases: [(String, &str); 4] = [
        (
            format!("{}:relative/m.ko", file.display()),
            "expected LOCAL:REMOTE",
        ),
        (
            format!("{}:/lib/modules/", file.display()),
            "names a directory",
        ),
        (format!("{}:/tmp/m.ko", missing.display()), "missing.ko"),
        (
            format!("{}:/tmp/m.ko", dir.path().display()),
            "not a regular file",
        ),
    ];
    for (arg, want) in cases {
        let (code, out, err) = hil(&["--tcp", &board.addr, "--push", &arg]);
        assert_eq!(code, 2, "{arg}: {out}{err}");
        assert!(err.contains(want), "{arg}: {err}");
        assert!(out.is_empty(), "{arg}: {out}");
    }
    assert_eq!(*board.connections.lock().unwrap(), 0);
}

#[test]
fn a_file_already_on_the_board_is_not_sent_again_but_a_changed_one_is() {
    let board = ShellBoard::start();
    let local = tempfile::tempdir().unwrap();
    let remote = board.dir.path().join("usr/bin/rpibsp-verify");
    let details = |r: &RunReport, l: &Path| {
        case(r, &format!("push {} -> {}", l.display(), remote.display()))
            .details
            .join("\n")
    };
    let push_once = |l: &Path| {
        let mut cfg = config(&board);
        cfg.pushes = vec![PushSpec::new(l, remote.to_str().unwrap()).unwrap()];
        let r = rpibsp_hil::run(&cfg, &mut |_| {});
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
        r
    };
    let first = noise(20 * 1024, 3);
    let l = local_file(local.path(), "rpibsp-verify", &first, 0o755);
    let r = push_once(&l);
    assert!(details(&r, &l).contains("sent as"), "{}", details(&r, &l));
    // The same bytes and mode again: only compared.
    let r = push_once(&l);
    assert!(
        details(&r, &l).contains("already on the board (same SHA-256): not sent"),
        "{}",
        details(&r, &l)
    );
    // Another mode: sent (the mode is part of what is deployed).
    std::fs::set_permissions(&l, std::fs::Permissions::from_mode(0o700)).unwrap();
    let r = push_once(&l);
    assert!(details(&r, &l).contains("sent as"), "{}", details(&r, &l));
    // Other bytes: sent, and they arrive.
    let second = noise(20 * 1024, 4);
    std::fs::write(&l, &second).unwrap();
    let r = push_once(&l);
    assert!(details(&r, &l).contains("sent as"), "{}", details(&r, &l));
    assert_eq!(std::fs::read(&remote).unwrap(), second);
}

#[test]
fn over_the_network_the_board_fetches_the_file_and_falls_back_to_the_console() {
    let board = ShellBoard::start();
    let local = tempfile::tempdir().unwrap();
    let data = noise(200 * 1024, 9);
    let l = local_file(local.path(), "rpibsp_button.ko", &data, 0o644);
    let remote = board
        .dir
        .path()
        .join("lib/modules/x/extra/rpibsp_button.ko");
    let run_with = |host: &str| {
        let _ = std::fs::remove_file(&remote);
        let mut cfg = config(&board);
        cfg.pushes = vec![PushSpec::new(&l, remote.to_str().unwrap()).unwrap()];
        cfg.http = Some(rpibsp_hil::HttpPush {
            listen: "127.0.0.1:0".into(),
            host: host.into(),
        });
        let r = rpibsp_hil::run(&cfg, &mut |_| {});
        assert_eq!(r.verdict, Verdict::Passed, "{}", r.summary());
        assert_eq!(std::fs::read(&remote).unwrap(), data, "bytes differ");
        case(&r, &format!("push {} -> {}", l.display(), remote.display()))
            .details
            .join("\n")
    };
    // The board (the host's wget) reaches the server: fetched, not sent.
    let d = run_with("127.0.0.1");
    assert!(
        d.contains("fetched by the board") && d.contains("http://127.0.0.1:"),
        "{d}"
    );
    // The board cannot reach it (nothing listens on 127.0.0.2): the console takes over.
    let d = run_with("127.0.0.2");
    assert!(
        d.contains("over the network:")
            && d.contains("sending it over the console")
            && d.contains("sent as"),
        "{d}"
    );
}
