"""pytest plugin of the BSP's labgrid integration: one pytest case per on-board check.

    pytest --lg-env labgrid/env/qemu-raspi3b.yaml labgrid/

The board is brought to a shell once per session (RpiBspStrategy: power, optional SD-mux write,
login) and `rpibsp-verify --format tap` runs once; each of its TAP lines becomes a case of
test_rpibsp.py::test_check, named after the check. That needs the check list while pytest
collects, so the board is booted during collection (also with --collect-only), not when the
first test runs. Afterwards the board is switched off (strategy state "off") unless the
environment sets the option `rpibsp_power_off: false`.

Environment options (`options:` in the environment file):
  rpibsp_verify_cmd      the verification command (default "rpibsp-verify --format tap"); a real
                         board adds "--mode loopback" or "--mode interactive"
  rpibsp_verify_timeout  seconds the verification may take (default 300)
  rpibsp_power_off       switch the board off at the end (default true)

The environment files take their paths from LG_RPIBSP_* variables (labgrid's `!template`); any
that are not set get the repository's defaults here, before labgrid reads the file:
  LG_RPIBSP_OUT     build products (RPIBSP_OUT, default <repo>/out)
  LG_RPIBSP_IMAGE   the SD-card image (default $LG_RPIBSP_OUT/sdcard.img)
  LG_RPIBSP_KERNEL  the kernel Image for QEMU (default: the BSP kernel build in the cache)
  LG_RPIBSP_RUN     run directory (QEMU pid files; default $LG_RPIBSP_OUT/labgrid)
  LG_RPIBSP_LABGRID this directory (for copies of the templates to import rpibsp_strategy.py)
"""

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import List, Optional

import pytest

import rpibsp_tap

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

RUN_KEY = pytest.StashKey["BoardRun"]()

# What a clean kernel log must not contain (as tests/hil checks the console log).
KERNEL_PROBLEMS = "Kernel panic|Internal error: Oops|BUG:|WARNING:|Call trace:|kernel BUG"


@dataclass
class BoardRun:
    """What one session on the board gave."""

    error: Optional[str] = None  # the board never reached a shell (or no environment)
    place: str = ""  # the target's RemotePlace, if any
    boot_secs: float = 0.0
    uname: str = ""
    verify_cmd: str = ""
    verify_rc: Optional[int] = None
    verify_secs: float = 0.0
    verify_output: List[str] = field(default_factory=list)
    verify_error: Optional[str] = None
    tap: rpibsp_tap.TapDocument = field(default_factory=rpibsp_tap.TapDocument)
    kernel_problems: Optional[List[str]] = None


def _default_env():
    out = os.environ.get("RPIBSP_OUT") or os.path.join(REPO, "out")
    os.environ.setdefault("LG_RPIBSP_OUT", out)
    out = os.environ["LG_RPIBSP_OUT"]
    os.environ.setdefault("LG_RPIBSP_IMAGE", os.path.join(out, "sdcard.img"))
    os.environ.setdefault("LG_RPIBSP_RUN", os.path.join(out, "labgrid"))
    os.environ.setdefault("LG_RPIBSP_LABGRID", HERE)
    if "LG_RPIBSP_KERNEL" not in os.environ:
        kbuild = subprocess.run(
            ["bash", "-c", '. "$1/scripts/lib.sh" && kernel_build_dir bsp', "bash", REPO],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False,
        ).stdout.strip()
        if kbuild:
            os.environ["LG_RPIBSP_KERNEL"] = os.path.join(kbuild, "arch/arm64/boot/Image")
    os.makedirs(os.environ["LG_RPIBSP_RUN"], exist_ok=True)


def _sigterm(signum, frame):
    # A CI timeout or tests/labgrid/run.sh stopping us: unwind like Ctrl-C, so the cleanup below
    # (and QEMUDriver's) stops QEMU instead of leaving it behind.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    # Runs before labgrid's own pytest_configure (trylast), which reads the environment file.
    _default_env()
    signal.signal(signal.SIGTERM, _sigterm)
    config.addinivalue_line("markers", "rpibsp: a case of the BSP's on-board verification")


def _describe(exc):
    """An exception and its causes in one line (a StrategyError hides the real one)."""
    parts = []
    while exc is not None and len(parts) < 5:
        text = str(exc).strip() or type(exc).__name__
        parts.append(f"{type(exc).__name__}: {text}")
        exc = exc.__cause__ or exc.__context__
    return " <- ".join(parts)


