//! Property tests of the console parsing against line noise: random bytes (invalid UTF-8,
//! multibyte characters, escape sequences, control characters) must never panic, and the
//! on-board TAP output framed by the command markers, with noise and kernel messages (also in
//! the middle of lines) around it, must give the same lines and the same TAP results whether
//! it arrives in one read or in many, split anywhere (also inside a character).

use proptest::prelude::*;
use proptest::sample::{select, Index};

use rpibsp_hil::protocol::{
    begin_token, end_prefix, frame, kernel_stamp, line_at, looks_like_prompt, parse_framed,
    printable, split_kernel_lines, tail, ConsoleLine, FrameStream, LineSplitter,
};
use rpibsp_report::tap::{self, TapStream};
use rpibsp_report::{Case, Outcome};

fn noise_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..16),
        any::<String>().prop_map(String::into_bytes),
        select(vec![
            &b"\r\n"[..],
            b"\n",
            b"\r",
            b"[",
            b"[   12.345678] ",
            b"[ 1.000",
            b"]",
            b"\xc3",
            b"\xc3\xa9",
            b"\xf0\x9f\x98\x80",
            b"\xe2\x82",
            b"\x1b[0;31m",
            b"\x1b[6n",
            b"\x1b]0;title\x07",
            b"\x1b",
            b"\0",
            b"~ # ",
            b"Kernel panic - not syncing",
            b"__RPIBSP_BEGIN_n_1__",
            b"__RPIBSP_END_n_1_",
            b"__RPIBSP_END_n_1_0__",
            b"ok 1 - a # SKIP \xc3",
        ])
        .prop_map(<[u8]>::to_vec),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn cuts(len: usize, splits: &[Index]) -> Vec<usize> {
    let mut c: Vec<usize> = splits.iter().map(|i| i.index(len + 1)).collect();
    c.push(len);
    c.sort_unstable();
    c
}

fn split_lines_in_reads(bytes: &[u8], splits: &[Index]) -> Vec<ConsoleLine> {
    let mut s = LineSplitter::new();
    let mut lines = Vec::new();
    let mut at = 0;
    for cut in cuts(bytes.len(), splits) {
        lines.extend(s.push(&bytes[at..cut]));
        at = cut;
    }
    lines.extend(s.finish());
    lines
}

fn outputs(lines: &[ConsoleLine]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| match l {
            ConsoleLine::Output(o) => Some(o.clone()),
            ConsoleLine::Kernel(_) => None,
        })
        .collect()
}

fn kernels(lines: &[ConsoleLine]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| match l {
            ConsoleLine::Kernel(k) => Some(k.clone()),
            ConsoleLine::Output(_) => None,
        })
        .collect()
}

fn name_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            any::<char>(),
            select(vec![
                '#',
                '\\',
                ' ',
                ':',
                '[',
                ']',
                '.',
                '\u{e9}',
                '\u{1f600}'
            ]),
        ]
        .prop_filter("one line", |c| *c != '\n' && *c != '\r'),
        0..20,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn case() -> impl Strategy<Value = Case> {
    let outcome = prop_oneof![
        Just(Outcome::Pass),
        name_text().prop_map(Outcome::Fail),
        name_text().prop_map(Outcome::Skip),
    ];
    ("[a-z]{1,8}", name_text(), outcome)
        .prop_map(|(group, name, outcome)| Case::new(group, name, outcome))
}

/// A console line that is no TAP: it starts with a character no TAP line starts with.
fn noise_line() -> impl Strategy<Value = Vec<u8>> {
    (
        select(vec!["~", "x", "\u{e9}", "\u{1b}", "\u{fffd}", ">", "\0"]),
        proptest::collection::vec(
            any::<u8>().prop_filter("no newline, no marker start", |b| {
                *b != b'\n' && *b != b'_' && *b != b'['
            }),
            0..30,
        ),
    )
        .prop_map(|(first, rest)| [first.as_bytes(), &rest].concat())
}

/// What happens to one line of rpibsp-verify's output on the way.
#[derive(Clone, Debug)]
enum Mess {
    Clean,
    /// A kernel message before the line.
    KernelBefore(u32),
    /// A kernel message in the middle of the line, at this character.
    KernelInside(Index, u32),
    /// A noise line before it.
    NoiseBefore(Vec<u8>),
}

fn mess() -> impl Strategy<Value = Mess> {
    prop_oneof![
        3 => Just(Mess::Clean),
        1 => (1u32..99_999).prop_map(Mess::KernelBefore),
        1 => (any::<Index>(), 1u32..99_999).prop_map(|(i, n)| Mess::KernelInside(i, n)),
        1 => noise_line().prop_map(Mess::NoiseBefore),
    ]
}

fn kernel_line(n: u32) -> String {
    format!(
        "[ {:>4}.{:06}] rpibsp-button: noise {n} \u{e9}\r\n",
        n % 1000,
        n
    )
}

