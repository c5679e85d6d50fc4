# C declarations of the OpenSSL 3 calls Kiln's TLS layer (kiln.net.tls) makes: libssl for the
# protocol, libcrypto for certificates, keys and the error queue.  Only kiln.net.tls cimports this
# file, so only that module links OpenSSL (an image without TLS carries neither).  Values of the
# constants come from the target's headers at compile time.  Some of these are macros over
# SSL_ctrl/BIO_ctrl in the headers; Cython calls them like functions.
from libc.stdint cimport uint64_t

cdef extern from "<openssl/ssl.h>" nogil:
    ctypedef struct SSL_CTX
    ctypedef struct SSL
    ctypedef struct SSL_METHOD
    ctypedef struct SSL_CIPHER
    ctypedef struct X509
    ctypedef struct X509_STORE
    ctypedef struct X509_VERIFY_PARAM
    ctypedef struct EVP_PKEY
    ctypedef struct BIO
    ctypedef struct OPENSSL_STACK
    ctypedef struct stack_st_SSL_CIPHER "struct stack_st_SSL_CIPHER"

    const SSL_METHOD *TLS_method()
    SSL_CTX *SSL_CTX_new(const SSL_METHOD *method)
    void SSL_CTX_free(SSL_CTX *ctx)
    uint64_t SSL_CTX_set_options(SSL_CTX *ctx, uint64_t op)
    uint64_t SSL_CTX_clear_options(SSL_CTX *ctx, uint64_t op)
    uint64_t SSL_CTX_get_options(const SSL_CTX *ctx)
    long SSL_CTX_set_mode(SSL_CTX *ctx, long mode)
    int SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version)
    int SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version)
    int SSL_CTX_get_min_proto_version(SSL_CTX *ctx)
    int SSL_CTX_get_max_proto_version(SSL_CTX *ctx)
    void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, void *callback)
    int SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *CAfile, const char *CApath)
    X509_STORE *SSL_CTX_get_cert_store(const SSL_CTX *ctx)
    int SSL_CTX_use_certificate(SSL_CTX *ctx, X509 *x)
    int SSL_CTX_use_PrivateKey(SSL_CTX *ctx, EVP_PKEY *pkey)
    int SSL_CTX_add1_chain_cert(SSL_CTX *ctx, X509 *x509)
    int SSL_CTX_clear_chain_certs(SSL_CTX *ctx)
    int SSL_CTX_check_private_key(const SSL_CTX *ctx)
    int SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *s)
    int SSL_CTX_set_ciphersuites(SSL_CTX *ctx, const char *s)
    stack_st_SSL_CIPHER *SSL_CTX_get_ciphers(const SSL_CTX *ctx)
    int SSL_CTX_set_session_id_context(SSL_CTX *ctx, const unsigned char *sid_ctx,
                                       unsigned int sid_ctx_len)
    int sk_SSL_CIPHER_num(const stack_st_SSL_CIPHER *sk)
    const SSL_CIPHER *sk_SSL_CIPHER_value(const stack_st_SSL_CIPHER *sk, int i)

    SSL *SSL_new(SSL_CTX *ctx)
    void SSL_free(SSL *ssl)
    int SSL_set_fd(SSL *ssl, int fd)
    int SSL_get_fd(const SSL *ssl)
    void SSL_set_connect_state(SSL *ssl)
    void SSL_set_accept_state(SSL *ssl)
    int SSL_do_handshake(SSL *ssl)
    int SSL_is_init_finished(const SSL *s)
    int SSL_read(SSL *ssl, void *buf, int num)
    int SSL_peek(SSL *ssl, void *buf, int num)
    int SSL_write(SSL *ssl, const void *buf, int num)
    int SSL_shutdown(SSL *ssl)
    int SSL_get_error(const SSL *ssl, int ret)
    int SSL_pending(const SSL *ssl)
    int SSL_want(const SSL *s)
    int SSL_set_tlsext_host_name(SSL *s, const char *name)
    int SSL_set1_host(SSL *s, const char *hostname)
    X509_VERIFY_PARAM *SSL_get0_param(SSL *ssl)
    long SSL_get_verify_result(const SSL *ssl)
    X509 *SSL_get1_peer_certificate(const SSL *s)
    const SSL_CIPHER *SSL_get_current_cipher(const SSL *s)
    const char *SSL_CIPHER_get_name(const SSL_CIPHER *c)
    const char *SSL_CIPHER_standard_name(const SSL_CIPHER *c)
    const char *SSL_CIPHER_get_version(const SSL_CIPHER *c)
    int SSL_CIPHER_get_bits(const SSL_CIPHER *c, int *alg_bits)
    const char *SSL_get_version(const SSL *s)
    BIO *SSL_get_rbio(const SSL *s)
    BIO *SSL_get_wbio(const SSL *s)
    const char *SSL_alert_desc_string_long(int value)

    enum:
        SSL_ERROR_NONE
        SSL_ERROR_SSL
        SSL_ERROR_WANT_READ
        SSL_ERROR_WANT_WRITE
        SSL_ERROR_SYSCALL
        SSL_ERROR_ZERO_RETURN
        SSL_WRITING
        SSL_VERIFY_NONE
        SSL_VERIFY_PEER
        SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        SSL_MODE_ENABLE_PARTIAL_WRITE
        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
        SSL_MODE_AUTO_RETRY
        SSL_MODE_RELEASE_BUFFERS
        TLS1_2_VERSION
        TLS1_3_VERSION
        SSL_AD_REASON_OFFSET
        SSL_R_UNEXPECTED_EOF_WHILE_READING
        SSL_R_CERTIFICATE_VERIFY_FAILED
        SSL_R_WRONG_VERSION_NUMBER
        SSL_R_UNSUPPORTED_PROTOCOL
        SSL_R_NO_PROTOCOLS_AVAILABLE
        SSL_R_TLSV1_ALERT_PROTOCOL_VERSION
        SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE
        SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED
        SSL_R_NO_SHARED_CIPHER
    uint64_t SSL_OP_ENABLE_KTLS
    uint64_t SSL_OP_NO_RENEGOTIATION
    uint64_t SSL_OP_NO_COMPRESSION
    uint64_t SSL_OP_CIPHER_SERVER_PREFERENCE
    int ERR_LIB_SSL

