//! Property tests of the TAP parser against what a serial console delivers: random bytes
//! (invalid UTF-8, multibyte characters, control characters) and reads split anywhere.

use proptest::prelude::*;
use proptest::sample::{select, Index};

use rpibsp_report::tap::{self, TapDocument, TapStream};
use rpibsp_report::{Case, Outcome};

/// A TAP-like test line with an arbitrary description and directive (where the old parser
/// sliced at byte 4).
fn test_line() -> impl Strategy<Value = Vec<u8>> {
    (
        select(vec!["ok", "not ok", "ok ", "not ok 7 - ", "ok 12 "]),
        text(10),
        select(vec![" # ", "#", " \\# ", " # SKIP", " # todo "]),
        text(8),
        select(vec![&b""[..], b"\xc3", b"\xf0\x9f", b"\r"]),
    )
        .prop_map(|(head, name, hash, directive, tail)| {
            [
                head.as_bytes(),
                name.as_bytes(),
                hash.as_bytes(),
                directive.as_bytes(),
                tail,
                b"\n",
            ]
            .concat()
        })
}

/// Byte soup that looks a bit like a console: TAP fragments, multibyte characters (also cut
/// in half), line endings, escape sequences and random bytes.
fn console_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => test_line(),
        1 => proptest::collection::vec(any::<u8>(), 0..16),
        1 => any::<String>().prop_map(String::into_bytes),
        2 => select(vec![
            &b"ok "[..],
            b"not ok ",
            b"ok 1 - a # SKIP \xc3",
            b" # skip",
            b" # TODO",
            b"# ",
            b"#",
            b"\\#",
            b"1..",
            b"1..3",
            b"Bail out!",
            b"\n",
            b"\r\n",
            b"\r",
            b"\xc3\xa9",
            b"\xc3",
            b"\xa9",
            b"\xf0\x9f\x98",
            b"\x1b[0;31m",
            b"\0",
            b"aaa\xc3\xa9",
        ])
        .prop_map(<[u8]>::to_vec),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// Feeds `bytes` to a stream in reads that end at the given split points.
fn parse_in_reads(bytes: &[u8], splits: &[Index]) -> TapDocument {
    let mut cuts: Vec<usize> = splits.iter().map(|i| i.index(bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut stream = TapStream::new();
    let mut at = 0;
    for cut in cuts {
        stream.push_bytes(&bytes[at..cut]);
        at = cut;
    }
    stream.push_bytes(&bytes[at..]);
    stream.finish()
}

fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        any::<char>(),
        select(vec![
            '#',
            '\\',
            ' ',
            '-',
            ':',
            '\u{e9}',
            '\u{20ac}',
            '\u{1f600}',
            '\t'
        ]),
    ]
    .prop_filter("one line", |c| *c != '\n' && *c != '\r')
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(name_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

fn case() -> impl Strategy<Value = Case> {
    let outcome = prop_oneof![
        Just(Outcome::Pass),
        text(16).prop_map(Outcome::Fail),
        text(16).prop_map(Outcome::Skip),
    ];
    (
        "[a-z]{1,8}",
        text(24),
        outcome,
        proptest::collection::vec(text(12), 0..3),
    )
        .prop_map(|(group, name, outcome, details)| Case {
            details,
            ..Case::new(group, name, outcome)
        })
}

/// A console line that is not TAP: it starts with a character no TAP line starts with.
fn noise_line() -> impl Strategy<Value = Vec<u8>> {
    (
        select(vec![
            "[", "~", "x", "\u{e9}", "\u{1b}", "\u{fffd}", ">", "\u{0}",
        ]),
        proptest::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            0..30,
        ),
    )
        .prop_map(|(first, rest)| [first.as_bytes(), &rest].concat())
}

/// What the parser should give back for a rendered case.
fn expected(case: &Case) -> (String, Outcome) {
    let name = case
        .full_name()
        .replace(['\n', '\r'], " ")
        .trim()
        .to_string();
    let outcome = match &case.outcome {
        Outcome::Pass => Outcome::Pass,
        // The reason is the first `#` line: the reason's, else (no reason) a detail's.
        Outcome::Fail(why) => match why
            .lines()
            .chain(case.details.iter().flat_map(|d| d.lines()))
            .next()
        {
            Some(first) => Outcome::Fail(first.trim_start().to_string()),
            None => Outcome::Fail("reported `not ok`".into()),
        },
        Outcome::Skip(why) => Outcome::Skip(why.trim().to_string()),
    };
    (name, outcome)
}

proptest! {
    // No regression files in the source tree; a failure prints its minimal input.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_in_any_reads_parse_without_panic_and_alike(
        bytes in console_bytes(),
        splits in proptest::collection::vec(any::<Index>(), 0..12),
    ) {
        let whole = tap::parse_bytes(&bytes);
        let _ = whole.problems();
        prop_assert_eq!(parse_in_reads(&bytes, &splits), whole.clone());
        // Line by line (what rpibsp-hil does with the console's lines) is the same again.
        let mut by_line = TapStream::new();
        for line in bytes.split(|&b| b == b'\n') {
            by_line.push_line(&String::from_utf8_lossy(line));
        }
        prop_assert_eq!(by_line.finish(), whole);
    }

    #[test]
    fn valid_tap_in_noise_is_parsed_the_same_in_one_read_or_many(
        cases in proptest::collection::vec(case(), 0..8),
        noise in proptest::collection::vec((noise_line(), any::<Index>()), 0..12),
        crlf in proptest::collection::vec(any::<bool>(), 64),
        plan_last in any::<bool>(),
        splits in proptest::collection::vec(any::<Index>(), 0..12),
    ) {
        // The TAP lines as rpibsp-verify prints them (plan first or last).
        let mut tap_text = String::new();
        if !plan_last {
            tap_text.push_str(&tap::plan(cases.len()));
        }
        for (i, c) in cases.iter().enumerate() {
            tap_text.push_str(&tap::render_case(i + 1, c));
        }
        if plan_last {
            tap_text.push_str(&tap::plan(cases.len()));
        }
        let mut lines: Vec<Vec<u8>> = tap_text.lines().map(|l| l.as_bytes().to_vec()).collect();
        // Noise lines in between, anywhere.
        for (line, at) in noise {
            let at = at.index(lines.len() + 1);
            lines.insert(at, line);
        }
        let mut bytes = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            bytes.extend_from_slice(l);
            bytes.extend_from_slice(if crlf[i % crlf.len()] { b"\r\n" } else { b"\n" });
        }

        let whole = tap::parse_bytes(&bytes);
        prop_assert_eq!(whole.plan, Some(cases.len()));
        prop_assert!(whole.problems().is_empty(), "{:?}", whole.problems());
        let got: Vec<(String, Outcome)> =
            whole.tests.iter().map(|t| (t.name.clone(), t.outcome.clone())).collect();
        let want: Vec<(String, Outcome)> = cases.iter().map(expected).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(parse_in_reads(&bytes, &splits), whole);
    }
}
