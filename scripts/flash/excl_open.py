#!/usr/bin/python3
"""Helper of flash.sh: can DEVICE be opened exclusively (O_EXCL)?

    excl_open.py DEVICE

The kernel refuses an exclusive open of a block device while a file system
on it is mounted, it is active swap, a device-mapper/RAID/LVM/LUKS layer sits
on it, or another program holds it exclusively.  Prints one line and exits:
  free          0  nobody holds the device (it is closed again at once)
  busy          1  the kernel reports the device as in use (EBUSY)
  error: TEXT   1  the open failed for another reason
"""

import errno
import os
import sys


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: excl_open.py DEVICE\n")
        return 2
    try:
        fd = os.open(argv[1], os.O_RDONLY | os.O_EXCL)
    except OSError as e:
        if e.errno == errno.EBUSY:
            print("busy", flush=True)
        else:
            print("error: " + (e.strerror or str(e)), flush=True)
        return 1
    os.close(fd)
    print("free", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
