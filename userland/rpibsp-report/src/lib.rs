//! Test results shared by `rpibsp-verify` (on the board) and `rpibsp-hil` (on the laptop):
//! one [`Case`] per check, rendered as TAP (the project's test protocol) or JUnit XML, and a
//! TAP parser so the laptop side can turn the board's TAP output back into cases, also while
//! it is still arriving ([`tap::TapStream`]).

use std::time::Duration;

/// Result of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// The check failed; the text says what is wrong.
    Fail(String),
    /// The check could not be run; the text says why. Never counted as a pass.
    Skip(String),
}

impl Outcome {
    /// Short upper-case label: PASS, FAIL or SKIP.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail(_) => "FAIL",
            Outcome::Skip(_) => "SKIP",
        }
    }

    /// The failure or skip reason.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Pass => None,
            Outcome::Fail(r) | Outcome::Skip(r) => Some(r),
        }
    }
}

/// One check and its result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Group of the check (JUnit `classname`), e.g. `led`.
    pub group: String,
    /// Name of the check.
    pub name: String,
    /// The result.
    pub outcome: Outcome,
    /// Extra lines: figures, what was found, hints.
    pub details: Vec<String>,
    /// How long the check took, if measured.
    pub duration: Option<Duration>,
}

impl Case {
    /// A case without details.
    pub fn new(group: impl Into<String>, name: impl Into<String>, outcome: Outcome) -> Self {
        Case {
            group: group.into(),
            name: name.into(),
            outcome,
            details: Vec::new(),
            duration: None,
        }
    }

    /// `group: name`.
    pub fn full_name(&self) -> String {
        if self.group.is_empty() {
            self.name.clone()
        } else {
            format!("{}: {}", self.group, self.name)
        }
    }
}

/// Counts of a list of cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Passed cases.
    pub passed: usize,
    /// Failed cases.
    pub failed: usize,
    /// Skipped cases.
    pub skipped: usize,
}

impl Counts {
    /// Counts `cases`.
    pub fn of(cases: &[Case]) -> Self {
        let mut c = Counts::default();
        for case in cases {
            match case.outcome {
                Outcome::Pass => c.passed += 1,
                Outcome::Fail(_) => c.failed += 1,
                Outcome::Skip(_) => c.skipped += 1,
            }
        }
        c
    }

    /// Total number of cases.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped
    }

    /// True when nothing failed and (unless `allow_skip`) nothing was skipped.
    pub fn success(&self, allow_skip: bool) -> bool {
        self.failed == 0 && (allow_skip || self.skipped == 0) && self.total() > 0
    }

    /// `N passed, N failed, N skipped`.
    pub fn line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// TAP rendering and parsing.
///
/// The parser is line based and never indexes into the middle of a line, so any input is
/// fine: console text decoded lossily from serial bytes, with line noise, kernel messages and
/// broken multibyte characters, arriving in reads that split lines (and characters) anywhere.
pub mod tap {
    use super::{Case, Outcome};
    use std::fmt::Write as _;

    fn escape_name(name: &str) -> String {
        name.replace('\\', "\\\\")
            .replace('#', "\\#")
            .replace(['\n', '\r'], " ")
    }

