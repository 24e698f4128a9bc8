#!/usr/bin/env python3
"""A small model of the Raspberry Pi firmware's config.txt conditional filters, to check which
device tree (and which other settings) each board model gets from a config.txt.

    firmware_filters.py check CONFIG.TXT TYPE=DTB... [--others-none]
        For each TYPE=DTB (board type of the revision code, e.g. 0x11=bcm2711-rpi-4-b.dtb) the
        board must get device_tree=DTB, arm_64bit=1, enable_uart=1 and dtoverlay=rpibsp; with
        --others-none every other board of the table must get no device_tree= at all.  Prints
        one "PASS name" or "FAIL name: why" line per check; exit status 1 if any failed.
    firmware_filters.py show CONFIG.TXT
        The effective device_tree= of every board of the table.

What is modelled (Raspberry Pi documentation, config.txt "Conditional filters", and "Raspberry Pi
revision codes" for the board types):
  - [all] ends every filter; [none] applies to no board;
  - model filters: [pi1] [pi2] [pi3] [pi3+] [pi4] [pi400] [cm4] [cm4s] [pi0] [pi0w] [pi02] [pi5],
    with the documented overlaps (a 3B+ also sees [pi3], a Pi 400 also sees [pi4], ...);
  - [board-type=N]: exactly the boards whose revision-code type field is N;
  - filters of the same kind replace each other; filters of different kinds are combined (all
    must match); the last value of a setting wins; dtoverlay= accumulates.
Anything else in brackets is refused (the model does not know it), not guessed.
"""
import re
import sys

# Board type (bits 4-11 of the new-style revision code) -> (name, model filters that match it).
BOARDS = {
    0x00: ("A", {"pi1"}),
    0x01: ("B", {"pi1"}),
    0x02: ("A+", {"pi1"}),
    0x03: ("B+", {"pi1"}),
    0x04: ("2B", {"pi2"}),
    0x06: ("CM1", {"pi1"}),
    0x08: ("3B", {"pi3"}),
    0x09: ("Zero", {"pi0"}),
    0x0A: ("CM3", {"pi3"}),
    0x0C: ("Zero W", {"pi0", "pi0w"}),
    0x0D: ("3B+", {"pi3", "pi3+"}),
    0x0E: ("3A+", {"pi3", "pi3+"}),
    0x10: ("CM3+", {"pi3"}),
    0x11: ("4B", {"pi4"}),
    0x12: ("Zero 2 W", {"pi0", "pi0w", "pi02"}),
    0x13: ("400", {"pi4", "pi400"}),
    0x14: ("CM4", {"pi4", "cm4"}),
    0x15: ("CM4S", {"pi4", "cm4s"}),
    0x17: ("5", {"pi5"}),
    0x18: ("CM5", {"pi5"}),
    0x19: ("500", {"pi5"}),
    0x1A: ("CM5 Lite", {"pi5"}),
}
MODEL_FILTERS = {"pi1", "pi2", "pi3", "pi3+", "pi4", "pi400", "cm4", "cm4s", "pi0", "pi0w", "pi02",
                 "pi5"}
LINE_LIMIT = 98  # the firmware ignores the characters of an entry past this length


class ModelError(Exception):
    pass


def effective(text, board_type):
    """The settings the firmware applies on a board of this type: {name: value}, dtoverlay a list."""
    _, models = BOARDS[board_type]
    active = {}  # filter kind -> predicate result
    settings = {"dtoverlay": []}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[(.*)\]", line)
        if m:
            f = m.group(1).strip()
            if f == "all":
                active = {}
            elif f == "none":
                active = {"none": False}
            elif f.lower() in MODEL_FILTERS:
                active["model"] = f.lower() in models
            elif f.startswith("board-type="):
                try:
                    value = int(f.split("=", 1)[1], 0)
                except ValueError:
                    raise ModelError(f"line {n}: bad board type in [{f}]") from None
                active["board-type"] = value == board_type
            else:
                raise ModelError(f"line {n}: the model does not know the filter [{f}]")
            continue
        if not all(active.values()):
            continue
        if "=" not in line:
            raise ModelError(f"line {n}: not a setting: {line!r}")
        key, value = (s.strip() for s in line.split("=", 1))
        if key == "dtoverlay":
            settings["dtoverlay"].append(value)
        else:
            settings[key] = value
    return settings


def name(t):
    return f"{BOARDS[t][0]} (board-type 0x{t:X})"


def check(path, wanted, others_none):
    text = open(path, encoding="utf-8").read()
    results = []
    long_lines = [n for n, l in enumerate(text.splitlines(), 1) if len(l) > LINE_LIMIT]
    results.append((f"every line is at most {LINE_LIMIT} characters (the firmware's limit)",
                    f"lines {long_lines} are longer" if long_lines else None))
    for t, dtb in wanted.items():
        if t not in BOARDS:
            results.append((f"board type 0x{t:X} is in the table", "unknown board type"))
            continue
        try:
            s = effective(text, t)
        except ModelError as e:
            results.append((f"{name(t)}: config.txt is understood", str(e)))
            continue
        problems = []
        if s.get("device_tree") != dtb:
            problems.append(f"device_tree={s.get('device_tree')}, expected {dtb}")
        for key, value in (("arm_64bit", "1"), ("enable_uart", "1"), ("kernel", "Image")):
            if s.get(key) != value:
                problems.append(f"{key}={s.get(key)}, expected {value}")
        if "rpibsp" not in [o.split(",")[0] for o in s["dtoverlay"]]:
            problems.append("no dtoverlay=rpibsp")
        results.append((f"{name(t)} gets device_tree={dtb}, arm_64bit=1, enable_uart=1, kernel=Image,"
                        " dtoverlay=rpibsp", "; ".join(problems) or None))
    if others_none:
        for t in sorted(set(BOARDS) - set(wanted)):
            try:
                dt = effective(text, t).get("device_tree")
            except ModelError as e:
                results.append((f"{name(t)}: config.txt is understood", str(e)))
                continue
            results.append((f"{name(t)} (not supported) gets no device tree",
                            f"it gets device_tree={dt}" if dt else None))
    for what, why in results:
        print(f"PASS {what}" if why is None else f"FAIL {what}: {why}")
    return 1 if any(why for _, why in results) else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "show":
        text = open(argv[2], encoding="utf-8").read()
        for t in sorted(BOARDS):
            print(f"{name(t)}: device_tree={effective(text, t).get('device_tree')}")
        return 0
    if len(argv) >= 3 and argv[1] == "check":
        wanted, others_none = {}, False
        for a in argv[3:]:
            if a == "--others-none":
                others_none = True
            elif "=" in a:
                t, dtb = a.split("=", 1)
                wanted[int(t, 0)] = dtb
            else:
                print(f"firmware_filters.py: bad argument {a!r}", file=sys.stderr)
                return 2
        return check(argv[2], wanted, others_none)
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ModelError) as e:
        print(f"firmware_filters.py: {e}", file=sys.stderr)
        sys.exit(2)
