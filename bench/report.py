#!/usr/bin/env python3
"""Turns the benchmark's figures into the results table (Markdown and JSON).

    bench/report.py [--md FILE] [--json FILE] [--meta KEY=VALUE ...] INPUT...

INPUT files hold figures as `key=value` lines, either bare (the host side of bench/run.sh) or
as `# bench: key=value` TAP diagnostics (the guest's output, as tests/qemu/boot.sh prints it);
other lines are ignored.  A key that appears twice keeps its last value.  The table is printed
on stdout.

Ratios are Rust / C.  A ratio is only given when both sides were measured and the C figure is
a finite non-zero number; otherwise it is "n/a" (null in the JSON), never a made-up value.
A side that was not measured (driver not present, `<key>.status=absent`, a figure missing from
the input) is shown as "n/a" too.
"""
import argparse
import json
import math
import re
import sys

# (group, metric, unit, better, C key, {rust column: key})
#   better: "lower" or "higher" (which way is good), or "" for reference figures
BUTTON_COLS = ["stable", "fast"]
ROWS = [
    ("button", "press -> event timestamp, median", "us", "lower",
     "lat.c.press_ev_med_us", {"stable": "lat.rust_stable.press_ev_med_us", "fast": "lat.rust_fast.press_ev_med_us"}),
    ("button", "press -> event timestamp, p99", "us", "lower",
     "lat.c.press_ev_p99_us", {"stable": "lat.rust_stable.press_ev_p99_us", "fast": "lat.rust_fast.press_ev_p99_us"}),
    ("button", "press -> user space receives, median", "us", "lower",
     "lat.c.press_rx_med_us", {"stable": "lat.rust_stable.press_rx_med_us", "fast": "lat.rust_fast.press_rx_med_us"}),
    ("button", "press -> user space receives, p99", "us", "lower",
     "lat.c.press_rx_p99_us", {"stable": "lat.rust_stable.press_rx_p99_us", "fast": "lat.rust_fast.press_rx_p99_us"}),
    ("button", "release -> user space receives, median", "us", "lower",
     "lat.c.release_rx_med_us", {"stable": "lat.rust_stable.release_rx_med_us", "fast": "lat.rust_fast.release_rx_med_us"}),
    ("button", "presses measured", "", "",
     "lat.c.n", {"stable": "lat.rust_stable.n", "fast": "lat.rust_fast.n"}),
    ("button", "presses lost (no event within 1 s)", "", "",
     "lat.c.lost", {"stable": "lat.rust_stable.lost", "fast": "lat.rust_fast.lost"}),
    ("button", "highest loss-free press rate", "Hz", "higher",
     "rate.c.max_lossless_hz", {"stable": "rate.rust_stable.max_lossless_hz", "fast": "rate.rust_fast.max_lossless_hz"}),
    ("button", "CPU time per event: event threads (writer, IRQ threads, unbound kworkers)", "us", "lower",
     "cpu.c.us_per_event", {"stable": "cpu.rust_stable.us_per_event", "fast": "cpu.rust_fast.us_per_event"}),
    ("button", "CPU time per event: all threads (more background noise)", "us", "lower",
     "cpu.c.all_us_per_event", {"stable": "cpu.rust_stable.all_us_per_event", "fast": "cpu.rust_fast.all_us_per_event"}),
    ("button", "memory per button (slab + kernel stack)", "bytes", "lower",
     "mem.c_button.bytes_per_unit", {"stable": "mem.rust_button.bytes_per_unit"}),
    ("button", "memory per bound device", "bytes", "lower",
     "mem.c_button.bytes_per_device", {"stable": "mem.rust_button.bytes_per_device"}),
    ("button", "module text (llvm-size)", "bytes", "lower",
     "size.gpio_keys.text", {"stable": "size.rpibsp_button.text"}),
    ("button", "module data + bss (llvm-size)", "bytes", "lower",
     "size.gpio_keys.databss", {"stable": "size.rpibsp_button.databss"}),
    ("button", "module in memory (/proc/modules)", "bytes", "lower",
     "modmem.gpio_keys", {"stable": "modmem.rpibsp_button"}),
    ("led", "brightness writes/s, each followed by its GPIO level change; same GPIO chip "
     "(C: BCM GPIO 5, Rust: BCM GPIO 4)", "1/s", "higher",
     "ledw.c.toggles_per_s", {"rust": "ledw.rust.toggles_per_s"}),
    ("led", "brightness writes/s, each followed by its GPIO level change "
     "(C: gpio-sim line 24, Rust: BCM GPIO 4)", "1/s", "higher",
     "ledw.c_sim.toggles_per_s", {"rust": "ledw.rust.toggles_per_s"}),
    ("led", "raw sysfs brightness writes/s, no wait for the level (C: BCM GPIO 5)", "1/s", "higher",
     "ledw.c.writes_per_s", {"rust": "ledw.rust.writes_per_s"}),
    ("led", "press -> LED GPIO level, median (Rust: trigger; C: gpio-keys + user-space relay)", "us", "lower",
     "ledlat.c.lat_med_us", {"rust": "ledlat.rust.lat_med_us"}),
    ("led", "press -> LED GPIO level, p99", "us", "lower",
     "ledlat.c.lat_p99_us", {"rust": "ledlat.rust.lat_p99_us"}),
    ("led", "memory per LED (slab + kernel stack)", "bytes", "lower",
     "mem.c_led.bytes_per_unit", {"rust": "mem.rust_led.bytes_per_unit"}),
    ("led", "module text (llvm-size)", "bytes", "lower",
     "size.leds_gpio.text", {"rust": "size.rpibsp_led.text"}),
    ("led", "module data + bss (llvm-size)", "bytes", "lower",
     "size.leds_gpio.databss", {"rust": "size.rpibsp_led.databss"}),
    ("led", "module in memory (/proc/modules)", "bytes", "lower",
     "modmem.leds_gpio", {"rust": "modmem.rpibsp_led"}),
]

