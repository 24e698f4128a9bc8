# shellcheck shell=bash
# (Needs scripts/lib.sh sourced first: free_port.)
# An emulated board with a UART on a loopback TCP server, for the suites that log in over it as a
# lab would (tests/image, tests/hil):
#   . "$RPIBSP_ROOT/tests/lib/qemu-tcp.sh"
#   qemu_tcp_start OUT ARGS...   qemu-system-aarch64 ARGS in the background, every "@PORT@" in ARGS
#                                replaced by a free loopback port chosen here; waits until the port
#                                accepts; sets qpid and port (three tries: the port can be taken
#                                meanwhile); QEMU's own output goes to OUT; status 1 if it never came up
#   stop_qemu                    stops it (for `trap stop_qemu EXIT`)
qpid="" port=""
qemu_tcp_start() {
	local out=$1 a
	local -a args
	shift
	for _ in 1 2 3; do
		port=$(free_port)
		args=()
		for a in "$@"; do args+=("${a//@PORT@/$port}"); done
		qemu-system-aarch64 "${args[@]}" </dev/null >"$out" 2>&1 &
		qpid=$!
		for _ in $(seq 100); do
			if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || ! kill -0 "$qpid" 2>/dev/null; then
				break
			fi
			sleep 0.1
		done
		kill -0 "$qpid" 2>/dev/null && return 0
		wait "$qpid" 2>/dev/null || true # the port was taken meanwhile: another one
		qpid=""
	done
	return 1
}
stop_qemu() {
	if [ -n "$qpid" ]; then
		kill "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
		qpid=""
	fi
}
