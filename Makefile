# Raspberry Pi BSP in Rust: the user's entry point.
#
#   make            build everything and run the demo on the emulated Raspberry Pi
#   make test       build everything and run all test suites
#   make help       all targets and variables
#
# Every step is a script under scripts/ that does its own caching, so a second `make` with nothing
# changed does no kernel work and finishes in seconds.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

export RPIBSP_OUT ?= $(ROOT)/out
ifeq ($(or $(RPIBSP_CACHE),$(XDG_CACHE_HOME),$(HOME)),)
$(error HOME is not set, so there is no ~/.cache/rpi-bsp: set HOME, or RPIBSP_CACHE to a writable directory)
endif
export RPIBSP_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rpi-bsp

# BOARD: rpi3 (QEMU raspi3b, Raspberry Pi 3B/3B+) or rpi4 (QEMU raspi4b, Raspberry Pi 4B).
BOARD ?= rpi3
# KDIR: build the modules against your own configured and built Rust-enabled kernel tree instead
# of the BSP kernel (then the kernel, image and emulated-board targets are not available).
KDIR ?=
# SUITES: restrict `make test` to some suites, e.g. `make test SUITES="qemu dts"`.
SUITES ?=
# DIST: the Debian release of `make fresh-check` (bookworm or trixie).
DIST ?= bookworm
# SERIAL / TCP: the console of a real board for `make deploy` (default: the emulated board);
# NET: this machine's address on the board's network (the board fetches the files over it).
SERIAL ?=
TCP ?=
NET ?=

ifeq ($(filter $(BOARD),rpi3 rpi4),)
$(error BOARD must be rpi3 or rpi4, not '$(BOARD)')
endif

.PHONY: all demo help setup kernel modules dts userland rootfs initramfs image test bench \
	shellcheck clean distclean fresh-check run stop deploy

MACHINE := $(if $(filter rpi4,$(BOARD)),raspi4b,raspi3b)
OVL := $(RPIBSP_OUT)/boot/overlays

all: demo

help:
	@sed -n '/^## /s/^## //p' $(MAKEFILE_LIST)

## Targets:
##   all (default)  build everything, boot the emulated board and show the drivers working
##   setup          install what is missing (Debian 12/13; elsewhere: lists it; run by every build target)
##   kernel         the Rust-enabled BSP kernel (Image, modules, DTBs), cached by its inputs
##   modules        the BSP's Rust drivers (out of tree, top-level Kbuild) + kernel modules, staged
##   dts            the device-tree overlays and the merged DTBs for the emulated board
##   userland       the Rust userland tools (aarch64 for the board, host tools for the laptop)
##   initramfs      the emulated board's root filesystem as an initramfs
##   image          the SD-card image out/sdcard.img (+ .bmap, .sha256) for a real Pi
##   demo           boot the emulated board from the image and show the drivers working
##   run            start the emulated board in the background (its own card, console on TCP)
##   stop           power the emulated board of `make run` off
##   deploy         rebuild modules + tools, push them to a running board over its console,
##                  reload the drivers, run rpibsp-verify (SERIAL=/dev/ttyUSB0 or TCP=host:port
##                  for a real board; default: the emulated board of `make run`)
##   test           every test suite (tests/*/run.sh); prints "N passed, N failed"
##   bench          Rust drivers vs the in-tree C drivers on the emulated board (bench/README.md)
##   fresh-check    both README commands in a clean Debian DIST root, timed (root/sudo; README)
##   clean          remove $(RPIBSP_OUT); distclean also removes the cache $(RPIBSP_CACHE)
## Variables: BOARD=rpi3|rpi4, KDIR=<your kernel build>, SUITES="<suite> ...", DIST=bookworm|trixie,
##   SERIAL=<device>, TCP=<host:port>, NET=<this machine's address> (make deploy),
##   RPIBSP_OUT (default ./out), RPIBSP_CACHE (default ~/.cache/rpi-bsp)

setup:
	@$(ROOT)/scripts/setup.sh

ifeq ($(KDIR),)
kernel: setup
	@$(ROOT)/scripts/kernel.sh build >/dev/null

modules: kernel
	@$(ROOT)/scripts/modules.sh >/dev/null
else
kernel:
	$(error KDIR is set: the BSP kernel is not built; targets that need it are unavailable)

modules: setup
	@$(ROOT)/scripts/modules.sh $(abspath $(KDIR)) >/dev/null
endif

rootfs: modules userland
	@$(ROOT)/scripts/rootfs.sh $(RPIBSP_OUT)/rootfs \
		$$(ls -d $(RPIBSP_OUT)/modules-staging/lib/modules/* | head -n1) >/dev/null

initramfs: rootfs
	@$(ROOT)/scripts/initramfs.sh $(RPIBSP_OUT)/rootfs $(RPIBSP_OUT)/initramfs.cpio.gz >/dev/null
	@echo ">>> $(RPIBSP_OUT)/initramfs.cpio.gz"

dts: kernel
	@kb=$$($(ROOT)/scripts/kernel.sh builddir); \
	$(MAKE) -s --no-print-directory -C $(ROOT)/dts all KSRC=$$($(ROOT)/scripts/kernel.sh source) \
		DTB_DIR=$$kb/arch/arm64/boot/dts/broadcom OUT=$(RPIBSP_OUT); \
	for m in raspi3b raspi4b; do \
		$(ROOT)/scripts/qemu-dtb.sh $$m $(RPIBSP_OUT)/qemu/$$m.dtb $(OVL)/rpibsp.dtbo $(OVL)/rpibsp-emu.dtbo >/dev/null; \
	done

image: rootfs dts
	@$(ROOT)/scripts/image.sh $(RPIBSP_OUT)/rootfs $(OVL)/rpibsp.dtbo >/dev/null

demo: image
	@$(ROOT)/scripts/demo.sh $(MACHINE)

run: image
	@$(ROOT)/scripts/board.sh start $(MACHINE)

stop:
	@$(ROOT)/scripts/board.sh stop $(MACHINE)

deploy:
	@$(ROOT)/scripts/deploy.sh --machine $(MACHINE) $(if $(SERIAL),--serial $(SERIAL)) $(if $(TCP),--tcp $(TCP)) \
		$(if $(NET),--net $(NET))

bench: initramfs image dts
	@$(ROOT)/bench/run.sh

userland: setup
	@if [ -x $(ROOT)/userland/build.sh ]; then $(ROOT)/userland/build.sh; fi

test: initramfs image
	@$(ROOT)/tests/run-all.sh $(SUITES)

fresh-check:
	@$(ROOT)/scripts/fresh-check.sh $(DIST)

shellcheck:
	@cd $(ROOT) && git ls-files -z -- '*.sh' flash.sh .ci/run | xargs -0 shellcheck

clean:
	rm -rf $(RPIBSP_OUT)

distclean: clean
	rm -rf $(RPIBSP_CACHE)
