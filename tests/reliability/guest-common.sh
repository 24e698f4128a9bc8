# shellcheck shell=sh
# shellcheck disable=SC2034 # the variables are for the scripts that source this file
# Helpers of the reliability suite's guest scripts (busybox sh), after /rpibsp/lib.sh; copied to
# /rpibsp/guest-common.sh by tests/reliability/run.sh.
R=/rpibsp/reltool
E=/rpibsp/evtool
T=/tmp/rel
mkdir -p "$T"
SIM=$(find /sys/devices/platform/gpio-simulator -maxdepth 1 -name 'gpiochip*' | head -n1)
BTN=/sys/bus/platform/drivers/rpibsp-button
LED=/sys/class/leds/rpibsp-led
DMDEV=/sys/bus/platform/devices/rpibsp-devicemodel
NODE=/dev/rpibsp-devicemodel
KEY_ON=148 KEY_OFF=149

arg() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" /proc/cmdline; } # arg NAME: a number from the command line
pull() { echo "$2" >"$SIM/sim_gpio$1/pull"; }                # pull LINE pull-up|pull-down
attr() { cat "/sys/devices/platform/rpibsp-button-$1/$2"; }   # attr BUTTON NAME
evdev() { $E find "rpibsp-button-$1"; }
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
count() { grep -c "^ev [^ ]* [^ ]* 1 $2 $3\$" "$1"; } # count FILE CODE VALUE: key events in a recording
uptime_s() { cut -d' ' -f1 /proc/uptime; }
since() { awk "BEGIN { printf \"%.0f\", $(uptime_s) - $1 }"; } # since T0: whole seconds since T0

# The kernel's reports, as tests/qemu/boot.sh looks for them, for a check at the end of each item.
klog_clean() {
	! dmesg | grep -qE 'BUG:|WARNING:|KASAN|kmemleak: [0-9]+ new|circular locking|recursive locking|inconsistent lock state|sleeping function called from invalid context|Oops|Call trace:|list_(add|del) corruption|refcount_t:'
}
# item_begin / item_end NAME CASES: one item of the summary; item_end checks the kernel log and
# prints "# SUMMARY|NAME|CASES|<failed checks in the item>|<seconds>" for run.sh's table.
ITEM_START=0 ITEM_FAILED=0
item_begin() {
	ITEM_START=$(uptime_s) ITEM_FAILED=$TAP_FAILED
}
item_end() {
	check "$1: kernel log clean (no oops, sanitizer, lockdep or atomic-sleep report)" klog_clean
	echo "# SUMMARY|$1|$2|$((TAP_FAILED - ITEM_FAILED))|$(since "$ITEM_START")"
}