/// The console transcript of `rpibsp-verify --format tap` run by rpibsp-hil: the echoed
/// command, the begin marker, the TAP lines (messed up), the end marker and the prompt.
/// Returns it with the kernel lines that went into it.
fn transcript(tap_lines: &[String], mess: &[Mess], crlf: bool) -> (Vec<u8>, Vec<String>) {
    let nonce = "a1b2c3";
    let mut t = Vec::new();
    let mut kernel = Vec::new();
    t.extend_from_slice(frame("rpibsp-verify --format tap", nonce, 1).as_bytes());
    t.extend_from_slice(b"\r\n");
    t.extend_from_slice(begin_token(nonce, 1).as_bytes());
    t.extend_from_slice(b"\r\n");
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    for (i, line) in tap_lines.iter().enumerate() {
        match mess.get(i).cloned().unwrap_or(Mess::Clean) {
            Mess::Clean => t.extend_from_slice(line.as_bytes()),
            Mess::KernelBefore(n) => {
                let k = kernel_line(n);
                t.extend_from_slice(k.as_bytes());
                kernel.push(k.trim_end().to_string());
                t.extend_from_slice(line.as_bytes());
            }
            Mess::KernelInside(at, n) => {
                let chars: Vec<char> = line.chars().collect();
                let at = at.index(chars.len() + 1);
                let (a, b): (String, String) =
                    (chars[..at].iter().collect(), chars[at..].iter().collect());
                let k = kernel_line(n);
                // A kernel line after only whitespace counts as a kernel line of its own,
                // and the whitespace is lost: keep the test to real mid-line messages.
                if a.trim().is_empty() {
                    t.extend_from_slice(k.as_bytes());
                    t.extend_from_slice(line.as_bytes());
                } else {
                    t.extend_from_slice(a.as_bytes());
                    t.extend_from_slice(k.as_bytes());
                    t.extend_from_slice(b.as_bytes());
                }
                kernel.push(k.trim_end().to_string());
            }
            Mess::NoiseBefore(noise) => {
                t.extend_from_slice(&noise);
                t.extend_from_slice(eol);
                t.extend_from_slice(line.as_bytes());
            }
        }
        t.extend_from_slice(eol);
    }
    t.extend_from_slice(end_prefix(nonce, 1).as_bytes());
    t.extend_from_slice(b"1__\r\n~ # ");
    (t, kernel)
}

/// Lets `transcript` arrive in reads ending at `splits`, polling the frame stream after each
/// read as rpibsp-hil does; returns the lines it handed out.
fn stream_in_reads(bytes: &[u8], splits: &[Index]) -> (Vec<ConsoleLine>, Vec<u8>) {
    let mut buf = Vec::new();
    let mut stream = FrameStream::new("a1b2c3", 1, 0);
    let mut lines = Vec::new();
    let mut at = 0;
    for cut in cuts(bytes.len(), splits) {
        buf.extend_from_slice(&bytes[at..cut]);
        at = cut;
        lines.extend(stream.poll(&buf));
        if let Some(f) = parse_framed(&buf, "a1b2c3", 1, 0) {
            lines.extend(stream.finish(&buf, &f));
            return (lines, f.raw);
        }
    }
    panic!("the frame never completed");
}

proptest! {
    // No regression files in the source tree; a failure prints its minimal input.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_console_bytes_never_panic(
        bytes in noise_bytes(),
        splits in proptest::collection::vec(any::<Index>(), 0..12),
        from in any::<Index>(),
    ) {
        let from = from.index(bytes.len() + 2);
        let (clean, kernel) = split_kernel_lines(&bytes);
        // The splitter gives the same lines in any reads.
        let lines = split_lines_in_reads(&bytes, &splits);
        // (Trailing empty lines are not significant on either side.)
        let joined = outputs(&lines).join("\n");
        prop_assert_eq!(joined.trim_end_matches('\n'), clean.trim_end_matches('\n'));
        prop_assert_eq!(kernels(&lines), kernel);
        let _ = parse_framed(&bytes, "n", 1, from);
        let mut stream = FrameStream::new("n", 1, from);
        let _ = stream.poll(&bytes);
        let _ = tail(&bytes, 5);
        let _ = looks_like_prompt(&bytes, from);
        let _ = line_at(&bytes, "Kernel panic", from);
        let _ = line_at(&bytes, "\u{e9}", from);
        let text = String::from_utf8_lossy(&bytes);
        let _ = kernel_stamp(&text);
        let p = printable(&text);
        prop_assert!(!p.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        let _ = tap::parse(&clean);
    }

    #[test]
    fn framed_tap_in_noise_gives_the_same_results_in_one_read_or_many(
        cases in proptest::collection::vec(case(), 1..8),
        mess in proptest::collection::vec(mess(), 0..12),
        crlf in any::<bool>(),
        splits in proptest::collection::vec(any::<Index>(), 0..16),
    ) {
        let mut tap_text = String::from("# rpibsp-verify 0.1.0: mode emulated\n");
        for (i, c) in cases.iter().enumerate() {
            tap_text.push_str(&tap::render_case(i + 1, c));
        }
        tap_text.push_str(&tap::plan(cases.len()));
        let tap_lines: Vec<String> = tap_text.lines().map(str::to_string).collect();
        let (bytes, kernel_sent) = transcript(&tap_lines, &mess, crlf);

        let (one_read, raw) = stream_in_reads(&bytes, &[]);
        let (many_reads, raw2) = stream_in_reads(&bytes, &splits);
        prop_assert_eq!(&raw, &raw2);
        prop_assert_eq!(&one_read, &many_reads);

        // The streamed lines are exactly the finished output's lines.
        let (clean, kernel) = split_kernel_lines(&raw);
        prop_assert_eq!(outputs(&many_reads).join("\n"), clean.trim_end_matches('\n'));
        prop_assert_eq!(kernels(&many_reads), kernel.clone());
        prop_assert_eq!(kernel, kernel_sent);

        // And the TAP: from the streamed lines (as rpibsp-hil takes it), from the finished
        // output, and from the TAP as printed are all the same.
        let mut s = TapStream::new();
        for line in outputs(&many_reads) {
            s.push_line(&line);
        }
        let streamed = s.finish();
        let printed = tap::parse(&tap_text);
        prop_assert_eq!(&streamed, &tap::parse(&clean));
        prop_assert_eq!(&streamed.tests, &printed.tests);
        prop_assert_eq!(streamed.plan, Some(cases.len()));
        prop_assert!(streamed.problems().is_empty(), "{:?}", streamed.problems());
    }
}
