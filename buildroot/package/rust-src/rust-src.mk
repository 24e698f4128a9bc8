################################################################################
#
# rust-src
#
################################################################################

# The standard library sources must match the compiler exactly, so
# follow whichever package provides host-rustc (both are kept at the
# same version by Buildroot).
ifeq ($(BR2_PACKAGE_HOST_RUST),y)
RUST_SRC_VERSION = $(RUST_VERSION)
else
RUST_SRC_VERSION = $(RUST_BIN_VERSION)
endif

# The official rust-src component is not part of the standalone
# rust-<version>-<host>.tar.xz installer that host-rust-bin uses, so
# take library/ from the rustc source tarball instead: the very file
# package/rust builds from, downloaded into the same directory, and
# with the hash Buildroot publishes for it in package/rust/rust.hash.
RUST_SRC_SOURCE = rustc-$(RUST_SRC_VERSION)-src.tar.xz
RUST_SRC_SITE = https://static.rust-lang.org/dist
RUST_SRC_DL_SUBDIR = rust
RUST_SRC_LICENSE = Apache-2.0 or MIT
RUST_SRC_LICENSE_FILES = LICENSE-APACHE LICENSE-MIT

# host-rustc is not needed to unpack sources, but depending on it lets
# the install step check that both come from the same release.
HOST_RUST_SRC_DEPENDENCIES = host-rustc

# Only extract what is needed (library/ and the licenses), not the
# whole compiler source tree.
define HOST_RUST_SRC_EXTRACT_CMDS
	$(call suitable-extractor,$(HOST_RUST_SRC_SOURCE)) \
		$(HOST_RUST_SRC_DL_DIR)/$(HOST_RUST_SRC_SOURCE) | \
		$(TAR) --strip-components=1 -C $(@D) $(TAR_OPTIONS) - \
			rustc-$(RUST_SRC_VERSION)-src/library \
			rustc-$(RUST_SRC_VERSION)-src/LICENSE-APACHE \
			rustc-$(RUST_SRC_VERSION)-src/LICENSE-MIT
endef

define HOST_RUST_SRC_INSTALL_CMDS
	$(Q)$(HOST_DIR)/bin/rustc --version | grep -q '^rustc $(RUST_SRC_VERSION) ' || { \
		echo "host-rust-src $(RUST_SRC_VERSION) does not match `$(HOST_DIR)/bin/rustc --version`" >&2; \
		exit 1; \
	}
	rm -rf $(HOST_DIR)/lib/rustlib/src/rust/library
	mkdir -p $(HOST_DIR)/lib/rustlib/src/rust
	cp -a $(@D)/library $(HOST_DIR)/lib/rustlib/src/rust/library
endef

$(eval $(host-generic-package))
