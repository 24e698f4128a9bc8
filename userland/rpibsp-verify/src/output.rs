//! Writing a [`Report`]: human-readable text, JSON, TAP, JUnit XML; TAP and text while the
//! run goes ([`ReportWriter`]).

use std::fmt::Write as _;
use std::io::Write;
use std::str::FromStr;

use rpibsp_report::{human_duration, junit, tap, Case, Outcome};

use crate::interrupt::signal_name;
use crate::{Event, Mode, Report};

/// Output formats of `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For people (default).
    Human,
    /// One JSON document.
    Json,
    /// TAP, as the project's test suites print.
    Tap,
    /// JUnit XML.
    Junit,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "human" | "text" => Ok(Format::Human),
            "json" => Ok(Format::Json),
            "tap" => Ok(Format::Tap),
            "junit" | "xml" => Ok(Format::Junit),
            other => Err(format!(
                "unknown format {other:?} (human, json, tap, junit)"
            )),
        }
    }
}

/// The report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Writing failed (a full disk, a closed pipe).
    #[error("writing the report: {0}")]
    Io(#[from] std::io::Error),
    /// The JUnit XML could not be produced.
    #[error(transparent)]
    Junit(#[from] junit::Error),
}

/// Writes a report while the run goes: TAP and human-readable text case by case as the
/// checks complete (flushed after each, so a check that hangs leaves everything before it
/// on record), the summary (TAP: the plan, which TAP allows last) at the end; JSON and JUnit
/// XML are whole documents and are written at the end.
pub struct ReportWriter<W: Write> {
    out: W,
    format: Format,
    cases: usize,
    group: String,
    error: Option<std::io::Error>,
}

impl<W: Write> ReportWriter<W> {
    /// A writer of `format` to `out`.
    pub fn new(out: W, format: Format) -> Self {
        ReportWriter {
            out,
            format,
            cases: 0,
            group: String::new(),
            error: None,
        }
    }

    /// Takes one event of the run (see [`crate::run_observed`]). A write error is kept and
    /// returned by [`ReportWriter::finish`]; nothing more is written after it.
    pub fn event(&mut self, event: Event<'_>) {
        if self.error.is_some() {
            return;
        }
        let text = match (self.format, event) {
            (
                Format::Tap,
                Event::Started {
                    mode,
                    mode_reason,
                    board,
                },
            ) => tap_header(mode, mode_reason, board),
            (Format::Tap, Event::Case(case)) => {
                self.cases += 1;
                tap::render_case(self.cases, case)
            }
            (
                Format::Human,
                Event::Started {
                    mode,
                    mode_reason,
                    board,
                },
            ) => human_header(mode, mode_reason, board),
            (Format::Human, Event::Case(case)) => {
                let mut text = String::new();
                if case.group != self.group {
                    self.group.clone_from(&case.group);
                    let _ = writeln!(text, "\n{}", case.group);
                }
                human_case(&mut text, case);
                text
            }
            (Format::Json | Format::Junit, _) => return,
        };
        let written = self
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.flush());
        if let Err(e) = written {
            self.error = Some(e);
        }
    }

    /// Writes the end (summary, or the whole JSON / JUnit document) and flushes.
    pub fn finish(mut self, report: &Report, allow_skip: bool) -> Result<W, OutputError> {
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        let text = match self.format {
            Format::Tap => {
                let mut t = tap::plan(self.cases);
                let _ = writeln!(t, "# {}", summary_line(report));
                t
            }
            Format::Human => human_footer(report, allow_skip),
            Format::Json => json(report, allow_skip),
            Format::Junit => {
                let mut properties = vec![
                    ("mode".into(), report.mode.as_str().into()),
                    ("mode_reason".into(), report.mode_reason.clone()),
                    ("board".into(), report.board.join(", ")),
                ];
                if let Some(signal) = report.interrupted {
                    properties.push(("interrupted".into(), signal_name(signal)));
                }
                junit::render(&junit::Suite {
                    name: "rpibsp-verify",
                    cases: &report.cases,
                    duration: Some(report.duration),
                    properties,
                    ..Default::default()
                })?
            }
        };
        self.out.write_all(text.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Renders a finished report at once: the same text the [`ReportWriter`] writes during the
/// run.
pub fn render(report: &Report, format: Format, allow_skip: bool) -> Result<String, OutputError> {
    let mut w = ReportWriter::new(Vec::new(), format);
    w.event(Event::Started {
        mode: report.mode,
        mode_reason: &report.mode_reason,
        board: &report.board,
    });
    for case in &report.cases {
        w.event(Event::Case(case));
    }
    let bytes = w.finish(report, allow_skip)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn summary_line(report: &Report) -> String {
    match report.interrupted {
        Some(signal) => format!(
            "{} (interrupted by {})",
            report.counts().line(),
            signal_name(signal)
        ),
        None => report.counts().line(),
    }
}

fn tap_header(mode: Mode, mode_reason: &str, board: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# rpibsp-verify {}: mode {}",
        env!("CARGO_PKG_VERSION"),
        mode.as_str()
    );
    let _ = writeln!(out, "# {mode_reason}");
    if !board.is_empty() {
        let _ = writeln!(out, "# board: {}", board.join(", "));
    }
    out
}

fn human_header(mode: Mode, mode_reason: &str, board: &[String]) -> String {
    let mut out = String::new();
    let board = if board.is_empty() {
        "unknown".to_string()
    } else {
        board.join(", ")
    };
    let _ = writeln!(
        out,
        "rpibsp-verify {} on {board}",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "mode: {} ({mode_reason})", mode.as_str());
    out
}

fn human_case(out: &mut String, case: &Case) {
    let _ = write!(out, "  {}  {}", case.outcome.label(), case.name);
    match &case.outcome {
        Outcome::Pass => {
            if let Some(first) = case.details.first() {
                let _ = write!(out, "  ({first})");
            }
            out.push('\n');
            for more in case.details.iter().skip(1) {
                let _ = writeln!(out, "        {more}");
            }
        }
        Outcome::Fail(why) | Outcome::Skip(why) => {
            out.push('\n');
            for line in why.lines() {
                let _ = writeln!(out, "        -> {line}");
            }
            for more in &case.details {
                let _ = writeln!(out, "        {more}");
            }
        }
    }
}

fn human_footer(report: &Report, allow_skip: bool) -> String {
    let mut out = String::new();
    let counts = report.counts();
    let verdict = match report.interrupted {
        Some(signal) => format!("INTERRUPTED ({})", signal_name(signal)),
        None if counts.success(allow_skip) => "PASSED".into(),
        None => "FAILED".into(),
    };
    let _ = writeln!(
        out,
        "\n{verdict}: {} in {}",
        counts.line(),
        human_duration(report.duration)
    );
    if counts.skipped > 0 && !allow_skip {
        let _ = writeln!(
            out,
            "Skipped checks count against the result; pass --allow-skip to accept them."
        );
    }
    if counts.total() == 0 {
        let _ = writeln!(out, "No check ran: see --only.");
    }
    out
}

fn json(report: &Report, allow_skip: bool) -> String {
    let counts = report.counts();
    let checks: Vec<serde_json::Value> = report
        .cases
        .iter()
        .map(|c| {
            serde_json::json!({
                "group": c.group,
                "name": c.name,
                "status": match c.outcome { Outcome::Pass => "pass", Outcome::Fail(_) => "fail", Outcome::Skip(_) => "skip" },
                "reason": c.outcome.reason(),
                "details": c.details,
                "duration_ms": c.duration.map(|d| d.as_millis() as u64),
            })
        })
        .collect();
    let doc = serde_json::json!({
        "tool": "rpibsp-verify",
        "version": env!("CARGO_PKG_VERSION"),
        "mode": report.mode.as_str(),
        "mode_reason": report.mode_reason,
        "board": report.board,
        "interrupted": report.interrupted.map(signal_name),
        "summary": {
            "passed": counts.passed,
            "failed": counts.failed,
            "skipped": counts.skipped,
            "success": counts.success(allow_skip),
            "duration_ms": report.duration.as_millis() as u64,
        },
        "checks": checks,
    });
    let mut s =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}
