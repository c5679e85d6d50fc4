################################################################################
#
# kiln-init
#
################################################################################

# The init (images/init), the board files (board_configs/) and the
# demo app come from Kiln's source tree, like python-kiln.  The app is
# installed by Kiln's own rules (app_files.py: a directory is copied
# whole, what cannot go on a board is refused).
KILN_INIT_VERSION = $(KILN_VERSION)
KILN_INIT_SITE = $(KILN_SOURCE_DIR)
KILN_INIT_SITE_METHOD = local
KILN_INIT_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = $(KILN_RSYNC_EXCLUSIONS)
# /sbin/init replaces BusyBox's link of the same name; the board
# files are written with Kiln's board loader, run by the host Python.
KILN_INIT_DEPENDENCIES = busybox host-python3

KILN_INIT_BOARD = $(call qstrip,$(BR2_PACKAGE_KILN_INIT_BOARD))
KILN_INIT_APP = $(call qstrip,$(BR2_PACKAGE_KILN_INIT_APP))
# The image has the Wi-Fi stack: board.env names the radio.
KILN_INIT_WIFI = $(if $(BR2_PACKAGE_PYTHON_KILN_WIFI),--wifi)

ifeq ($(BR2_PACKAGE_KILN_INIT)$(BR_BUILDING),yy)
ifeq ($(KILN_INIT_BOARD),)
$(error BR2_PACKAGE_KILN_INIT_BOARD is empty: set it to a board of Kiln's board_configs/)
endif
endif

define KILN_INIT_INSTALL_TARGET_CMDS
	$(HOST_DIR)/bin/python3 $(KILN_INIT_PKGDIR)/board_files.py \
		$(@D) $(KILN_INIT_BOARD) $(TARGET_DIR) $(KILN_INIT_WIFI)
	$(INSTALL) -D -m 0755 $(@D)/images/init $(TARGET_DIR)/sbin/init
	$(HOST_DIR)/bin/python3 $(KILN_INIT_PKGDIR)/app_files.py \
		$(@D) "$(KILN_INIT_APP)" $(TARGET_DIR)/app
endef

$(eval $(generic-package))