# Whole-system figures: no Rust/C side.  (metric, unit, key)
SYSTEM = [
    ("kernel build time, cold (empty build tree)", "s", "kbuild.cold.seconds"),
    ("kernel build time, incremental (last rebuild, e.g. after a patch change)", "s", "kbuild.incremental.seconds"),
    ("boot to ready, guest clock (uptime when the bench script starts)", "s", "boot.script_start_uptime_s"),
    ("boot to ready, host wall clock (QEMU start -> \"rpibsp: system ready\")", "s", "boot.ready_host_s"),
    ("SD-card image size", "bytes", "image.bytes"),
    ("SD-card image, allocated (sparse)", "bytes", "image.allocated_bytes"),
    ("flash.sh with bmap: bytes written", "bytes", "flash.bmap.bytes_written"),
    ("flash.sh plain copy (--no-bmap): bytes written", "bytes", "flash.plain.bytes_written"),
    ("flash.sh with bmap: time", "s", "flash.bmap.seconds"),
    ("flash.sh plain copy: time", "s", "flash.plain.seconds"),
]

LINE = re.compile(r"^(?:# bench: )?([A-Za-z0-9_.]+)=(.*)$")


def parse(paths):
    figs = {}
    for p in paths:
        with open(p, encoding="utf-8", errors="replace") as f:
            for raw in f:
                line = raw.rstrip("\n")
                if line.startswith("#") and not line.startswith("# bench: "):
                    continue
                m = LINE.match(line)
                if m:
                    figs[m.group(1)] = m.group(2).strip()
    return figs


def absent(figs, key):
    """A figure whose measurement (the first two key components) reported status=absent."""
    parts = key.split(".")
    return figs.get(".".join(parts[:2]) + ".status") == "absent"


def number(figs, key):
    if key is None or absent(figs, key) or key not in figs:
        return None
    try:
        v = float(figs[key])
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def ratio(rust, c):
    if rust is None or c is None or c == 0:
        return None
    r = rust / c
    return r if math.isfinite(r) else None


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if v == int(v) and abs(v) < 1e15:
        s = f"{int(v):,}"
    elif abs(v) >= 100:
        s = f"{v:,.0f}"
    else:
        s = f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.2f}"
    return s


def fmt_ratio(r):
    if r is None:
        return "n/a"
    if r != 0 and abs(r) < 0.01:
        return f"{r:.2g}"  # 8.2e-05, not a misleading 0.00
    return f"{r:.2f}"


def derive(figs):
    """Figures computed from others (data + bss)."""
    for mod in ("gpio_keys", "rpibsp_button", "leds_gpio", "rpibsp_led"):
        d, b = figs.get(f"size.{mod}.data"), figs.get(f"size.{mod}.bss")
        if d is not None and b is not None:
            try:
                figs[f"size.{mod}.databss"] = str(int(d) + int(b))
            except ValueError:
                pass


