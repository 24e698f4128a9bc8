//! The rpibsp-verify binary: command line, output formats and exit codes, against a fake tree.

mod common;

use std::process::Command;

use common::{FakeTree, Layout};

fn verify(tree: &FakeTree, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rpibsp-verify"))
        .arg("--sysfs-root")
        .arg(&tree.roots.sys)
        .arg("--devtree-root")
        .arg(&tree.roots.devtree)
        .arg("--dev-root")
        .arg(&tree.roots.dev)
        .args(args)
        .output()
        .expect("run rpibsp-verify");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_explains_modes_groups_and_exit_status() {
    let out = Command::new(env!("CARGO_BIN_EXE_rpibsp-verify"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--mode",
        "--only",
        "--format",
        "--allow-skip",
        "loopback",
        "EXIT STATUS",
        "GPIO 22",
        "devicemodel",
    ] {
        assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
    }
}

#[test]
fn overlay_and_drivers_pass_on_a_healthy_tree_in_tap() {
    let tree = FakeTree::new(&Layout::default());
    let (code, out, err) = verify(&tree, &["--only", "overlay,drivers", "--format", "tap"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let doc = rpibsp_report::tap::parse(&out);
    assert!(doc.problems().is_empty(), "{:?}\n{out}", doc.problems());
    assert!(doc.tests.len() > 10);
    assert!(out.contains(": mode emulated\n"), "{out}");
}

#[test]
fn a_broken_tree_gives_exit_1_and_json_says_why() {
    let tree = FakeTree::new(&Layout {
        bind_button: false,
        ..Layout::default()
    });
    let (code, out, _) = verify(&tree, &["--only", "drivers", "--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let failed: Vec<&serde_json::Value> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("rpibsp_button"),
        "{out}"
    );
}

#[test]
fn human_output_and_report_file() {
    let tree = FakeTree::new(&Layout::default());
    let file = tree.tmp.path().join("report.xml");
    let (code, out, err) = verify(
        &tree,
        &[
            "--only",
            "overlay",
            "--format",
            "junit",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.is_empty());
    assert!(err.contains("passed, 0 failed"), "{err}");
    let xml = std::fs::read_to_string(&file).unwrap();
    assert!(xml.contains("<testsuite name=\"rpibsp-verify\""));

    let (code, out, _) = verify(&tree, &["--only", "overlay"]);
    assert_eq!(code, 0);
    assert!(out.contains("PASSED:"), "{out}");
    assert!(
        out.contains("PASS  2 node(s) with compatible \"rpibsp,gpio-button\""),
        "{out}"
    );
}

#[test]
fn bad_arguments_exit_2() {
    let tree = FakeTree::new(&Layout::default());
    let (code, _, err) = verify(&tree, &["--only", "leds"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown check group \"leds\""), "{err}");
    let (code, _, err) = verify(&tree, &["--mode", "loopback", "--loopback", "22-17"]);
    assert_eq!(code, 2);
    assert!(err.contains("DRIVER:BUTTON"), "{err}");
}

#[test]
fn real_platform_on_a_host_reports_why_rppal_cannot_read_gpio4() {
    // On the build host rppal cannot identify a Pi: the LED GPIO check must say so.
    let tree = FakeTree::new(&Layout::default());
    let (code, out, _) = verify(&tree, &["--only", "led"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot read BCM GPIO 4"), "{out}");
    assert!(out.contains("rppal"), "{out}");
}

#[test]
fn tap_is_streamed_with_the_plan_and_counts_last() {
    let tree = FakeTree::new(&Layout::default());
    let (code, out, err) = verify(&tree, &["--only", "overlay", "--format", "tap"]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("# rpibsp-verify "), "{out}");
    let n = lines.iter().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(lines[lines.len() - 2], format!("1..{n}"), "{out}");
    assert_eq!(
        lines[lines.len() - 1],
        format!("# {n} passed, 0 failed, 0 skipped")
    );
}

#[test]
fn an_unwritable_report_file_is_exit_3_before_any_check() {
    let tree = FakeTree::new(&Layout::default());
    let bad = tree.tmp.path().join("no/such/dir/report.tap");
    let (code, out, err) = verify(&tree, &["--format", "tap", "-o", bad.to_str().unwrap()]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.is_empty(), "nothing may run: {out}");
    assert!(
        err.contains("cannot create the report file") && err.contains("no/such/dir"),
        "{err}"
    );
    let help = Command::new(env!("CARGO_BIN_EXE_rpibsp-verify"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for needle in ["3    the report cannot be written", "143", "SIGTERM"] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}
