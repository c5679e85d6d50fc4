"""The TLS layer for the faces' TLS modules (:mod:`kiln.net.utls`, :mod:`kiln.net.ussl`,
:mod:`kiln.net.zssl`), or an ImportError that says how to get it.

An image carries the TLS layer (:mod:`kiln.net.tls`, OpenSSL) only when its app needs it, so on
an image built without TLS the app's ``import ssl`` must fail with the fix, not with a bare
"No module named" about a Kiln internal.
"""

#: How to get TLS, named by the error (the image builder's option, Buildroot's).
HOW = ("rebuild the image with `kiln image build --with tls` (an app whose code imports ssl, "
       "tls or ussl, or uses IPPROTO_SEC, gets it without the option); with Buildroot, "
       "enable BR2_PACKAGE_PYTHON_KILN_TLS")


def tls_layer(module):
    """The :mod:`kiln.net.tls` module; ``ImportError`` naming ``module`` (what the app imported,
    e.g. ``"ssl"``) and the fix when this image has no TLS.  Does not block."""
    try:
        from kiln.net import tls
    except ImportError as exc:
        raise ImportError(f"{module}: this image has no TLS ({exc}); {HOW}",
                          name="kiln.net.tls") from exc
    return tls
