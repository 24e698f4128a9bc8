#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Summarise dt-validate --json-output diagnostics (dt-validate itself exits 0
whatever it finds).

  dtv-report.py DIAG.json [DTB...]       ours = nodes named rpibsp-*; fail on any
  dtv-report.py --all-ours DIAG.json     every diagnostic counts (binding examples)

Diagnostics on /gpio-simulator (a test-only compatible that upstream lists
as rejected for DT use) and on the base trees' own nodes are counted, not
fatal. Prints "# file: ours=N sim=N base=N" per file and every diagnostic
of ours as "OURS file node: message"; exits 1 if any is ours.
"""
import json
import os
import sys


def classify(diag):
    node = diag.get("node")
    if not node:
        return "ours"  # not attributable to a node: never hide it
    parts = node.split("/")
    if any(p.startswith("rpibsp-") or p.startswith("rpibsp,") for p in parts):
        return "ours"
    if len(parts) > 1 and parts[1].startswith("gpio-simulator"):
        return "sim"
    return "base"


def main(argv):
    all_ours = "--all-ours" in argv
    args = [a for a in argv[1:] if a != "--all-ours"]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0]) as f:
        diags = json.load(f)
    files = {os.path.basename(p): {"ours": 0, "sim": 0, "base": 0} for p in args[1:]}
    ours_lines = []
    for d in diags:
        fn = os.path.basename(d.get("file") or "?")
        kind = "ours" if all_ours else classify(d)
        files.setdefault(fn, {"ours": 0, "sim": 0, "base": 0})[kind] += 1
        if kind == "ours":
            msg = (d.get("message") or d.get("formatted") or "").replace("\n", " ")
            ours_lines.append(f"OURS {fn} {d.get('node')}: {msg}")
    for fn in sorted(files):
        c = files[fn]
        print(f"# {fn}: ours={c['ours']} sim={c['sim']} base={c['base']}")
    for line in ours_lines:
        print(line)
    return 1 if ours_lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
