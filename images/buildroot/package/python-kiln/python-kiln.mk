################################################################################
#
# python-kiln
#
################################################################################

PYTHON_KILN_VERSION = $(KILN_VERSION)
PYTHON_KILN_SITE = $(KILN_SOURCE_DIR)
PYTHON_KILN_SITE_METHOD = local
PYTHON_KILN_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = $(KILN_RSYNC_EXCLUSIONS)
PYTHON_KILN_SETUP_TYPE = setuptools
# setup.py compiles the socket core (kiln.net, .pyx) with Cython.
PYTHON_KILN_DEPENDENCIES = host-python-cython
# Install the board-side payload only, as sdk/kiln/payload.py
# declares it: no host tooling, no kiln command.
PYTHON_KILN_ENV = KILN_PAYLOAD=board

# The TLS layer (kiln.net.tls) links OpenSSL; without the option it
# is not built (KILN_TLS=0, sdk/kiln/payload.py).
ifeq ($(BR2_PACKAGE_PYTHON_KILN_TLS),y)
PYTHON_KILN_DEPENDENCIES += openssl
# Kernel TLS (SSL_OP_ENABLE_KTLS, on in every Kiln context) needs
# OpenSSL configured with enable-ktls, which Buildroot's libopenssl
# has no option for: add it to the target string its Configure call
# starts with (OpenSSL checks that the toolchain has linux/tls.h).
ifeq ($(BR2_PACKAGE_LIBOPENSSL),y)
# check-package TypoInPackageVariable
LIBOPENSSL_TARGET_ARCH += enable-ktls
endif
else
PYTHON_KILN_ENV += KILN_TLS=0
endif

$(eval $(python-package))