    fn unescape_name(name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        let mut chars = name.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The plan line for `n` tests, `1..n` with its newline.
    pub fn plan(n: usize) -> String {
        format!("1..{n}\n")
    }

    /// One case as TAP: its test line (number `n`) and the `# ` lines with the reason and
    /// details. Skips use the `# SKIP reason` directive.
    pub fn render_case(n: usize, case: &Case) -> String {
        let mut out = String::new();
        let name = escape_name(&case.full_name());
        match &case.outcome {
            Outcome::Pass => {
                let _ = writeln!(out, "ok {n} - {name}");
            }
            Outcome::Fail(why) => {
                let _ = writeln!(out, "not ok {n} - {name}");
                for line in why.lines() {
                    let _ = writeln!(out, "# {line}");
                }
            }
            Outcome::Skip(why) => {
                let why = why.replace(['\n', '\r'], " ");
                let _ = writeln!(out, "ok {n} - {name} # SKIP {why}");
            }
        }
        for detail in &case.details {
            for line in detail.lines() {
                let _ = writeln!(out, "#   {line}");
            }
        }
        out
    }

    /// Renders cases as TAP: the plan, then [`render_case`] for each case.
    pub fn render(cases: &[Case]) -> String {
        let mut out = plan(cases.len());
        for (i, case) in cases.iter().enumerate() {
            out.push_str(&render_case(i + 1, case));
        }
        out
    }

    /// One parsed test line.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TapTest {
        /// Test number as printed.
        pub number: Option<usize>,
        /// Description (after `- `).
        pub name: String,
        /// Pass, fail or skip (TODO tests count as passes, as TAP says). A failure's reason
        /// is its first diagnostic line.
        pub outcome: Outcome,
        /// `#` lines that followed the test line.
        pub diagnostics: Vec<String>,
    }

