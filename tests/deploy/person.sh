#!/bin/sh
# A scripted person at the emulated board, for `rpibsp-verify --mode interactive` through
# rpibsp-hil (tests/deploy): reads rpibsp-verify's instructions (its stderr, through a fifo),
# passes each on to the console at once (so rpibsp-hil shows it to the laptop as it comes), and
# after a human-like 0.3 s presses or releases the named button on the gpio-sim chip.
sim=""
for c in /sys/devices/platform/*gpio-sim*/gpiochip* /sys/devices/platform/*/*gpio-sim*/gpiochip*; do
	[ -d "$c" ] && sim=$c && break
done
[ -n "$sim" ] || echo "person: no gpio-sim chip: cannot press anything" >&2
while IFS= read -r line; do
	echo "$line" >&2
	case "$line" in
	*">>> Press and hold the button on GPIO "* | *">>> Release the button on GPIO "*)
		n=${line#*on GPIO }
		n=${n%% *}
		sleep 0.3
		case "$line" in
		*Press*) echo pull-down >"$sim/sim_gpio$n/pull" ;;
		*) echo pull-up >"$sim/sim_gpio$n/pull" ;;
		esac
		;;
	esac
done
