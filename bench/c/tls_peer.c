/*
 * tls_peer.c - the one TLS server every tls_bench client variant talks to (OpenSSL 3).
 *
 * Usage: tls_peer MODE CERT KEY
 *   MODE  handshakes  accept connections one after the other: full TLS 1.3 handshake (no session
 *                     tickets, so no resumption), then wait for the client's close; until killed
 *         sink        one connection: handshake, then SSL_read into a 256 KiB buffer until EOF
 *         source      one connection: handshake, then SSL_write 64 KiB chunks until the client
 *                     goes away
 *   CERT  the server's certificate chain (PEM, leaf first); KEY its private key
 *
 * The peer binds 127.0.0.1 on an ephemeral port and prints "PORT <n>\n" on stdout.  Because the
 * same binary serves every client (C, CPython, Kiln), the benchmark compares clients only.
 * OpenSSL's defaults otherwise (cipher preference: TLS_AES_256_GCM_SHA384 first; kernel TLS
 * enabled where the kernel offers it, as Kiln's contexts do).  Errors: stderr, exit status 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define CHUNK (64 * 1024)
#define SINK_BUF (256 * 1024)

static void die(const char *what)
{
    fprintf(stderr, "tls_peer: %s: %s\n", what, strerror(errno));
    ERR_print_errors_fp(stderr);
    exit(1);
}

static SSL *accept_tls(SSL_CTX *ctx, int lfd, int *out_fd)
{
    int fd;
    do {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        die("accept");
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1)
        die("SSL_new");
    *out_fd = fd;
    return ssl;
}

static void serve_handshakes(SSL_CTX *ctx, int lfd)
{
    char c;
    for (;;) {
        int fd;
        SSL *ssl = accept_tls(ctx, lfd, &fd);
        if (SSL_accept(ssl) == 1) {
            /* Wait for the client's close_notify (or EOF) before the next connection. */
            while (SSL_read(ssl, &c, 1) > 0)
                ;
        }
        ERR_clear_error();
        SSL_free(ssl);
        close(fd);
    }
}

static void serve_sink(SSL_CTX *ctx, int lfd)
{
    static char buf[SINK_BUF];
    int fd;
    SSL *ssl = accept_tls(ctx, lfd, &fd);
    if (SSL_accept(ssl) != 1)
        die("sink: SSL_accept");
    while (SSL_read(ssl, buf, sizeof buf) > 0)
        ;
    SSL_free(ssl);
    close(fd);
}

static void serve_source(SSL_CTX *ctx, int lfd)
{
    static char buf[CHUNK];
    memset(buf, 'k', sizeof buf);
    int fd;
    SSL *ssl = accept_tls(ctx, lfd, &fd);
    if (SSL_accept(ssl) != 1)
        die("source: SSL_accept");
    while (SSL_write(ssl, buf, sizeof buf) > 0)
        ;
    SSL_free(ssl);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: tls_peer handshakes|sink|source CERT KEY\n");
        return 2;
    }
    void (*serve)(SSL_CTX *, int);
    if (strcmp(argv[1], "handshakes") == 0)
        serve = serve_handshakes;
    else if (strcmp(argv[1], "sink") == 0)
        serve = serve_sink;
    else if (strcmp(argv[1], "source") == 0)
        serve = serve_source;
    else {
        fprintf(stderr, "tls_peer: unknown mode '%s'\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        die("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1)
        die("loading the certificate and key");

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind 127.0.0.1:0");
    if (listen(lfd, 64) < 0)
        die("listen");
    socklen_t alen = sizeof addr;
    if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
        die("getsockname");
    printf("PORT %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    serve(ctx, lfd);
    close(lfd);
    SSL_CTX_free(ctx);
    return 0;
}