    /// A parsed TAP stream.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct TapDocument {
        /// The plan (`1..N`), if one was seen (TAP allows it first or last).
        pub plan: Option<usize>,
        /// The test lines in order.
        pub tests: Vec<TapTest>,
        /// `Bail out!` reason, if the producer gave up.
        pub bail_out: Option<String>,
    }

    impl TapDocument {
        /// Problems with the stream as a whole: missing or wrong plan, bail out.
        pub fn problems(&self) -> Vec<String> {
            let mut p = Vec::new();
            if let Some(reason) = &self.bail_out {
                p.push(format!("producer bailed out: {reason}"));
            }
            match self.plan {
                None => p.push("no TAP plan (1..N) in the output".to_string()),
                Some(n) if n != self.tests.len() => p.push(format!(
                    "TAP plan says {n} tests but {} were reported",
                    self.tests.len()
                )),
                Some(_) => {}
            }
            p
        }
    }

    /// Reason of a failed test that printed no diagnostic line.
    const NOT_OK: &str = "reported `not ok`";

    /// Whether a directive (the text after an unescaped `#`) starts with `word` (ASCII,
    /// case-insensitive). Compares bytes, so a multibyte character anywhere is harmless.
    fn directive_is(d: &str, word: &str) -> bool {
        d.as_bytes()
            .get(..word.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(word.as_bytes()))
    }

    fn parse_test_line(line: &str) -> Option<TapTest> {
        let (ok, rest) = match line.strip_prefix("not ok") {
            Some(r) => (false, r),
            None => (true, line.strip_prefix("ok")?),
        };
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        let rest = rest.trim_start();
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, rest) = rest.split_at(digits_end);
        let number = digits.parse().ok();
        let rest = rest.trim_start();
        let rest = rest.strip_prefix("- ").unwrap_or(rest);
        // Split off the first unescaped `#` (a directive).
        let mut split = None;
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            if c == '#' && !escaped {
                split = Some(i);
                break;
            }
            escaped = c == '\\' && !escaped;
        }
        let (name, directive) = match split {
            Some(i) => {
                let (name, hash_and_directive) = rest.split_at(i);
                (name, hash_and_directive.strip_prefix('#').map(str::trim))
            }
            None => (rest, None),
        };
        let name = unescape_name(name.trim());
        let outcome = match directive {
            Some(d) if directive_is(d, "skip") => {
                // "SKIP" or "skipped", then the reason: drop the word, whatever its length.
                let reason = d.trim_start_matches(|c: char| c.is_ascii_alphabetic());
                Outcome::Skip(reason.trim().to_string())
            }
            Some(d) if directive_is(d, "todo") => Outcome::Pass,
            _ if ok => Outcome::Pass,
            _ => Outcome::Fail(NOT_OK.to_string()),
        };
        Some(TapTest {
            number,
            name,
            outcome,
            diagnostics: Vec::new(),
        })
    }

    /// What a line was, for [`TapStream::push_line`] callers.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum LineKind {
        /// A test line (`ok` / `not ok`): a new entry in [`TapStream::tests`].
        Test,
        /// A `#` line, added to the last test (if any).
        Diagnostic,
        /// The plan.
        Plan,
        /// `Bail out!`.
        BailOut,
        /// Anything else (console noise, kernel messages, empty lines): ignored.
        Other,
    }

    /// An incremental TAP parser: feed it bytes as they arrive (in reads of any size, split
    /// anywhere, even inside a multibyte character) or whole lines, and look at the tests
    /// parsed so far at any time. Bytes are decoded lossily one complete line at a time, so
    /// the result does not depend on how the input was split.
    #[derive(Clone, Debug, Default)]
    pub struct TapStream {
        doc: TapDocument,
        partial: Vec<u8>,
    }

    impl TapStream {
        /// An empty stream.
        pub fn new() -> Self {
            Self::default()
        }

        /// Feeds raw bytes; complete lines are parsed, the rest waits for its newline.
        /// Returns how many test lines were completed.
        pub fn push_bytes(&mut self, bytes: &[u8]) -> usize {
            let mut tests = 0;
            let mut rest = bytes;
            while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
                let (head, tail) = rest.split_at(nl);
                rest = &tail[1..];
                let line = if self.partial.is_empty() {
                    String::from_utf8_lossy(head).into_owned()
                } else {
                    self.partial.extend_from_slice(head);
                    let whole = String::from_utf8_lossy(&self.partial).into_owned();
                    self.partial.clear();
                    whole
                };
                if self.push_line(&line) == LineKind::Test {
                    tests += 1;
                }
            }
            self.partial.extend_from_slice(rest);
            tests
        }

        /// Feeds one complete line (without its newline; a trailing `\r` is ignored).
        pub fn push_line(&mut self, raw: &str) -> LineKind {
            let line = raw.trim_end_matches('\r').trim_start();
            if let Some(t) = parse_test_line(line) {
                self.doc.tests.push(t);
                LineKind::Test
            } else if let Some(diag) = line.strip_prefix('#') {
                if let Some(last) = self.doc.tests.last_mut() {
                    let diag = diag.trim_start().to_string();
                    if last.diagnostics.is_empty() {
                        if let Outcome::Fail(reason) = &mut last.outcome {
                            reason.clone_from(&diag);
                        }
                    }
                    last.diagnostics.push(diag);
                }
                LineKind::Diagnostic
            } else if let Some(plan) = line.strip_prefix("1..") {
                let end = plan
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(plan.len());
                match plan[..end].parse() {
                    Ok(n) => {
                        self.doc.plan = Some(n);
                        LineKind::Plan
                    }
                    Err(_) => LineKind::Other,
                }
            } else if let Some(reason) = line.strip_prefix("Bail out!") {
                self.doc.bail_out = Some(reason.trim().to_string());
                LineKind::BailOut
            } else {
                LineKind::Other
            }
        }

        /// The tests parsed from the complete lines so far.
        pub fn tests(&self) -> &[TapTest] {
            &self.doc.tests
        }

        /// The document of the complete lines so far (a line still waiting for its newline
        /// is not part of it).
        pub fn document(&self) -> &TapDocument {
            &self.doc
        }

        /// Ends the stream: a last line without newline is parsed too.
        pub fn finish(mut self) -> TapDocument {
            if !self.partial.is_empty() {
                let line = String::from_utf8_lossy(&self.partial).into_owned();
                self.partial.clear();
                self.push_line(&line);
            }
            self.doc
        }
    }

    /// Parses TAP from text that may contain unrelated lines (a console with kernel
    /// messages): those are ignored. A failed test's reason is its first diagnostic line.
    pub fn parse(text: &str) -> TapDocument {
        parse_bytes(text.as_bytes())
    }

    /// [`parse`] for raw bytes (decoded lossily, line by line).
    pub fn parse_bytes(bytes: &[u8]) -> TapDocument {
        let mut stream = TapStream::new();
        stream.push_bytes(bytes);
        stream.finish()
    }
}