def _finish(env, power_off):
    if power_off:
        try:
            target = env.get_target("main")
            strategy = target.get_driver("Strategy")
            power = getattr(strategy, "power", None)
            if power is not None:
                if strategy.broken:  # e.g. no login: the board is still on
                    target.activate(power)
                    power.off()
                else:
                    strategy.transition("off")
        except Exception as e:  # the cleanup must go on
            print(f"rpibsp: switching the board off failed: {_describe(e)}")
    env.cleanup()


def _board_run(config):
    """Boots the board once and runs the verification; cached for the session."""
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        return run
    run = BoardRun()
    config.stash[RUN_KEY] = run

    from labgrid.pytestplugin.hooks import LABGRID_ENV_KEY

    env = config.stash.get(LABGRID_ENV_KEY, None)
    if env is None:
        run.error = "no labgrid environment: give --lg-env FILE (labgrid/env/*.yaml) or set LG_ENV"
        return run
    power_off = str(env.config.get_option("rpibsp_power_off", True)).lower() not in ("false", "0", "no")
    config.add_cleanup(lambda: _finish(env, power_off))
    run.verify_cmd = str(env.config.get_option("rpibsp_verify_cmd", "rpibsp-verify --format tap"))
    verify_timeout = float(env.config.get_option("rpibsp_verify_timeout", 300))

    start = time.monotonic()
    try:
        target = env.get_target("main")
        if target is None:
            raise RuntimeError(f"{env.config_file} has no target 'main'")
        try:
            from labgrid.resource.remote import RemotePlace

            run.place = target.get_resource(RemotePlace, wait_avail=False).name
        except Exception:
            pass
        strategy = target.get_driver("Strategy")
        strategy.transition("shell")
        shell = target.get_driver("ShellDriver")
    except Exception as e:
        run.error = f"the board did not reach a shell: {_describe(e)}"
        return run
    finally:
        run.boot_secs = time.monotonic() - start

    try:
        # Kernel messages off the console (ShellDriver does this after its own login only).
        shell.run("dmesg -n 1")
        out, _, _ = shell.run("uname -r")
        run.uname = out[0].strip() if out else ""
        start = time.monotonic()
        try:
            out, _, rc = shell.run(run.verify_cmd, timeout=verify_timeout)
            run.verify_output, run.verify_rc = out, rc
        finally:
            run.verify_secs = time.monotonic() - start
        run.tap = rpibsp_tap.parse("\n".join(run.verify_output))
        out, _, _ = shell.run(f"dmesg | grep -E '{KERNEL_PROBLEMS}' || true", timeout=60)
        run.kernel_problems = [line for line in out if line.strip()]
    except Exception as e:
        run.verify_error = f"running on the board failed: {_describe(e)}"
        # What arrived before the failure still counts (the checks stream their TAP lines).
        run.tap = rpibsp_tap.parse("\n".join(run.verify_output))
    return run


@pytest.fixture(scope="session")
def rpibsp_run(request):
    """The session's BoardRun (boot, login, rpibsp-verify output)."""
    return _board_run(request.config)


def pytest_generate_tests(metafunc):
    if "rpibsp_check" not in metafunc.fixturenames:
        return
    run = _board_run(metafunc.config)
    cases = list(run.tap.cases)
    ids = rpibsp_tap.unique_names(cases)
    if not cases:
        # No check came back: one failing case says so, instead of pytest's silent skip of an
        # empty parameter set.
        why = run.error or run.verify_error or "rpibsp-verify printed no TAP test line"
        cases = [rpibsp_tap.TapCase(None, "(no on-board checks)", "fail", diagnostics=[why])]
        ids = ["(no on-board checks)"]
    metafunc.parametrize("rpibsp_check", cases, ids=ids)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    tr = terminalreporter
    tr.section("rpibsp board session")
    if run.place:
        tr.write_line(f"place: {run.place}")
    tr.write_line(f"boot and login: {run.boot_secs:.1f} s" + (f" ({run.error})" if run.error else ""))
    if run.verify_rc is not None:
        tr.write_line(f"kernel {run.uname}; `{run.verify_cmd}`: exit {run.verify_rc} after "
                      f"{run.verify_secs:.1f} s, {len(run.tap.cases)} checks")
    for c in run.tap.comments + ([run.tap.summary] if run.tap.summary else []):
        tr.write_line(f"  # {c}")
