################################################################################
#
# rpibsp-rust: build the Linux kernel with Rust support
#
################################################################################

# This extension does not modify the kernel tree, so it does not register in
# LINUX_EXTENSIONS (that mechanism adds a package named after the extension to
# the kernel's patch dependencies and calls its <NAME>_PREPARE_KERNEL hook).
# It only adds host tools and make variables to the kernel build, which is
# included from linux/linux.mk before the kconfig-package is evaluated.
ifeq ($(BR2_LINUX_KERNEL_EXT_RPIBSP_RUST),y)

RPIBSP_RUST_HOST_TOOLS = \
	host-clang \
	host-lld \
	host-llvm \
	host-rust-bindgen \
	host-rust-src \
	host-rustc

# Absolute paths everywhere, so that nothing is taken from the build
# machine. LLVM=<dir>/ is the prefix form of LLVM=1 (CC=<dir>/clang,
# LD=<dir>/ld.lld, AR=<dir>/llvm-ar, ...).
#
# CC: the real clang, not Buildroot's toolchain wrapper ($(HOST_DIR)/bin/clang
# -> toolchain-wrapper-clang): the wrapper adds -Wl,-z,max-page-size=4096 for
# aarch64, which clang reports as an unused argument when compiling (-c), and
# the kernel builds with -Werror=unused-command-line-argument.
#
# HOSTCC: linux.mk passes HOSTCC="gcc <cflags> <ldflags>", but the kernel also
# uses HOSTCC as rustc's linker (-Clinker=$(HOSTCC) for the proc-macro crates
# and host Rust programs), which must be a single word. So pass the plain host
# compiler and its flags through the kernel's HOSTCFLAGS/HOSTLDFLAGS (the later
# HOSTCC= on the command line wins).
RPIBSP_RUST_MAKE_FLAGS = \
	LLVM=$(HOST_DIR)/bin/ \
	CC=$(HOST_DIR)/bin/clang.br_real \
	HOSTCC="$(HOSTCC_NOCCACHE)" \
	HOSTCFLAGS="$(subst -I/,-isystem /,$(subst -I /,-isystem /,$(HOST_CFLAGS)))" \
	HOSTLDFLAGS="$(HOST_LDFLAGS)" \
	RUSTC=$(HOST_DIR)/bin/rustc \
	HOSTRUSTC=$(HOST_DIR)/bin/rustc \
	RUSTDOC=$(HOST_DIR)/bin/rustdoc \
	BINDGEN=$(HOST_DIR)/bin/bindgen \
	RUST_LIB_SRC=$(HOST_DIR)/lib/rustlib/src/rust/library

# bindgen loads libclang.so at run time.
RPIBSP_RUST_MAKE_ENV = \
	LIBCLANG_PATH=$(HOST_DIR)/lib

# The kernel probes rustc, bindgen, libclang and RUST_LIB_SRC while it is
# configured (scripts/rust_is_available.sh): without them Kconfig silently
# drops CONFIG_RUST. So they are kconfig dependencies (which pkg-kconfig
# also adds to the build dependencies, and to the per-package host
# directory the configuration runs with).
# check-package TypoInPackageVariable
LINUX_KCONFIG_DEPENDENCIES += $(RPIBSP_RUST_HOST_TOOLS)
# LINUX_KCONFIG_OPTS and the kernel-module infrastructure reuse these.
# check-package TypoInPackageVariable
LINUX_MAKE_FLAGS += $(RPIBSP_RUST_MAKE_FLAGS)
# check-package TypoInPackageVariable
LINUX_MAKE_ENV += $(RPIBSP_RUST_MAKE_ENV)

# linux.mk adds this gcc-only warning flag to KCFLAGS for gcc >= 8
# toolchains; clang rejects it (the kernel builds with
# -Werror=unknown-warning-option).
# check-package TypoInPackageVariable
LINUX_CFLAGS := $(filter-out -Wno-attribute-alias,$(LINUX_CFLAGS))

define RPIBSP_RUST_CHECK_CONFIG
	$(Q)if ! grep -q '^CONFIG_RUST=y$$' $(LINUX_DIR)/.config; then \
		echo "BR2_LINUX_KERNEL_EXT_RPIBSP_RUST=y but CONFIG_RUST is not set in $(LINUX_DIR)/.config." >&2; \
		echo "The kernel's diagnosis (make rustavailable):" >&2; \
		$(LINUX_MAKE_ENV) $(BR2_MAKE) $(LINUX_MAKE_FLAGS) -C $(LINUX_DIR) rustavailable >&2; \
		exit 1; \
	fi
endef
# check-package TypoInPackageVariable
LINUX_PRE_BUILD_HOOKS += RPIBSP_RUST_CHECK_CONFIG

endif