/// JUnit XML rendering (the flavour Jenkins, GitLab and most CI systems read), with
/// [quick-junit](https://docs.rs/quick-junit): one `<testsuites>` document holding one
/// `<testsuite>`; a case's details go to its `<system-out>` (passes) or after the reason in
/// its `<failure>` text.
pub mod junit {
    use super::{Case, Outcome};
    use std::time::{Duration, SystemTime};

    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite, XmlString};

    /// A test suite to render.
    #[derive(Clone, Debug, Default)]
    pub struct Suite<'a> {
        /// Suite name.
        pub name: &'a str,
        /// The cases.
        pub cases: &'a [Case],
        /// Start time, if known (written as RFC 3339, UTC).
        pub timestamp: Option<SystemTime>,
        /// Total duration, if known (else the sum of the cases').
        pub duration: Option<Duration>,
        /// `<properties>`.
        pub properties: Vec<(String, String)>,
        /// `<system-out>` text (e.g. a console log excerpt).
        pub system_out: Option<String>,
    }

    /// The XML could not be produced.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot render JUnit XML: {0}")]
    pub struct Error(#[from] quick_junit::SerializeError);

    /// Text as XML can carry it. quick-junit's [`XmlString`] removes ANSI escapes and the
    /// control characters XML 1.0 forbids; before that, carriage returns are dropped (console
    /// line endings), tabs become spaces (the escape stripper would drop them and glue words
    /// together) and the two noncharacters XML forbids too (U+FFFE, U+FFFF) are dropped.
    pub fn xml_text(text: &str) -> XmlString {
        let cleaned: String = text
            .chars()
            .filter(|c| !matches!(c, '\r' | '\u{fffe}' | '\u{ffff}'))
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        XmlString::new(cleaned)
    }

    fn test_case(case: &Case) -> TestCase {
        let details = case.details.join("\n");
        let status = match &case.outcome {
            Outcome::Pass => TestCaseStatus::success(),
            Outcome::Fail(why) => {
                let mut body = why.clone();
                if !details.is_empty() {
                    body.push('\n');
                    body.push_str(&details);
                }
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(xml_text(why.lines().next().unwrap_or("failed")))
                    .set_type("failure")
                    .set_description(xml_text(&body));
                s
            }
            Outcome::Skip(why) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(xml_text(why));
                s
            }
        };
        let mut tc = TestCase::new(xml_text(&case.name), status);
        tc.set_classname(xml_text(&case.group))
            .set_time(case.duration.unwrap_or_default());
        if case.outcome == Outcome::Pass && !details.is_empty() {
            tc.set_system_out(xml_text(&details));
        }
        tc
    }

    /// Renders one `<testsuites>` document containing `suite`.
    pub fn render(suite: &Suite<'_>) -> Result<String, Error> {
        let total_time = suite
            .duration
            .unwrap_or_else(|| suite.cases.iter().filter_map(|c| c.duration).sum());
        let mut ts = TestSuite::new(xml_text(suite.name));
        ts.set_time(total_time);
        if let Some(t) = suite.timestamp {
            ts.set_timestamp(chrono::DateTime::<chrono::Utc>::from(t));
        }
        for (k, v) in &suite.properties {
            ts.add_property((xml_text(k), xml_text(v)));
        }
        ts.add_test_cases(suite.cases.iter().map(test_case));
        if let Some(text) = &suite.system_out {
            ts.set_system_out(xml_text(text));
        }
        let mut report = Report::new(xml_text(suite.name));
        report.set_time(total_time);
        report.add_test_suite(ts);
        Ok(report.to_string()?)
    }
}

/// Formats a duration for people: `850 ms`, `12.3 s`, `2 min 05 s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min {:02} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}
