//! Rendering a [`Report`]: human-readable text, JSON, TAP, JUnit XML.

use std::fmt::Write as _;
use std::str::FromStr;

use rpibsp_report::{human_duration, junit, tap, Outcome};

use crate::Report;

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

/// Renders the report.
pub fn render(report: &Report, format: Format, allow_skip: bool) -> String {
    match format {
        Format::Human => human(report, allow_skip),
        Format::Json => json(report, allow_skip),
        Format::Tap => tap_text(report),
        Format::Junit => junit::render(&junit::Suite {
            name: "rpibsp-verify",
            cases: &report.cases,
            duration: Some(report.duration),
            properties: vec![
                ("mode".into(), report.mode.as_str().into()),
                ("mode_reason".into(), report.mode_reason.clone()),
                ("board".into(), report.board.join(", ")),
            ],
            ..Default::default()
        }),
    }
}

fn tap_text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# rpibsp-verify {}: mode {}",
        env!("CARGO_PKG_VERSION"),
        report.mode.as_str()
    );
    let _ = writeln!(out, "# {}", report.mode_reason);
    if !report.board.is_empty() {
        let _ = writeln!(out, "# board: {}", report.board.join(", "));
    }
    out.push_str(&tap::render(&report.cases));
    let _ = writeln!(out, "# {}", report.counts().line());
    out
}

fn human(report: &Report, allow_skip: bool) -> String {
    let mut out = String::new();
    let board = if report.board.is_empty() {
        "unknown".to_string()
    } else {
        report.board.join(", ")
    };
    let _ = writeln!(
        out,
        "rpibsp-verify {} on {board}",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "mode: {} ({})",
        report.mode.as_str(),
        report.mode_reason
    );
    let mut group = "";
    for case in &report.cases {
        if case.group != group {
            group = &case.group;
            let _ = writeln!(out, "\n{group}");
        }
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
    let counts = report.counts();
    let verdict = if counts.success(allow_skip) {
        "PASSED"
    } else {
        "FAILED"
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
