"""Self-test of labgrid/rpibsp_tap.py (no board): TAP as rpibsp-verify streams it over a console."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "labgrid"))

import rpibsp_tap  # noqa: E402

STREAM = (
    "# rpibsp-verify 0.1.0: mode emulated\r\n"
    "# gpio-sim chip rpibsp-sim found\r\n"
    "ok 1 - overlay: rpibsp-button node for GPIO 17\r\n"
    "[   12.345678] random: crng init done\r\n"
    "not ok 2 - led: brightness 1 drives BCM GPIO 4 high\r\n"
    "# GPIO 4 level stayed low\r\n"
    "#   GPFSEL0: 0x00001000\r\n"
    "ok 3 - buttons: press GPIO 17 # SKIP not on the emulated board\r\n"
    "  ok 4 - devicemodel: name with \\# and \\\\ escaped\r\n"
    "not ok 5 - devicemodel: future feature # TODO not there yet\r\n"
    "ok 6 drivers: no dash\r\n"
    "1..6\r\n"
    "# 4 passed, 1 failed, 1 skipped\r\n"
)


def test_stream_parses():
    doc = rpibsp_tap.parse(STREAM)
    assert doc.plan == 6
    assert doc.problems() == []
    assert [c.outcome for c in doc.cases] == ["pass", "fail", "skip", "pass", "pass", "pass"]
    assert doc.cases[0].name == "overlay: rpibsp-button node for GPIO 17"
    assert doc.cases[1].diagnostics == ["GPIO 4 level stayed low", "  GPFSEL0: 0x00001000"]
    assert doc.cases[2].reason == "not on the emulated board"
    assert doc.cases[3].name == "devicemodel: name with # and \\ escaped"
    assert doc.cases[4].todo and doc.cases[4].reason == "not there yet"
    assert doc.cases[5].name == "drivers: no dash"
    assert doc.comments[0].startswith("rpibsp-verify")
    # the summary after the plan is nobody's diagnostic
    assert doc.cases[5].diagnostics == []


def test_plan_first_and_summary():
    # the older, non-streaming output: plan first, the summary comment after the last case
    doc = rpibsp_tap.parse("1..2\nok 1 - a\nnot ok 2 - b\n# why\n# 1 passed, 1 failed, 0 skipped\n")
    assert doc.problems() == []
    assert doc.cases[1].diagnostics == ["why"]
    assert doc.summary == "1 passed, 1 failed, 0 skipped"
    doc = rpibsp_tap.parse("ok 1 - a\nok 2 - b\n1..2\n# 1 passed, 1 failed, 0 skipped (interrupted by SIGTERM)\n")
    assert any("the summary says" in p for p in doc.problems())


def test_incomplete_stream_is_reported():
    doc = rpibsp_tap.parse("ok 1 - a\nok 2 - b\n")
    assert any("no plan" in p for p in doc.problems())
    doc = rpibsp_tap.parse("ok 1 - a\n1..2\n")
    assert any("plan says 2" in p for p in doc.problems())
    doc = rpibsp_tap.parse("ok 1 - a\nBail out! board gone\n1..1\n")
    assert any("Bail out" in p for p in doc.problems())
    doc = rpibsp_tap.parse("ok 1 - a\nok 3 - b\n1..2\n")
    assert any("not 1..2" in p for p in doc.problems())


def test_names_unique():
    doc = rpibsp_tap.parse("ok 1 - x\nok 2 - x\nok 3 - y\nok 4 - x\n1..4\n")
    assert rpibsp_tap.unique_names(doc.cases) == ["x", "x (2)", "y", "x (3)"]
