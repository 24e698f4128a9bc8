"""The BSP's on-board verification as pytest cases (the board session: conftest.py).

Every case records its readable name as the JUnit property `rpibsp_name`
(tests/labgrid/junit2tap.py turns them into TAP lines).
"""

import pytest


def _name(record_property, name):
    record_property("rpibsp_name", name)


def test_boot_and_login(rpibsp_run, record_property):
    _name(record_property, "boot and login on the console")
    if rpibsp_run.error:
        pytest.fail(rpibsp_run.error, pytrace=False)


def test_verify_complete(rpibsp_run, record_property):
    run = rpibsp_run
    _name(record_property, "rpibsp-verify: every planned check reported, exit status matches")
    if run.error:
        pytest.fail("not run: " + run.error, pytrace=False)
    problems = list(run.tap.problems())
    if run.verify_error:
        problems.insert(0, run.verify_error)
    failed = [c for c in run.tap.cases if c.outcome == "fail"]
    skipped = [c for c in run.tap.cases if c.outcome == "skip"]
    # rpibsp-verify: 0 all passed; 1 a failure, or a skip without --allow-skip.
    allow_skip = "--allow-skip" in run.verify_cmd.split()
    expected = 1 if failed or (skipped and not allow_skip) else 0
    if run.verify_rc is not None and run.verify_rc != expected:
        problems.append(f"exit status {run.verify_rc}, expected {expected} "
                        f"({len(failed)} failed, {len(skipped)} skipped)")
    if problems:
        tail = "\n".join(run.verify_output[-20:])
        pytest.fail("; ".join(problems) + f"\n`{run.verify_cmd}` printed (last lines):\n{tail}",
                    pytrace=False)


@pytest.mark.rpibsp
def test_check(rpibsp_check, record_property):
    """One check of rpibsp-verify, as it reported itself."""
    c = rpibsp_check
    _name(record_property, c.name)
    if c.outcome == "skip":
        pytest.skip(c.reason or "skipped by rpibsp-verify")
    if c.todo:
        pytest.xfail(c.reason or "TODO")
    if c.outcome == "fail":
        pytest.fail(c.message or "failed (no diagnostics)", pytrace=False)


def test_kernel_log_clean(rpibsp_run, record_property):
    run = rpibsp_run
    _name(record_property, "kernel log has no oops, BUG or WARNING after the checks")
    if run.error:
        pytest.fail("not run: " + run.error, pytrace=False)
    if run.kernel_problems is None:
        pytest.fail("dmesg could not be read: " + (run.verify_error or "?"), pytrace=False)
    if run.kernel_problems:
        pytest.fail("\n".join(run.kernel_problems[:20]), pytrace=False)
