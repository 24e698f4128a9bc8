use std::time::Duration;

use rpibsp_report::{junit, tap, xml_escape, Case, Counts, Outcome};

fn sample() -> Vec<Case> {
    let mut failing = Case::new(
        "led",
        "GPIO 4 follows brightness",
        Outcome::Fail("GPIO 4 stayed low\nafter writing 1".into()),
    );
    failing.details.push("brightness: 1".into());
    failing.duration = Some(Duration::from_millis(1500));
    vec![
        Case::new(
            "overlay",
            "node #1 <rpibsp-led> & \"friends\"",
            Outcome::Pass,
        ),
        failing,
        Case::new(
            "buttons",
            "press",
            Outcome::Skip("real board: use --mode interactive".into()),
        ),
    ]
}

#[test]
fn tap_roundtrip_keeps_names_outcomes_and_reasons() {
    let cases = sample();
    let text = tap::render(&cases);
    assert!(text.starts_with("1..3\n"), "{text}");
    assert!(text.contains("not ok 2 - led: GPIO 4 follows brightness\n# GPIO 4 stayed low\n"));
    assert!(text.contains("ok 3 - buttons: press # SKIP real board"));
    let doc = tap::parse(&text);
    assert!(doc.problems().is_empty(), "{:?}", doc.problems());
    assert_eq!(doc.tests.len(), 3);
    assert_eq!(
        doc.tests[0].name,
        "overlay: node #1 <rpibsp-led> & \"friends\""
    );
    assert_eq!(doc.tests[0].outcome, Outcome::Pass);
    assert_eq!(
        doc.tests[1].outcome,
        Outcome::Fail("GPIO 4 stayed low".into())
    );
    assert_eq!(
        doc.tests[2].outcome,
        Outcome::Skip("real board: use --mode interactive".into())
    );
}

#[test]
fn tap_parse_ignores_console_noise_and_reports_plan_problems() {
    let text = "[   12.345678] random: crng init done\r\n\
                ok 1 - a\r\n\
                garbage \u{1b}[0m line\n\
                not ok 2 - b\n\
                [   13.000000] rpibsp-button rpibsp-button-on: pressed\n\
                # reason for b\n\
                okay this is not a test line\n\
                1..3\n";
    let doc = tap::parse(text);
    assert_eq!(doc.tests.len(), 2);
    assert_eq!(doc.tests[1].outcome, Outcome::Fail("reason for b".into()));
    assert_eq!(doc.plan, Some(3));
    assert_eq!(
        doc.problems(),
        vec!["TAP plan says 3 tests but 2 were reported".to_string()]
    );
    let empty = tap::parse("");
    assert_eq!(empty.problems().len(), 1);
    let bail = tap::parse("1..1\nBail out! no sysfs\n");
    assert!(bail.problems()[0].contains("no sysfs"));
}

#[test]
fn counts_and_success_rules() {
    let cases = sample();
    let c = Counts::of(&cases);
    assert_eq!((c.passed, c.failed, c.skipped), (1, 1, 1));
    assert_eq!(c.line(), "1 passed, 1 failed, 1 skipped");
    assert!(!c.success(true));
    let only_skip = Counts {
        passed: 2,
        failed: 0,
        skipped: 1,
    };
    assert!(!only_skip.success(false));
    assert!(only_skip.success(true));
    assert!(
        !Counts::default().success(true),
        "no test at all is not a success"
    );
}

#[test]
fn junit_is_escaped_and_counts_match() {
    let cases = sample();
    let suite = junit::Suite {
        name: "rpibsp-verify",
        cases: &cases,
        timestamp: Some("2026-01-01T00:00:00Z".into()),
        properties: vec![("mode".into(), "emulated".into())],
        system_out: Some("console \u{7} bell & <tag>".into()),
        ..Default::default()
    };
    let xml = junit::render(&suite);
    assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""));
    assert!(xml.contains("name=\"node #1 &lt;rpibsp-led&gt; &amp; &quot;friends&quot;\""));
    assert!(xml.contains("<failure message=\"GPIO 4 stayed low\""));
    assert!(xml.contains("<skipped message=\"real board: use --mode interactive\"/>"));
    assert!(xml.contains("<property name=\"mode\" value=\"emulated\"/>"));
    assert!(xml.contains("console \\x07 bell &amp; &lt;tag&gt;"));
    assert!(!xml.contains('\u{7}'));
    assert_eq!(xml.matches("<testcase").count(), 3);
}

#[test]
fn xml_escape_drops_carriage_returns_and_controls() {
    assert_eq!(xml_escape("a\r\nb\u{0}c"), "a\nb\\x00c");
}
