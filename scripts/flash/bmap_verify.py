#!/usr/bin/python3
"""Helper of flash.sh: verify the mapped ranges of a bmap on the written card.

    bmap_verify.py BMAP DEVICE checksum   # against the bmap's range checksums
    bmap_verify.py BMAP DEVICE image      # against the image read from stdin

DEVICE is read with O_DIRECT (or, where that is refused, after dropping its
page cache), so the data come from the card, not from the cache.  In "image"
mode stdin must carry the whole uncompressed image.

Prints one line on stdout and exits:
  ok N ranges, M bytes[ (no O_DIRECT)]   0  every mapped range matches
  MISMATCH in blocks A-B ...              1  the card differs from the image
  error: TEXT                             2  the verification could not run
                                             (bad bmap, unreadable device,
                                             short read, image too short)
Progress goes to stderr if it is a terminal.
"""

import hashlib
import mmap
import os
import sys
import xml.etree.ElementTree as ET

CHUNK = 4 << 20


def die(text):
    """A failure that is not a mismatch: the verification could not run."""
    print("error: %s" % text, flush=True)
    sys.exit(2)


def parse_bmap(path):
    """-> (image size, block size, checksum type, [(first, last, chksum)])"""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        die("cannot read bmap %s: %s" % (path, e))

    def num(tag):
        t = root.findtext(tag)
        if t is None:
            die("bmap %s: missing <%s>" % (path, tag))
        try:
            return int(t.strip())
        except ValueError:
            die("bmap %s: <%s> is not a number: %r" % (path, tag, t))

    size, bs = num("ImageSize"), num("BlockSize")
    ctype = (root.findtext("ChecksumType") or "sha1").strip().lower()
    ranges = []
    for r in root.iter("Range"):
        a, _, b = (r.text or "").strip().partition("-")
        try:
            first = int(a)
            last = int(b) if b.strip() else first
        except ValueError:
            die("bmap %s: bad range %r" % (path, r.text))
        ranges.append((first, last, r.get("chksum") or r.get("sha1")))
    ranges.sort()
    return size, bs, ctype, ranges


class Device:
    """Reads DEVICE bypassing the page cache."""

    def __init__(self, path):
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
            self.direct = True
        except OSError:
            try:
                self.fd = os.open(path, os.O_RDONLY)
            except OSError as e:
                die("cannot open %s: %s" % (path, e.strerror))
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
            self.direct = False
        # O_DIRECT needs an aligned buffer: an anonymous mmap is page-aligned.
        self.buf = mmap.mmap(-1, CHUNK)

    def chunks(self, off, n):
        """Yield the N bytes at OFF, in pieces of at most CHUNK bytes.

        OFF is a multiple of the block size; with O_DIRECT the read length is
        rounded up to 4 KiB and the surplus dropped."""
        while n > 0:
            want = min(n, CHUNK)
            rl = (want + 4095) // 4096 * 4096 if self.direct else want
            try:
                got = os.preadv(self.fd, [memoryview(self.buf)[:rl]], off)
            except OSError as e:
                die("read error on %s at byte %d: %s" % (self.path, off, e.strerror))
            if got <= 0:
                die("short read from %s at byte %d" % (self.path, off))
            take = min(got, want)
            yield bytes(self.buf[:take])
            off += take
            n -= take


class Image:
    """The uncompressed image, read forward from a stream."""

    def __init__(self, stream):
        self.stream = stream
        self.pos = 0

    def read(self, n):
        out = bytearray()
        while len(out) < n:
            d = self.stream.read(n - len(out))
            if not d:
                die("the image ended early at byte %d" % (self.pos + len(out)))
            out += d
        self.pos += n
        return bytes(out)

    def skip_to(self, off):
        while self.pos < off:
            self.read(min(CHUNK, off - self.pos))

    def drain(self):
        while self.stream.read(CHUNK):
            pass


def main(argv):
    if len(argv) != 4 or argv[3] not in ("checksum", "image"):
        sys.stderr.write("usage: bmap_verify.py BMAP DEVICE checksum|image\n")
        return 2
    bmap, devpath, mode = argv[1:4]
    size, bs, ctype, ranges = parse_bmap(bmap)
    if mode == "checksum" and ctype not in hashlib.algorithms_available:
        die("bmap %s: unknown checksum type %s" % (bmap, ctype))
    dev = Device(devpath)
    img = Image(sys.stdin.buffer) if mode == "image" else None
    total = sum(min((b + 1) * bs, size) - a * bs for a, b, _ in ranges)
    done = 0
    tty = sys.stderr.isatty()
    for a, b, ck in ranges:
        start, end = a * bs, min((b + 1) * bs, size)
        if img is None:
            if not ck:
                die("bmap range %d-%d has no checksum" % (a, b))
            h = hashlib.new(ctype)
            for c in dev.chunks(start, end - start):
                h.update(c)
                done += len(c)
            if h.hexdigest() != ck.lower():
                print("MISMATCH in blocks %d-%d (bytes %d-%d): card %s, bmap %s"
                      % (a, b, start, end - 1, h.hexdigest(), ck), flush=True)
                return 1
        else:
            img.skip_to(start)
            off = start
            for c in dev.chunks(start, end - start):
                if c != img.read(len(c)):
                    print("MISMATCH in blocks %d-%d (near byte %d)" % (a, b, off), flush=True)
                    return 1
                off += len(c)
                done += len(c)
        if tty:
            sys.stderr.write("\rverified %d of %d MiB" % (done >> 20, total >> 20))
    if tty:
        sys.stderr.write("\n")
    if img is not None:
        img.drain()
    print("ok %d ranges, %d bytes%s"
          % (len(ranges), done, "" if dev.direct else " (no O_DIRECT)"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
