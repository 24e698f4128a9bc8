"""Parses the TAP that `rpibsp-verify --format tap` prints on the board.

rpibsp-verify prints one test line per check as the check completes (`ok N - group: name`,
`not ok N - group: name`, `ok N - group: name # SKIP reason`), `#` diagnostics after a line, and the
plan `1..N` at the end (TAP allows it first or last). The text comes back through a serial
console, so the parser is lenient: carriage returns, leading blanks and lines that are not TAP
(kernel messages, the shell) are ignored; a test line may lack its number or its " - ". A name
escapes `#` and `\\` with a backslash (rpibsp-report's escape_name); that is undone.

Only the standard library: the suite's self-test imports it without labgrid.
"""

import re
from dataclasses import dataclass, field
from typing import List, Optional

_TEST = re.compile(r"^(not ok|ok)\b(?:\s+(\d+))?(?:\s*-)?\s*(.*)$")
_PLAN = re.compile(r"^1\.\.(\d+)\b")
# The directive starts at the first unescaped '#'.
_DIRECTIVE = re.compile(r"(?<!\\)#\s*(SKIP|TODO)\S*\s*(.*)$", re.IGNORECASE)
_UNESCAPED_HASH = re.compile(r"(?<!\\)#")
# rpibsp-verify's closing comment ("47 passed, 3 failed, 0 skipped", maybe "(interrupted by
# SIGTERM)"), after the last test line whether the plan comes first or last: not a diagnostic.
_SUMMARY = re.compile(r"^\d+ passed, \d+ failed, \d+ skipped\b")


@dataclass
class TapCase:
    """One test line and the diagnostics after it."""

    number: Optional[int]
    name: str
    outcome: str  # "pass", "fail" or "skip"
    reason: str = ""  # SKIP/TODO reason
    todo: bool = False
    diagnostics: List[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """What a failure or skip says: the reason, then the diagnostics."""
        lines = [self.reason] if self.reason else []
        lines += self.diagnostics
        return "\n".join(lines)


@dataclass
class TapDocument:
    cases: List[TapCase] = field(default_factory=list)
    plan: Optional[int] = None
    bail_out: Optional[str] = None
    comments: List[str] = field(default_factory=list)  # '#' lines before the first test
    summary: Optional[str] = None  # the producer's "N passed, N failed, N skipped" comment

    def problems(self) -> List[str]:
        """What is wrong with the stream as a whole (empty: complete and consistent)."""
        out = []
        if self.bail_out is not None:
            out.append(f"Bail out! {self.bail_out}")
        if self.plan is None:
            out.append("no plan line (1..N): the run did not finish")
        elif self.plan != len(self.cases):
            out.append(f"the plan says {self.plan} checks, {len(self.cases)} test lines arrived")
        if self.summary:
            said = [int(x) for x in re.findall(r"\d+", self.summary)[:3]]
            got = [sum(c.outcome == o for c in self.cases) for o in ("pass", "fail", "skip")]
            if said != got:
                out.append(f"the summary says '{self.summary}', the test lines give "
                           f"{got[0]} passed, {got[1]} failed, {got[2]} skipped")
        numbers = [c.number for c in self.cases if c.number is not None]
        if numbers and numbers != list(range(1, len(numbers) + 1)):
            out.append(f"test numbers are not 1..{len(numbers)} in order: {numbers}")
        return out


def _unescape(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name)


def parse(text: str) -> TapDocument:
    doc = TapDocument()
    current = None
    for raw in text.splitlines():
        line = raw.replace("\r", "").strip()
        if not line:
            continue
        m = _TEST.match(line)
        if m:
            status, number, rest = m.groups()
            reason, todo, skip = "", False, False
            d = _DIRECTIVE.search(rest)
            if d:
                kind, reason = d.group(1).upper(), d.group(2).strip()
                skip, todo = kind == "SKIP", kind == "TODO"
                rest = rest[: d.start()]
            else:
                # A plain comment after the name ("ok 3 - x # note") is not part of the name.
                h = _UNESCAPED_HASH.search(rest)
                if h:
                    rest = rest[: h.start()]
            name = _unescape(rest.strip())
            if status == "not ok":
                outcome = "pass" if todo else "fail"
            else:
                outcome = "skip" if skip else "pass"
            current = TapCase(int(number) if number else None, name, outcome, reason, todo)
            doc.cases.append(current)
            continue
        m = _PLAN.match(line)
        if m:
            doc.plan = int(m.group(1))
            current = None  # what follows the plan (the summary) belongs to no test
            continue
        if line.startswith("Bail out!"):
            doc.bail_out = line[len("Bail out!"):].strip()
            continue
        if line.startswith("#"):
            text_ = line[1:]
            text_ = (text_[1:] if text_.startswith(" ") else text_).rstrip()
            if _SUMMARY.match(text_):
                doc.summary = text_
                current = None
            elif current is not None:
                current.diagnostics.append(text_)
            elif not doc.cases:
                doc.comments.append(text_)
            continue
        # Anything else (a kernel message, shell noise) is ignored.
    return doc


def unique_names(cases: List[TapCase]) -> List[str]:
    """The case names, made unique (a repeated name gets " (2)", " (3)", ...): pytest ids."""
    seen = {}
    out = []
    for c in cases:
        name = c.name or f"check {c.number}"
        n = seen.get(name, 0) + 1
        seen[name] = n
        out.append(name if n == 1 else f"{name} ({n})")
    return out