cdef extern from "<openssl/bio.h>" nogil:
    BIO *BIO_new_mem_buf(const void *buf, int len)
    int BIO_free(BIO *a)
    long BIO_get_ktls_send(BIO *b)
    long BIO_get_ktls_recv(BIO *b)

cdef extern from "<openssl/x509.h>" nogil:
    void X509_free(X509 *a)
    int X509_STORE_add_cert(X509_STORE *ctx, X509 *x)
    X509 *d2i_X509(X509 **px, const unsigned char **inp, long length)
    int i2d_X509(X509 *a, unsigned char **out)
    const char *X509_verify_cert_error_string(long n)
    int X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *param, const char *ipasc)
    enum:
        X509_V_OK
        X509_V_ERR_CERT_HAS_EXPIRED
        X509_V_ERR_CERT_NOT_YET_VALID
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
        X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
        X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
        X509_V_ERR_HOSTNAME_MISMATCH
        X509_V_ERR_IP_ADDRESS_MISMATCH
        X509_V_ERR_CERT_REVOKED
        X509_V_ERR_INVALID_PURPOSE

cdef extern from "<openssl/evp.h>" nogil:
    void EVP_PKEY_free(EVP_PKEY *pkey)
    EVP_PKEY *d2i_AutoPrivateKey(EVP_PKEY **a, const unsigned char **pp, long length)

cdef extern from "<openssl/pem.h>" nogil:
    X509 *PEM_read_bio_X509(BIO *bp, X509 **x, void *cb, void *u)
    EVP_PKEY *PEM_read_bio_PrivateKey(BIO *bp, EVP_PKEY **x, void *cb, void *u)

cdef extern from "<openssl/err.h>" nogil:
    void ERR_clear_error()
    unsigned long ERR_get_error()
    unsigned long ERR_peek_error()
    unsigned long ERR_peek_last_error()
    const char *ERR_reason_error_string(unsigned long e)
    const char *ERR_lib_error_string(unsigned long e)
    int ERR_GET_LIB(unsigned long errcode)
    int ERR_GET_REASON(unsigned long errcode)

cdef extern from "<openssl/crypto.h>" nogil:
    const char *OpenSSL_version(int t)
    void OPENSSL_free(void *addr)
    enum:
        OPENSSL_VERSION
