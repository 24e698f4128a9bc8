#!/usr/bin/env python3
"""An emulated board on a lab bench: QEMU behind a power switch and an RFC 2217 console server.

    emulated-bench.py --state-dir DIR -- qemu-system-aarch64 -M raspi3b ...

What a lab host offers for a real board, for QEMU, on loopback only:
  - a power switch with labgrid's "rest" protocol (NetworkPowerPort model rest):
        GET  http://127.0.0.1:PORT/power/0  -> "1" (on) or "0" (off)
        PUT  http://127.0.0.1:PORT/power/0  with "1" starts QEMU, with "0" stops it
    (the raspi machines never power off by themselves: "off" is QEMU stopped from outside);
  - the board's console as an RFC 2217 server (pyserial's PortManager, as ser2net offers a
    USB-serial adapter): QEMU's first UART is connected to the bench (`-serial tcp:...`, QEMU as
    the client), every byte goes to the RFC 2217 client connected at the time (one at a time; a
    new one replaces the old) and to DIR/console.log.
Both listen on 127.0.0.1 with ports chosen by the kernel; when they listen, DIR/bench.env is
written (RPIBSP_LAB_CONSOLE_PORT=..., RPIBSP_LAB_POWER_PORT=...) for the exporter's configuration.

QEMU gets `-serial tcp:127.0.0.1:PORT` and `-pidfile DIR/qemu.pid` appended, its output goes to
DIR/qemu.log, and it dies with the bench (PR_SET_PDEATHSIG). SIGTERM or SIGINT: QEMU is stopped,
then the bench exits. Needs pyserial (the labgrid venv has it).
"""

import argparse
import ctypes
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import serial
import serial.rfc2217

PR_SET_PDEATHSIG = 1


def log(msg):
    print(f"emulated-bench: {msg}", file=sys.stderr, flush=True)


class Line(serial.SerialBase):
    """The settings side of the emulated UART for PortManager: QEMU's UART has no real line
    settings, so they are kept and reported back; the modem lines are always ready."""

    def open(self):
        self.is_open = True

    def close(self):
        self.is_open = False

    def _reconfigure_port(self, force_update=False):
        pass

    def _update_break_state(self):
        pass

    def _update_rts_state(self):
        pass

    def _update_dtr_state(self):
        pass

    def reset_input_buffer(self):
        pass

    def reset_output_buffer(self):
        pass

    @property
    def cts(self):
        return True

    @property
    def dsr(self):
        return True

    @property
    def ri(self):
        return False

    @property
    def cd(self):
        return True


class Client:
    """One RFC 2217 connection."""

    def __init__(self, sock):
        self.sock = sock
        self.lock = threading.Lock()
        self.closed = False
        line = Line()
        line.baudrate = 115200
        self.rfc2217 = serial.rfc2217.PortManager(line, self)

    def write(self, data):  # PortManager's connection interface
        with self.lock:
            if not self.closed:
                try:
                    self.sock.sendall(data)
                except OSError:
                    self.close()

    def send_console(self, data):
        self.write(b"".join(self.rfc2217.escape(data)))

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


