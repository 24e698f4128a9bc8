#!/usr/bin/env python3
"""Compare a Buildroot defconfig with the .config that Buildroot made of it.

Usage: check_defconfig.py DEFCONFIG DOTCONFIG

Every "BR2_X=value" line of the defconfig must be in the .config unchanged,
and every "# BR2_X is not set" line must be in it too. A symbol that Kconfig
does not know, or whose dependencies are not met, is dropped from the .config
(or gets another value): each such line is reported and the exit code is 1.
"""

import re
import sys

SET = re.compile(r"^(BR2_[A-Za-z0-9_]+)=(.*)$")
UNSET = re.compile(r"^# (BR2_[A-Za-z0-9_]+) is not set$")


def parse(path):
    """Return {symbol: value} with None for "is not set", and the bad lines."""
    values = {}
    bad = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            m = SET.match(line)
            if m:
                values[m.group(1)] = m.group(2)
                continue
            m = UNSET.match(line)
            if m:
                values[m.group(1)] = None
                continue
            if line.strip() and not line.startswith("#"):
                bad.append((number, line))
    return values, bad


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    wanted, bad = parse(argv[1])
    got, _ = parse(argv[2])
    problems = [f"{argv[1]}:{n}: not a Kconfig line: {line}" for n, line in bad]
    for symbol, value in wanted.items():
        if symbol not in got:
            shown = f"{symbol}={value}" if value is not None else f"# {symbol} is not set"
            problems.append(f"dropped (unknown symbol or unmet dependencies): {shown}")
        elif got[symbol] != value:
            shown = "is not set" if got[symbol] is None else got[symbol]
            problems.append(f"changed: {symbol}: defconfig {value}, .config {shown}")
    for p in problems:
        print(p)
    print(f"{len(wanted)} defconfig lines checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
