//! Test results shared by `rpibsp-verify` (on the board) and `rpibsp-hil` (on the laptop):
//! one [`Case`] per check, rendered as TAP (the project's test protocol) or JUnit XML, and a
//! TAP parser so the laptop side can turn the board's TAP output back into cases.

use std::fmt::Write as _;
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

/// Escapes text for XML attribute values and element content and drops the characters that
/// XML 1.0 cannot carry at all (most control characters appear in raw console logs).
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(ch),
            '\r' => {}
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// TAP rendering and parsing.
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

    /// Renders cases as TAP: the plan, one line per case, `# ` lines with the reasons and
    /// details. Skips use the `# SKIP reason` directive.
    pub fn render(cases: &[Case]) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "1..{}", cases.len());
        for (i, case) in cases.iter().enumerate() {
            let n = i + 1;
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
        /// Pass, fail or skip (TODO tests count as passes, as TAP says).
        pub outcome: Outcome,
        /// `#` lines that followed the test line.
        pub diagnostics: Vec<String>,
    }

    /// A parsed TAP stream.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct TapDocument {
        /// The plan (`1..N`), if one was seen.
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

    fn parse_test_line(line: &str) -> Option<TapTest> {
        let (ok, rest) = if let Some(r) = line.strip_prefix("not ok") {
            (false, r)
        } else if let Some(r) = line.strip_prefix("ok") {
            (true, r)
        } else {
            return None;
        };
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        let rest = rest.trim_start();
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        let number = rest[..digits].parse().ok();
        let rest = rest[digits..].trim_start();
        let rest = rest.strip_prefix("- ").unwrap_or(rest);
        // Split off an unescaped `#` directive.
        let mut split = None;
        let bytes = rest.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'#' && (i == 0 || bytes[i - 1] != b'\\') {
                split = Some(i);
                break;
            }
        }
        let (name, directive) = match split {
            Some(i) => (&rest[..i], Some(rest[i + 1..].trim())),
            None => (rest, None),
        };
        let name = unescape_name(name.trim());
        let outcome = match directive {
            Some(d) if d.len() >= 4 && d[..4].eq_ignore_ascii_case("skip") => {
                let reason = d[4..].trim_start_matches(|c: char| c.is_ascii_alphabetic());
                Outcome::Skip(reason.trim().to_string())
            }
            Some(d) if d.len() >= 4 && d[..4].eq_ignore_ascii_case("todo") => Outcome::Pass,
            _ if ok => Outcome::Pass,
            _ => Outcome::Fail(String::new()),
        };
        Some(TapTest {
            number,
            name,
            outcome,
            diagnostics: Vec::new(),
        })
    }

    /// Parses TAP from text that may contain unrelated lines (a console with kernel
    /// messages): those are ignored. A failed test's reason is its first diagnostic line.
    pub fn parse(text: &str) -> TapDocument {
        let mut doc = TapDocument::default();
        for raw in text.lines() {
            let line = raw.trim_end_matches('\r').trim_start();
            if let Some(t) = parse_test_line(line) {
                doc.tests.push(t);
            } else if let Some(diag) = line.strip_prefix('#') {
                if let Some(last) = doc.tests.last_mut() {
                    last.diagnostics.push(diag.trim_start().to_string());
                }
            } else if let Some(plan) = line.strip_prefix("1..") {
                let digits: String = plan.chars().take_while(|c| c.is_ascii_digit()).collect();
                if let Ok(n) = digits.parse() {
                    doc.plan = Some(n);
                }
            } else if let Some(reason) = line.strip_prefix("Bail out!") {
                doc.bail_out = Some(reason.trim().to_string());
            }
        }
        for t in &mut doc.tests {
            if let Outcome::Fail(reason) = &mut t.outcome {
                *reason = t
                    .diagnostics
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "reported `not ok`".to_string());
            }
        }
        doc
    }
}

/// JUnit XML rendering (the flavour Jenkins, GitLab and most CI systems read).
pub mod junit {
    use super::{xml_escape, Case, Counts, Outcome};
    use std::fmt::Write as _;
    use std::time::Duration;

    /// A test suite to render.
    #[derive(Clone, Debug, Default)]
    pub struct Suite<'a> {
        /// Suite name.
        pub name: &'a str,
        /// The cases.
        pub cases: &'a [Case],
        /// ISO 8601 start time, if known.
        pub timestamp: Option<String>,
        /// Total duration, if known.
        pub duration: Option<Duration>,
        /// `<properties>`.
        pub properties: Vec<(String, String)>,
        /// `<system-out>` text (e.g. a console log excerpt).
        pub system_out: Option<String>,
    }

    fn secs(d: Option<Duration>) -> String {
        format!("{:.3}", d.unwrap_or_default().as_secs_f64())
    }

    /// Renders one `<testsuites>` document containing `suite`.
    pub fn render(suite: &Suite<'_>) -> String {
        let counts = Counts::of(suite.cases);
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let name = xml_escape(suite.name);
        let total_time = suite.duration.or_else(|| {
            Some(
                suite
                    .cases
                    .iter()
                    .filter_map(|c| c.duration)
                    .sum::<Duration>(),
            )
        });
        let _ = writeln!(
            out,
            "<testsuites name=\"{name}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">",
            counts.total(),
            counts.failed,
            counts.skipped,
            secs(total_time)
        );
        let _ = write!(
            out,
            "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\"",
            counts.total(),
            counts.failed,
            counts.skipped,
            secs(total_time)
        );
        if let Some(ts) = &suite.timestamp {
            let _ = write!(out, " timestamp=\"{}\"", xml_escape(ts));
        }
        out.push_str(">\n");
        if !suite.properties.is_empty() {
            out.push_str("    <properties>\n");
            for (k, v) in &suite.properties {
                let _ = writeln!(
                    out,
                    "      <property name=\"{}\" value=\"{}\"/>",
                    xml_escape(k),
                    xml_escape(v)
                );
            }
            out.push_str("    </properties>\n");
        }
        for case in suite.cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                xml_escape(&case.group),
                xml_escape(&case.name),
                secs(case.duration)
            );
            let details = case.details.join("\n");
            match &case.outcome {
                Outcome::Pass if details.is_empty() => out.push_str("/>\n"),
                Outcome::Pass => {
                    let _ = write!(
                        out,
                        ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                        xml_escape(&details)
                    );
                }
                Outcome::Fail(why) => {
                    let first = why.lines().next().unwrap_or("failed");
                    let mut body = why.clone();
                    if !details.is_empty() {
                        body.push('\n');
                        body.push_str(&details);
                    }
                    let _ = write!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"failure\">{}</failure>\n    </testcase>\n",
                        xml_escape(first),
                        xml_escape(&body)
                    );
                }
                Outcome::Skip(why) => {
                    let _ = write!(
                        out,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        xml_escape(why)
                    );
                }
            }
        }
        if let Some(text) = &suite.system_out {
            let _ = writeln!(out, "    <system-out>{}</system-out>", xml_escape(text));
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
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
