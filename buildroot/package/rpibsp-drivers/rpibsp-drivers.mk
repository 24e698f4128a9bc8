################################################################################
#
# rpibsp-drivers
#
################################################################################

# The sources are this repository's working tree (the br2-external tree is its
# buildroot/ subdirectory): the top-level Kbuild builds the three modules from
# drivers/, like the offline build does (make -C <kernel> M=<repository>).
RPIBSP_DRIVERS_SITE = $(abspath $(BR2_EXTERNAL_RPIBSP_PATH)/..)
RPIBSP_DRIVERS_SITE_METHOD = local
RPIBSP_DRIVERS_LICENSE = GPL-2.0

# Copy only the Kbuild files and the Rust sources: not out/, buildroot/ or
# userland/, nor objects that an offline build may have left next to the
# sources (they would look up to date to make).
RPIBSP_DRIVERS_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--include='/Kbuild' \
	--include='/drivers/' \
	--include='/drivers/**/' \
	--include='/drivers/**/Kbuild' \
	--include='/drivers/**/Makefile' \
	--include='/drivers/**.rs' \
	--exclude='*'

RPIBSP_DRIVERS_MODULES = rpibsp_button rpibsp_led rpibsp_devicemodel

# They are Rust modules: make sure Kconfig keeps Rust support on.
RPIBSP_DRIVERS_LINUX_CONFIG_FIXUPS = \
	$(call KCONFIG_ENABLE_OPT,CONFIG_RUST)

$(eval $(kernel-module))

# Fail here, not at boot, if the Kbuild stopped building one of them.
define RPIBSP_DRIVERS_CHECK_MODULES
	$(foreach m,$(RPIBSP_DRIVERS_MODULES), \
		$(Q)test -n "$$(find $(@D) -name $(m).ko)" || { \
			echo "rpibsp-drivers: $(m).ko was not built" >&2; \
			exit 1; \
		}$(sep))
endef
RPIBSP_DRIVERS_POST_BUILD_HOOKS += RPIBSP_DRIVERS_CHECK_MODULES

$(eval $(generic-package))
