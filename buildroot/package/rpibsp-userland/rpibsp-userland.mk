################################################################################
#
# rpibsp-userland
#
################################################################################

# The Cargo workspace in this repository's userland/ (the br2-external tree is
# the buildroot/ subdirectory of the same repository).
RPIBSP_USERLAND_SITE = $(abspath $(BR2_EXTERNAL_RPIBSP_PATH)/..)
RPIBSP_USERLAND_SITE_METHOD = local
RPIBSP_USERLAND_SUBDIR = userland
# As declared by the workspace (userland/Cargo.toml).
RPIBSP_USERLAND_LICENSE = MIT or GPL-2.0

# userland/ plus the one file it includes from the kernel side with #[path]:
# the devicemodel ioctl ABI. Not its target/ directory, nor the rest of the
# repository (out/ can be large).
RPIBSP_USERLAND_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude='/userland/target/' \
	--include='/userland/***' \
	--include='/drivers/' \
	--include='/drivers/devicemodel/' \
	--include='/drivers/devicemodel/abi.rs' \
	--exclude='*'

# The binaries of the workspace installed in /usr/bin.
RPIBSP_USERLAND_BINS = rpibsp-verify

RPIBSP_USERLAND_PROFILE = $(if $(BR2_ENABLE_DEBUG),debug,release)
RPIBSP_USERLAND_VENDOR_CONFIG = $(RPIBSP_USERLAND_SRCDIR)/.br-cargo-vendor.toml

RPIBSP_USERLAND_CARGO_ENV = \
	CARGO_TARGET_DIR=$(RPIBSP_USERLAND_SRCDIR)/target
RPIBSP_USERLAND_CARGO_BUILD_OPTS = \
	--config $(RPIBSP_USERLAND_VENDOR_CONFIG) \
	$(foreach b,$(RPIBSP_USERLAND_BINS),--bin $(b))

# The cargo infrastructure vendors the dependencies when it downloads a
# package (support/download/cargo-post-process), and builds --offline
# --locked. A local package is never downloaded, so vendor here, the same
# way, into the rsynced copy, before the build. cargo checks every crate
# against the checksums of userland/Cargo.lock. The source replacement goes
# to a separate file passed with --config, so userland/.cargo/config.toml
# (if any) is left as it is.
define RPIBSP_USERLAND_CARGO_VENDOR
	mkdir -p $(BR_CARGO_HOME)
	cd $(RPIBSP_USERLAND_SRCDIR) && \
		$(HOST_MAKE_ENV) $(PKG_COMMON_CARGO_ENV) \
		flock $(BR_CARGO_HOME)/.br-lock \
		cargo vendor \
			--manifest-path Cargo.toml \
			--locked \
			$(RPIBSP_USERLAND_SRCDIR)/VENDOR \
			> $(RPIBSP_USERLAND_VENDOR_CONFIG)
endef
RPIBSP_USERLAND_PRE_CONFIGURE_HOOKS += RPIBSP_USERLAND_CARGO_VENDOR

# A workspace has no single package for "cargo install --path": install the
# binaries that "cargo build" produced.
define RPIBSP_USERLAND_INSTALL_TARGET_CMDS
	$(foreach b,$(RPIBSP_USERLAND_BINS), \
		$(INSTALL) -D -m 0755 \
			$(RPIBSP_USERLAND_SRCDIR)/target/$(RUSTC_TARGET_NAME)/$(RPIBSP_USERLAND_PROFILE)/$(b) \
			$(TARGET_DIR)/usr/bin/$(b)$(sep))
endef

$(eval $(cargo-package))