def build(figs, meta):
    derive(figs)
    rows = []
    for group, metric, unit, better, ckey, rkeys in ROWS:
        c = number(figs, ckey)
        rust = {col: number(figs, k) for col, k in rkeys.items()}
        rows.append({
            "group": group, "metric": metric, "unit": unit, "better": better,
            "c": c, "c_key": ckey,
            "rust": rust, "rust_keys": rkeys,
            # counts and other reference rows (better == "") get no ratio
            "ratio": {col: ratio(v, c) if better else None for col, v in rust.items()},
        })
    system = [{"metric": m, "unit": u, "key": k, "value": number(figs, k),
               "raw": figs.get(k)} for m, u, k in SYSTEM]
    b, p = number(figs, "flash.bmap.bytes_written"), number(figs, "flash.plain.bytes_written")
    return {
        "meta": meta,
        "rows": rows,
        "system": system,
        "system_ratios": {"flash bytes written, bmap / plain": ratio(b, p)},
        "figures": figs,
    }


def markdown(res):
    out = []
    meta = res["meta"]
    out.append("# rpibsp benchmark: Rust drivers vs in-tree C drivers\n")
    if meta:
        out.append("| run | |\n| --- | --- |")
        for k, v in meta.items():
            out.append(f"| {k} | {v} |")
        out.append("")
    out.append("Ratios are Rust / C (\"better\": which direction is good). Emulated (QEMU) times: "
               "track the ratios, not the absolute values. n/a: not measured (driver absent, "
               "measurement failed) - never a guessed value. Latencies and CPU times are medians "
               "(p99: nearest rank); memory: median over bind/unbind repetitions.\n")
    out.append("## Buttons: rpibsp-button (Rust, stable and fast debounce) vs gpio-keys (C)\n")
    out.append("| metric | unit | better | C gpio-keys | Rust stable | Rust fast | stable/C | fast/C |")
    out.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in res["rows"]:
        if r["group"] != "button":
            continue
        s, f = r["rust"].get("stable"), r["rust"].get("fast")
        rat = fmt_ratio if r["better"] else (lambda _: "-")
        fcell = fmt(f) if "fast" in r["rust"] else "(same driver)"
        fr = rat(r["ratio"].get("fast")) if "fast" in r["rust"] else "-"
        out.append(f"| {r['metric']} | {r['unit']} | {r['better'] or '-'} | {fmt(r['c'])} | {fmt(s)} | "
                   f"{fcell} | {rat(r['ratio'].get('stable'))} | {fr} |")
    out.append("")
    out.append("Event timestamp: rpibsp-button stamps each event with the hard-interrupt time of its "
               "edge (by design), gpio-keys with the time its debounce work ran; the \"user space "
               "receives\" rows are the comparable latency. Stable mode waits for the debounce "
               "interval on every change, fast mode reports the first edge at once.\n")
    out.append("## LED: rpibsp-led (Rust) vs leds-gpio (C)\n")
    out.append("| metric | unit | better | C leds-gpio | Rust | Rust/C |")
    out.append("| --- | --- | --- | ---: | ---: | ---: |")
    for r in res["rows"]:
        if r["group"] != "led":
            continue
        out.append(f"| {r['metric']} | {r['unit']} | {r['better'] or '-'} | {fmt(r['c'])} | "
                   f"{fmt(r['rust'].get('rust'))} | {fmt_ratio(r['ratio'].get('rust'))} |")
    out.append("")
    out.append("Press -> LED: the Rust path is button driver -> LED trigger \"rpibsp-button\" -> "
               "rpibsp-led (in the kernel); the in-tree C drivers have no such trigger, so their "
               "path is gpio-keys -> evdev -> a user-space relay -> leds-gpio. Levels are read from "
               "the BCM2835 GPLEV0 register (/dev/mem). A gpio-sim line sleeps (mutex), so leds-gpio "
               "sets it from a work item.\n")
    out.append("## Whole system\n")
    out.append("| figure | unit | value |")
    out.append("| --- | --- | ---: |")
    for s in res["system"]:
        v = fmt(s["value"]) if s["value"] is not None else ("not measured" if s["raw"] is None else s["raw"])
        out.append(f"| {s['metric']} | {s['unit']} | {v} |")
    for k, v in res["system_ratios"].items():
        out.append(f"| {k} | ratio | {fmt_ratio(v)} |")
    out.append("")
    notes = [v for k, v in sorted(res["figures"].items()) if k.startswith("note.")]
    if notes:
        out.append("## Notes\n")
        out.extend(f"- {n}" for n in notes)
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--md")
    ap.add_argument("--json")
    ap.add_argument("--meta", action="append", default=[], help="KEY=VALUE for the run table")
    a = ap.parse_args()
    meta = {}
    for m in a.meta:
        k, _, v = m.partition("=")
        meta[k] = v
    res = build(parse(a.inputs), meta)
    md = markdown(res)
    if a.md:
        with open(a.md, "w", encoding="utf-8") as f:
            f.write(md + "\n")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=2, sort_keys=False, allow_nan=False)
            f.write("\n")
    sys.stdout.write(md + "\n")


if __name__ == "__main__":
    main()
