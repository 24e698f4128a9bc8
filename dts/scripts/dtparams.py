#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Raspberry Pi overlay parameters (__overrides__) outside the firmware.

fdtoverlay cannot apply overlay parameters, so this tool does what the
Raspberry Pi firmware (and dtoverlay/dtmerge) do with "dtoverlay=name,p=v":
parameters are written into the overlay blob first, the patched overlay is
then merged as usual. Implemented: string, integer (.;:# = 8/16/32/64-bit
at a byte offset), boolean (? and !), byte-string ([), "status" boolean
conversion, literal assignments (=, string or cell), lookup tables ({}) of
string keys, and fragment enables (<0>,"+N-N=N!N").

  dtparams.py list  OVERLAY.dtbo
      one line per target: param, kind, node path, property, offset, size
  dtparams.py check OVERLAY.dtbo [BINDINGS_DIR]
      every target must resolve to a node inside a fragment's __overlay__;
      integer/string targets must name an existing property (integer:
      in range, cell-aligned); booleans and all others must be properties
      the node's binding (BINDINGS_DIR, matched by compatible) declares.
  dtparams.py apply OVERLAY.dtbo OUT.dtbo param[=value]...
      a parameter without a value means "true", as in config.txt.

Needs pylibfdt (installed with dtschema).
"""

import glob
import os
import struct
import sys

import libfdt

SEPS = ".;:#?![{="
INT_SIZES = {".": 1, ";": 2, ":": 4, "#": 8}


class ParamError(Exception):
    pass


def load(path):
    with open(path, "rb") as f:
        return libfdt.Fdt(bytearray(f.read()))


def overrides(fdt):
    """Yield (name, raw bytes) of each /__overrides__ property."""
    node = fdt.path_offset("/__overrides__", libfdt.QUIET_NOTFOUND)
    if node < 0:
        return
    off = fdt.first_property_offset(node, libfdt.QUIET_NOTFOUND)
    while off >= 0:
        prop = fdt.get_property_by_offset(off)
        yield prop.name, bytes(prop)
        off = fdt.next_property_offset(off, libfdt.QUIET_NOTFOUND)


def _cstr(data, pos):
    end = data.find(b"\0", pos)
    if end < 0:
        raise ParamError("string is not NUL-terminated")
    return data[pos:end].decode(), end + 1


def parse_targets(data):
    """Split one override property into its targets (dicts)."""
    targets = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 6:
            raise ParamError("override data truncated")
        phandle = struct.unpack_from(">I", data, pos)[0]
        spec, pos = _cstr(data, pos + 4)
        t = {"phandle": phandle, "spec": spec}
        targets.append(t)
        if phandle == 0:
            t["kind"] = "overlay"
            continue
        tlen = len(spec)
        for i, c in enumerate(spec):
            if c in "={":
                tlen = i
                break
        nlen = tlen
        for i, c in enumerate(spec[:tlen]):
            if c in SEPS:
                nlen = i
                break
        t["prop"] = spec[:nlen]
        t["offset"], t["size"] = -1, 0
        if nlen < tlen:
            sep = spec[nlen]
            if sep == "?":
                t["kind"] = "bool"
            elif sep == "!":
                t["kind"] = "bool-inv"
            elif sep == "[":
                t["kind"] = "bytes"
            else:
                t["kind"] = "int"
                t["size"] = INT_SIZES[sep]
                rest = spec[nlen + 1:tlen]
                t["offset"] = int(rest) if rest else 0
        else:
            t["kind"] = "string"
        if tlen < len(spec):
            op, lit = spec[tlen], spec[tlen + 1:]
            if op == "=":
                if t["kind"] in ("string", "bytes") or lit:
                    if t["kind"] == "string" and not lit and pos < len(data):
                        lit, pos = _cstr(data, pos)
                    t["literal"] = lit
                else:
                    t["literal"] = str(struct.unpack_from(">I", data, pos)[0])
                    pos += 4
            else:
                if not lit.endswith("}"):
                    raise ParamError("lookup tables with cell values are not supported")
                t["lookup"] = lit[:-1]
    return targets


def lookup(table, value):
    """Raspberry Pi lookup table: "k=v,k2,=default"; leading/trailing comma
    (or an empty pair) passes unmatched values through."""
    passthrough = False
    default = None
    for item in table.split(","):
        if item == "":
            passthrough = True
            continue
        if "=" in item:
            k, v = item.split("=", 1)
        else:
            k, v = item, item
        if len(v) >= 2 and v[0] == v[-1] == "'":
            v = v[1:-1]
        if k == "":
            default = v
        elif k == value:
            return v
    if default is not None:
        return default
    if passthrough:
        return value
    raise ParamError(f"value '{value}' not in lookup table {{{table}}}")


def to_int(value):
    try:
        return int(value, 0)
    except ValueError:
        pass
    words = {"y": 1, "yes": 1, "on": 1, "true": 1, "down": 1,
             "n": 0, "no": 0, "off": 0, "false": 0, "up": 2}
    if value in words:
        return words[value]
    raise ParamError(f"invalid override value '{value}'")


def _setprop(fdt, node, name, val):
    while True:
        try:
            fdt.setprop(node, name, val)
            return
        except libfdt.FdtException as e:
            if e.err != -libfdt.NOSPACE:
                raise
            fdt.resize(fdt.totalsize() + 4096)


def apply_one(fdt, t, value):
    if "literal" in t:
        value = t["literal"]
    elif "lookup" in t:
        value = lookup(t["lookup"], value)

    if t["kind"] == "overlay":
        val = to_int(value) if value else 0
        spec = t["spec"]
        i = 0
        while i < len(spec):
            op = spec[i]
            j = i + 1
            while j < len(spec) and spec[j].isdigit():
                j += 1
            if op not in "+-=!" or j == i + 1:
                raise ParamError(f"invalid overlay override '{spec}'")
            n = int(spec[i + 1:j])
            active = op == "+" or (op == "=" and val) or (op == "!" and not val)
            frag = fdt.path_offset(f"/fragment@{n}", libfdt.QUIET_NOTFOUND)
            if frag < 0:
                raise ParamError(f"fragment {n} not found")
            old = "__dormant__" if active else "__overlay__"
            sub = fdt.subnode_offset(frag, old, libfdt.QUIET_NOTFOUND)
            if sub >= 0:
                fdt.set_name(sub, "__overlay__" if active else "__dormant__")
            i = j
        return

    node = fdt.node_offset_by_phandle(t["phandle"])
    prop = t["prop"]
    kind = t["kind"]
    if kind == "string":
        if prop == "status":
            if value in ("y", "yes", "on", "true", "enable", "1"):
                value = "okay"
            elif value in ("n", "no", "off", "false", "0"):
                value = "disabled"
        if prop == "name":
            fdt.set_name(node, value)
        else:
            _setprop(fdt, node, prop, value.encode() + b"\0")
    elif kind == "bytes":
        hexs = value.replace(":", "").replace(" ", "")
        _setprop(fdt, node, prop, bytes.fromhex(hexs))
    elif kind in ("bool", "bool-inv"):
        on = bool(to_int(value)) ^ (kind == "bool-inv")
        if on:
            _setprop(fdt, node, prop, b"")
        else:
            try:
                fdt.delprop(node, prop)
            except libfdt.FdtException as e:
                if e.err != -libfdt.NOTFOUND:
                    raise
    elif kind == "int":
        n = to_int(value)
        off, size = t["offset"], t["size"]
        old = fdt.getprop(node, prop, libfdt.QUIET_NOTFOUND)
        buf = bytearray(old if isinstance(old, (bytes, bytearray, libfdt.Property)) else b"")
        if len(buf) < off + size:
            buf.extend(b"\0" * (off + size - len(buf)))
        fmt = {1: ">B", 2: ">H", 4: ">I", 8: ">Q"}[size]
        struct.pack_into(fmt, buf, off, n & ((1 << (8 * size)) - 1))
        _setprop(fdt, node, prop, bytes(buf))
    else:
        raise ParamError(f"unsupported target kind {kind}")


def apply_params(fdt, params):
    table = dict(overrides(fdt))
    for p in params:
        name, eq, value = p.partition("=")
        if not eq:
            value = "true"
        if name not in table:
            raise ParamError(f"unknown parameter '{name}'")
        for t in parse_targets(table[name]):
            apply_one(fdt, t, value)
    fdt.pack()


def node_path(fdt, node):
    return fdt.get_path(node)


def binding_props(bindings_dir):
    """compatible -> set of property names declared by our bindings."""
    from ruamel.yaml import YAML
    yaml = YAML(typ="safe")
    result = {}
    for f in glob.glob(os.path.join(bindings_dir, "**", "*.yaml"), recursive=True):
        with open(f) as fh:
            doc = yaml.load(fh)
        compat = doc.get("properties", {}).get("compatible", {})
        names = set(doc.get("properties", {}))
        for sub in doc.get("allOf", []):
            ref = sub.get("$ref", "") if isinstance(sub, dict) else ""
            if ref.endswith("input/input.yaml#"):
                names |= {"linux,code", "linux,keycodes", "linux,input-type",
                          "autorepeat", "debounce-delay-ms", "poll-interval"}
        # properties every node may have (dtschema core)
        names |= {"status", "pinctrl-names", "pinctrl-0", "phandle"}
        for c in ([compat["const"]] if "const" in compat else compat.get("enum", [])):
            result[c] = names
    return result


# Pin-control properties of the Raspberry Pi (legacy) BCM2835 pin nodes.
PINCTRL_PROPS = {"brcm,pins", "brcm,function", "brcm,pull"}


def check(fdt, bindings_dir=None):
    errors = []
    declared = binding_props(bindings_dir) if bindings_dir else {}
    count = 0
    for name, data in overrides(fdt):
        try:
            targets = parse_targets(data)
        except ParamError as e:
            errors.append(f"{name}: {e}")
            continue
        if not targets:
            errors.append(f"{name}: no targets")
        for t in targets:
            count += 1
            where = f"{name} -> {t['spec']}"
            if t["kind"] == "overlay":
                continue
            node = fdt.node_offset_by_phandle(t["phandle"]) if t["phandle"] != 0xffffffff else -1
            if node < 0:
                errors.append(f"{where}: phandle {t['phandle']:#x} does not resolve")
                continue
            path = node_path(fdt, node)
            parts = path.split("/")
            if len(parts) < 4 or not parts[1].startswith("fragment") or parts[2] != "__overlay__":
                errors.append(f"{where}: target {path} is not a node inside a fragment's __overlay__")
                continue
            prop = t["prop"]
            val = fdt.getprop(node, prop, libfdt.QUIET_NOTFOUND)
            exists = not isinstance(val, int)
            compat = fdt.getprop(node, "compatible", libfdt.QUIET_NOTFOUND)
            allowed = None
            if not isinstance(compat, int):
                allowed = declared.get(compat.as_str()) if declared else None
                if declared and allowed is None:
                    errors.append(f"{where}: no binding for compatible {compat.as_str()}")
            elif any(not isinstance(fdt.getprop(node, p, libfdt.QUIET_NOTFOUND), int)
                     for p in PINCTRL_PROPS):
                allowed = PINCTRL_PROPS
            if allowed is not None and prop not in allowed and prop != "name":
                errors.append(f"{where}: property '{prop}' is not declared for {path}")
            if t["kind"] in ("int", "string", "bytes") and not exists:
                errors.append(f"{where}: property '{prop}' does not exist in {path}")
                continue
            if t["kind"] == "int":
                ln = len(val)
                if t["offset"] + t["size"] > ln:
                    errors.append(f"{where}: offset {t['offset']}+{t['size']} beyond "
                                  f"{prop} ({ln} bytes) in {path}")
                if t["size"] == 4 and t["offset"] % 4:
                    errors.append(f"{where}: cell offset {t['offset']} not cell-aligned")
            if t["kind"] == "string" and exists:
                raw = bytes(val)
                if not raw.endswith(b"\0") or b"\0" in raw[:-1]:
                    errors.append(f"{where}: {prop} in {path} is not a single string")
    return count, errors


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, dtbo = argv[1], argv[2]
    fdt = load(dtbo)
    try:
        if cmd == "list":
            for name, data in overrides(fdt):
                for t in parse_targets(data):
                    if t["kind"] == "overlay":
                        print(f"{name}\toverlay\t-\t{t['spec']}\t-\t-")
                        continue
                    node = fdt.node_offset_by_phandle(t["phandle"])
                    print(f"{name}\t{t['kind']}\t{node_path(fdt, node)}\t{t['prop']}"
                          f"\t{t['offset']}\t{t['size']}")
            return 0
        if cmd == "check":
            count, errors = check(fdt, argv[3] if len(argv) > 3 else None)
            for e in errors:
                print(f"error: {e}", file=sys.stderr)
            print(f"{count} targets, {len(errors)} errors")
            return 1 if errors else 0
        if cmd == "apply":
            if len(argv) < 4:
                print(__doc__, file=sys.stderr)
                return 2
            apply_params(fdt, argv[4:])
            with open(argv[3], "wb") as f:
                f.write(fdt.as_bytearray())
            return 0
    except (ParamError, libfdt.FdtException) as e:
        print(f"dtparams: {e}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
