use std::time::Duration;

use rpibsp_report::{junit, tap, Case, Counts, Outcome};

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
        timestamp: Some(std::time::UNIX_EPOCH + Duration::from_secs(1_767_225_600)),
        properties: vec![("mode".into(), "emulated".into())],
        system_out: Some("console \u{7} bell & <tag> \u{1b}[0;31mred\u{1b}[0m\r\n".into()),
        ..Default::default()
    };
    let xml = junit::render(&suite).unwrap();
    for attr in [
        "tests=\"3\"",
        "failures=\"1\"",
        "errors=\"0\"",
        "skipped=\"1\"",
    ] {
        assert_eq!(
            xml.matches(attr).count(),
            2,
            "{attr} on <testsuites> and <testsuite>:\n{xml}"
        );
    }
    assert!(
        xml.contains("timestamp=\"2026-01-01T00:00:00.000+00:00\""),
        "{xml}"
    );
    assert!(xml.contains("name=\"node #1 &lt;rpibsp-led&gt; &amp; &quot;friends&quot;\""));
    assert!(xml.contains("<failure message=\"GPIO 4 stayed low\" type=\"failure\">GPIO 4 stayed low\nafter writing 1\nbrightness: 1</failure>"), "{xml}");
    assert!(xml.contains("<skipped message=\"real board: use --mode interactive\"/>"));
    assert!(xml.contains("<property name=\"mode\" value=\"emulated\"/>"));
    assert!(
        xml.contains("console  bell &amp; &lt;tag&gt; red\n</system-out>"),
        "{xml}"
    );
    assert!(!xml.contains('\u{7}') && !xml.contains('\u{1b}') && !xml.contains('\r'));
    assert_eq!(xml.matches("<testcase").count(), 3);
}

#[test]
fn junit_text_keeps_words_apart_and_drops_what_xml_cannot_carry() {
    assert_eq!(
        junit::xml_text("a\tb\r\nc\u{0}d\u{fffe}\u{1b}[1me").as_str(),
        "a b\ncde"
    );
}

#[test]
fn streamed_tap_with_the_plan_last_parses_like_rendered_tap() {
    let cases = sample();
    let mut text = String::new();
    for (i, c) in cases.iter().enumerate() {
        text.push_str(&tap::render_case(i + 1, c));
    }
    text.push_str(&tap::plan(cases.len()));
    let doc = tap::parse(&text);
    assert!(doc.problems().is_empty(), "{:?}", doc.problems());
    let rendered = tap::parse(&tap::render(&cases));
    assert_eq!(doc.tests, rendered.tests);
    assert_eq!(doc.plan, rendered.plan);
}

#[test]
fn a_directive_with_multibyte_characters_does_not_panic() {
    // Byte 4 of the directive is inside a character: the old parser sliced there and panicked.
    for line in [
        "ok 1 - x # aaa\u{e9}",
        "ok 1 - x # \u{e9}\u{e9}\u{e9}",
        "ok 1 - x # SKI\u{fffd}",
        "not ok 1 - x #\u{1f600}",
        "ok 1 - \u{e9}\\#\u{e9} # s\u{e9}",
    ] {
        let doc = tap::parse(line);
        assert_eq!(doc.tests.len(), 1, "{line:?}");
    }
    let doc = tap::parse("ok 1 - caf\u{e9} # skip \u{e7}a manque\n");
    assert_eq!(doc.tests[0].name, "caf\u{e9}");
    assert_eq!(doc.tests[0].outcome, Outcome::Skip("\u{e7}a manque".into()));
    let doc = tap::parse_bytes(b"ok 1 - a # SK\xc3\n");
    assert_eq!(doc.tests[0].outcome, Outcome::Pass);
}

#[test]
fn stream_reports_tests_as_their_lines_complete() {
    let mut s = tap::TapStream::new();
    assert_eq!(s.push_bytes(b"# header\nok 1 - a\nnot ok 2 - b"), 1);
    assert_eq!(s.tests().len(), 1, "the second line is not complete yet");
    assert_eq!(s.push_bytes(b"\r\n# why b failed\n#   more\n"), 1);
    assert_eq!(s.tests()[1].outcome, Outcome::Fail("why b failed".into()));
    assert_eq!(s.push_line("1..2"), tap::LineKind::Plan);
    let doc = s.finish();
    assert!(doc.problems().is_empty());
    assert_eq!(doc.tests[1].diagnostics, vec!["why b failed", "more"]);
}
