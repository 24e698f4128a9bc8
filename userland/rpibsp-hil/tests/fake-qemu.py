#!/usr/bin/env python3
"""Stand-in for qemu-system-aarch64 in rpibsp-hil's tests.

Records its arguments, serves the `-chardev socket,...,path=P,server=on` console like a
booted busybox board (login prompt, then a shell that answers rpibsp-hil's framed lines)
and runs until killed, as QEMU does (also after the console connection closed).
"""
import os
import re
import socket
import sys
import time

args = sys.argv[1:]
with open(os.environ["FAKE_QEMU_ARGS"], "w", encoding="utf-8") as f:
    f.write("\n".join(args) + "\n")
if "FAKE_QEMU_PID" in os.environ:
    with open(os.environ["FAKE_QEMU_PID"], "w", encoding="utf-8") as f:
        f.write(f"{os.getpid()}\n")
chardev = args[args.index("-chardev") + 1]
path = re.search(r"path=([^,]+)", chardev).group(1)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
conn, _ = srv.accept()
conn.sendall(b"[    0.000000] Booting Linux (fake qemu)\r\n\r\nrpibsp login: ")
framed = re.compile(r"echo (\S+); eval '(.*)' </dev/null; echo (\S+)")
buf = b""
while True:
    data = conn.recv(4096)
    if not data:
        break
    buf += data
    while b"\n" in buf:
        raw, buf = buf.split(b"\n", 1)
        line = raw.decode("utf-8", "replace")
        out = line + "\r\n"
        m = framed.fullmatch(line)
        if m:
            rc = 0 if m.group(2) in ("dmesg -n 1", "true") else 1
            out += m.group(1).replace("''", "") + "\r\n"
            out += m.group(3).replace("''", "").replace("$?", str(rc)) + "\r\n"
        elif line.startswith("echo "):
            out += line[5:].replace("''", "") + "\r\n"
        conn.sendall((out + "~ # ").encode())
# Like QEMU, keep running when the console client goes away: only a kill ends it.
while True:
    time.sleep(3600)
