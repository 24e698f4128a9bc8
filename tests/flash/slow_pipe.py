#!/usr/bin/python3
"""Test helper for tests/flash/slow-xz: copy stdin to stdout at about 1 MiB/s
(64 KiB every 0.06 s), so that a write can be interrupted in the middle."""

import sys
import time


def main():
    i, o = sys.stdin.buffer, sys.stdout.buffer
    while True:
        d = i.read(65536)
        if not d:
            break
        o.write(d)
        o.flush()
        time.sleep(0.06)
    return 0


if __name__ == "__main__":
    sys.exit(main())
