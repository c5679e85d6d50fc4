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
# OpenSSL inside the TLS layer: OpenSSL configured with Kiln's
# options (Configure arguments, one per line), its static libraries
# linked into kiln.net.tls (setup.py), and its shared libraries
# removed from the target unless another program needs them -- then
# the CA certificates stay only as the bundle Kiln's TLS reads.
ifeq ($(BR2_PACKAGE_PYTHON_KILN_TLS_OWN_OPENSSL),y)
PYTHON_KILN_OPENSSL_OPTIONS = \
	$(shell sed -e 's/\#.*//' $(KILN_SOURCE_DIR)/images/openssl.options)
# check-package TypoInPackageVariable
LIBOPENSSL_TARGET_ARCH += $(PYTHON_KILN_OPENSSL_OPTIONS)
PYTHON_KILN_ENV += KILN_OPENSSL_STATIC=$(STAGING_DIR)/usr/lib
define PYTHON_KILN_DROP_UNUSED_OPENSSL
	if ! find $(TARGET_DIR) -type f \( -perm -u+x -o -name '*.so*' \) \
		! -name 'libssl.so*' ! -name 'libcrypto.so*' \
		-exec $(TARGET_READELF) -d {} + 2>/dev/null | \
		grep -q 'NEEDED.*\[lib\(ssl\|crypto\)\.so'; then \
		rm -f $(TARGET_DIR)/usr/lib/libssl.so* \
			$(TARGET_DIR)/usr/lib/libcrypto.so* ; \
		find $(TARGET_DIR)/etc/ssl/certs -type l -delete ; \
		rm -rf $(TARGET_DIR)/usr/share/ca-certificates ; \
	fi
endef
PYTHON_KILN_TARGET_FINALIZE_HOOKS += PYTHON_KILN_DROP_UNUSED_OPENSSL
endif
else
PYTHON_KILN_ENV += KILN_TLS=0
endif

$(eval $(python-package))