class Bench:
    def __init__(self, state_dir, qemu_cmd):
        self.dir = state_dir
        self.qemu_cmd = qemu_cmd
        self.lock = threading.RLock()
        self.qemu = None
        self.uart = None  # QEMU's connection to the bench
        self.client = None
        self.console_log = open(os.path.join(state_dir, "console.log"), "ab", buffering=0)
        self.uart_listener = self._listen()
        self.rfc2217_listener = self._listen()

    @staticmethod
    def _listen():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        return s

    # --- power -------------------------------------------------------------------------------

    def is_on(self):
        with self.lock:
            return self.qemu is not None and self.qemu.poll() is None

    def power_on(self):
        """Starts QEMU and waits for its UART to connect. Runs in the main thread only: the
        PDEATHSIG of QEMU is tied to the thread that started it."""
        with self.lock:
            if self.is_on():
                return
            self._reap()
            port = self.uart_listener.getsockname()[1]
            cmd = self.qemu_cmd + ["-serial", f"tcp:127.0.0.1:{port}",
                                   "-pidfile", os.path.join(self.dir, "qemu.pid")]
            qlog = open(os.path.join(self.dir, "qemu.log"), "ab")
            log("power on: " + " ".join(cmd))

            def child_setup():
                ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

            self.qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qlog,
                                         stderr=subprocess.STDOUT, preexec_fn=child_setup)
            qlog.close()
            self.uart_listener.settimeout(0.5)
            deadline = time.monotonic() + 30
            while True:
                try:
                    conn, _ = self.uart_listener.accept()
                    break
                except socket.timeout:
                    if self.qemu.poll() is not None or time.monotonic() > deadline:
                        rc = self.qemu.poll()
                        self._stop_qemu()
                        raise RuntimeError(f"QEMU did not connect its UART (exit status {rc}, see qemu.log)")
            conn.settimeout(None)
            self.uart = conn
            threading.Thread(target=self._pump_uart, args=(conn,), daemon=True).start()

    def power_off(self):
        with self.lock:
            if self.qemu is not None:
                log("power off")
            self._stop_qemu()

    def _stop_qemu(self):
        q, self.qemu = self.qemu, None
        if q is not None and q.poll() is None:
            q.terminate()
            try:
                q.wait(10)
            except subprocess.TimeoutExpired:
                q.kill()
                q.wait()
        if self.uart is not None:
            try:
                self.uart.close()
            except OSError:
                pass
            self.uart = None

    def _reap(self):
        if self.qemu is not None and self.qemu.poll() is not None:
            log(f"QEMU had exited (status {self.qemu.returncode})")
            self._stop_qemu()

    # --- console -----------------------------------------------------------------------------

    def _pump_uart(self, conn):
        """QEMU's UART -> the log and the connected RFC 2217 client."""
        while True:
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            if not data:
                return
            self.console_log.write(data)
            client = self.client
            if client is not None and not client.closed:
                client.send_console(data)

    def _serve_client(self, client):
        """The RFC 2217 client -> QEMU's UART (telnet and RFC 2217 commands filtered out)."""
        while not client.closed:
            try:
                data = client.sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                break
            payload = b"".join(client.rfc2217.filter(data))
            uart = self.uart
            if payload and uart is not None:
                try:
                    uart.sendall(payload)
                except OSError:
                    pass
        client.close()

    def accept_clients(self):
        while True:
            try:
                sock, addr = self.rfc2217_listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            old, self.client = self.client, None
            if old is not None:
                log("console: a new client replaces the connected one")
                old.close()
            self.client = Client(sock)
            log(f"console: client {addr[0]}:{addr[1]} connected")
            threading.Thread(target=self._serve_client, args=(self.client,), daemon=True).start()


def make_power_handler(bench):
    class PowerHandler(http.server.BaseHTTPRequestHandler):
        def _index_ok(self):
            if self.path.rstrip("/") != "/power/0":
                self.send_error(404, "only /power/0")
                return False
            return True

        def _reply(self, code, text):
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            if self._index_ok():
                self._reply(200, "1" if bench.is_on() else "0")

        def do_PUT(self):  # noqa: N802
            if not self._index_ok():
                return
            length = int(self.headers.get("Content-Length") or 0)
            value = self.rfile.read(length).strip()
            try:
                if value == b"1":
                    bench.power_on()
                elif value == b"0":
                    bench.power_off()
                else:
                    self._reply(400, "send 0 or 1")
                    return
            except Exception as e:  # reported to labgrid's NetworkPowerDriver
                self._reply(500, str(e))
                return
            self._reply(200, "1" if bench.is_on() else "0")

        def log_message(self, fmt, *args):
            log("power: " + fmt % args)

    return PowerHandler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--power-on", action="store_true", help="start QEMU at once")
    ap.add_argument("qemu", nargs=argparse.REMAINDER, help="-- QEMU command line")
    args = ap.parse_args()
    qemu = args.qemu[1:] if args.qemu[:1] == ["--"] else args.qemu
    if not qemu:
        ap.error("no QEMU command line after --")
    os.makedirs(args.state_dir, exist_ok=True)

    bench = Bench(args.state_dir, qemu)
    # Single-threaded HTTP server in the main thread: QEMU is started from here (PDEATHSIG).
    httpd = http.server.HTTPServer(("127.0.0.1", 0), make_power_handler(bench))
    threading.Thread(target=bench.accept_clients, daemon=True).start()

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if args.power_on:
            bench.power_on()
        env = os.path.join(args.state_dir, "bench.env")
        with open(env + ".tmp", "w") as f:
            f.write(f"RPIBSP_LAB_CONSOLE_PORT={bench.rfc2217_listener.getsockname()[1]}\n"
                    f"RPIBSP_LAB_POWER_PORT={httpd.server_address[1]}\n")
        os.replace(env + ".tmp", env)
        log(f"ready: console rfc2217://127.0.0.1:{bench.rfc2217_listener.getsockname()[1]}, "
            f"power http://127.0.0.1:{httpd.server_address[1]}/power/0")
        httpd.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        bench.power_off()
        httpd.server_close()
        bench.rfc2217_listener.close()
        bench.uart_listener.close()
        log("stopped")


if __name__ == "__main__":
    main()
