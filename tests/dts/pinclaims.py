#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""List which BCM GPIO pins the enabled nodes of a tree claim through pinctrl,
and which GPIO lines of a given controller they reference through *-gpios /
gpios properties.

  pinclaims.py TREE.dtb GPIO_NODE_PATH [--exclude-prefix rpibsp-]

Prints one line per claim: "<pin> <node path> <how>". Nodes whose name starts
with an excluded prefix are skipped (our own nodes).
"""
import re
import struct
import sys

import libfdt


def walk(fdt):
    off = 0
    depth = 0
    while off >= 0 and depth >= 0:
        yield off
        off, depth = fdt.next_node(off, depth, libfdt.QUIET_NOTFOUND)


def enabled(fdt, off):
    while off >= 0:
        st = fdt.getprop(off, "status", libfdt.QUIET_NOTFOUND)
        if not isinstance(st, int) and st.as_str() not in ("okay", "ok"):
            return False
        if off == 0:
            return True
        off = fdt.parent_offset(off)
    return True


def cells(prop):
    b = bytes(prop)
    return list(struct.unpack(f">{len(b) // 4}I", b[: len(b) // 4 * 4]))


def pins_of(fdt, node):
    """brcm,pins cells, or "gpioN" names in a generic 'pins' property, of a
    pin node and its subnodes."""
    out = []
    stack = [node]
    while stack:
        n = stack.pop()
        p = fdt.getprop(n, "brcm,pins", libfdt.QUIET_NOTFOUND)
        if not isinstance(p, int):
            out += cells(p)
        g = fdt.getprop(n, "pins", libfdt.QUIET_NOTFOUND)
        if not isinstance(g, int):
            for s in bytes(g).split(b"\0"):
                m = re.fullmatch(rb"gpio(\d+)", s)
                if m:
                    out.append(int(m.group(1)))
        sub = fdt.first_subnode(n, libfdt.QUIET_NOTFOUND)
        while sub >= 0:
            stack.append(sub)
            sub = fdt.next_subnode(sub, libfdt.QUIET_NOTFOUND)
    return out


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        fdt = libfdt.Fdt(f.read())
    gpio = fdt.path_offset(argv[2])
    gpio_ph = fdt.get_phandle(gpio)
    excl = argv[4] if len(argv) > 4 and argv[3] == "--exclude-prefix" else None
    for off in walk(fdt):
        path = fdt.get_path(off)
        if excl and any(c.startswith(excl) for c in path.split("/")):
            continue
        if not enabled(fdt, off):
            continue
        prop_off = fdt.first_property_offset(off, libfdt.QUIET_NOTFOUND)
        while prop_off >= 0:
            prop = fdt.get_property_by_offset(prop_off)
            name = prop.name
            if re.fullmatch(r"pinctrl-\d+", name):
                for ph in cells(prop):
                    pn = fdt.node_offset_by_phandle(ph)
                    if fdt.parent_offset(pn) == gpio or pn == gpio:
                        for pin in pins_of(fdt, pn):
                            print(f"{pin} {path} {name}->{fdt.get_path(pn)}")
            elif name == "gpios" or name.endswith("-gpios") or name.endswith("-gpio"):
                c = cells(prop)
                # controller phandle, line, flags (#gpio-cells = 2 on BCM2835)
                for i in range(0, len(c) - 2, 3):
                    if c[i] == gpio_ph:
                        print(f"{c[i + 1]} {path} {name}")
            prop_off = fdt.next_property_offset(prop_off, libfdt.QUIET_NOTFOUND)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
