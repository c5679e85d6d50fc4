/*
 * tls_client.c - the C reference client of tls_bench (OpenSSL 3 used directly): the same
 * measurements as the Python variants, so its rate is what OpenSSL itself can do.
 *
 * Usage: tls_client MEASURE PORT SECONDS WARMUP BATCH CAFILE
 *   MEASURE  handshake  connect, full handshake (verifying the chain against CAFILE and the name
 *                       "localhost"), close_notify, close -- one per iteration
 *            bulk_send  SSL_write 64 KiB chunks completely (peer: sink)
 *            bulk_recv  SSL_read until a 64 KiB buffer is full (peer: source)
 *   PORT, SECONDS, WARMUP, BATCH as in client.c; CAFILE the CA that signed the peer's certificate.
 *
 * The context is Kiln's client context: TLS 1.2 minimum, peer and host name verified, kernel TLS
 * enabled (SSL_OP_ENABLE_KTLS), partial writes and moving write buffers allowed.
 * Environment: KILN_BENCH_PEER_PID, if set, is the peer's pid: its CPU time is added to ours.
 * Prints {"ops": N, "seconds": T, "cpu_seconds": C, "client_cpu_seconds": K, "ktls": [s, r]}.
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
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define CHUNK (64 * 1024)

static void die(const char *what)
{
    fprintf(stderr, "tls_client: %s: %s\n", what, strerror(errno));
    ERR_print_errors_fp(stderr);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static clockid_t peer_clock;
static int have_peer_clock;

static double own_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double peer_cpu(void)
{
    struct timespec ts;
    if (!have_peer_clock)
        return 0;
    if (clock_gettime(peer_clock, &ts) < 0)
        die("clock_gettime(peer CPU clock)");
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void open_peer_clock(void)
{
    const char *pid = getenv("KILN_BENCH_PEER_PID");
    if (pid == NULL || *pid == '\0')
        return;
    char *endp;
    long value = strtol(pid, &endp, 10);
    if (*endp || value <= 0) {
        fprintf(stderr, "tls_client: KILN_BENCH_PEER_PID must be a pid, got '%s'\n", pid);
        exit(2);
    }
    int err = clock_getcpuclockid((pid_t)value, &peer_clock);
    if (err) {
        errno = err;
        die("clock_getcpuclockid(KILN_BENCH_PEER_PID)");
    }
    have_peer_clock = 1;
}

static int connect_peer(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("connect 127.0.0.1");
    return fd;
}

static SSL *tls_connect(SSL_CTX *ctx, int port, int *out_fd)
{
    int fd = connect_peer(port);
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1)
        die("SSL_new");
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    if (SSL_connect(ssl) != 1)
        die("SSL_connect");
    *out_fd = fd;
    return ssl;
}

#define TIMED_LOOP(seconds, batch, body)                                                           \
    do {                                                                                           \
        double end_ = now() + (seconds);                                                           \
        do {                                                                                       \
            for (long i_ = 0; i_ < (batch); i_++) {                                                \
                body;                                                                              \
            }                                                                                      \
        } while (now() < end_);                                                                    \
    } while (0)

struct result {
    long long ops;
    double seconds, cpu_seconds, client_cpu_seconds;
    int ktls_send, ktls_recv;
};

#define MEASURED(body)                                                                             \
    do {                                                                                           \
        TIMED_LOOP(warmup, batch, body);                                                           \
        ops = 0;                                                                                   \
        double k0 = own_cpu(), p0 = peer_cpu(), t0 = now();                                       \
        TIMED_LOOP(seconds, batch, body);                                                          \
        res->seconds = now() - t0;                                                                 \
        res->client_cpu_seconds = own_cpu() - k0;                                                  \
        res->cpu_seconds = res->client_cpu_seconds + peer_cpu() - p0;                              \
        res->ops = ops;                                                                            \
    } while (0)

static void handshake(SSL_CTX *ctx, int port, double seconds, double warmup, long batch,
                      struct result *res)
{
    long long ops = 0;
#define HANDSHAKE_BODY                                                                             \
    {                                                                                              \
        int fd;                                                                                    \
        SSL *ssl = tls_connect(ctx, port, &fd);                                                    \
        SSL_shutdown(ssl);                                                                         \
        SSL_free(ssl);                                                                             \
        close(fd);                                                                                 \
        ops++;                                                                                     \
    }
    MEASURED(HANDSHAKE_BODY);
}

static void bulk_send(SSL_CTX *ctx, int port, double seconds, double warmup, long batch,
                      struct result *res)
{
    static char chunk[CHUNK];
    memset(chunk, 'b', sizeof chunk);
    int fd;
    SSL *ssl = tls_connect(ctx, port, &fd);
    res->ktls_send = BIO_get_ktls_send(SSL_get_wbio(ssl)) ? 1 : 0;
    res->ktls_recv = BIO_get_ktls_recv(SSL_get_rbio(ssl)) ? 1 : 0;
    long long ops = 0;
#define BULK_SEND_BODY                                                                             \
    {                                                                                              \
        size_t sent = 0;                                                                           \
        while (sent < sizeof chunk) {                                                              \
            int w = SSL_write(ssl, chunk + sent, (int)(sizeof chunk - sent));                      \
            if (w <= 0)                                                                            \
                die("bulk_send: SSL_write");                                                       \
            sent += (size_t)w;                                                                     \
        }                                                                                          \
        ops += sizeof chunk;                                                                       \
    }
    MEASURED(BULK_SEND_BODY);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
}

static void bulk_recv(SSL_CTX *ctx, int port, double seconds, double warmup, long batch,
                      struct result *res)
{
    static char buf[CHUNK];
    int fd;
    SSL *ssl = tls_connect(ctx, port, &fd);
    res->ktls_send = BIO_get_ktls_send(SSL_get_wbio(ssl)) ? 1 : 0;
    res->ktls_recv = BIO_get_ktls_recv(SSL_get_rbio(ssl)) ? 1 : 0;
    long long ops = 0;
#define BULK_RECV_BODY                                                                             \
    {                                                                                              \
        size_t got = 0;                                                                            \
        while (got < sizeof buf) {                                                                 \
            int r = SSL_read(ssl, buf + got, (int)(sizeof buf - got));                             \
            if (r <= 0)                                                                            \
                die("bulk_recv: SSL_read");                                                        \
            got += (size_t)r;                                                                      \
        }                                                                                          \
        ops += sizeof buf;                                                                         \
    }
    MEASURED(BULK_RECV_BODY);
    SSL_free(ssl);
    close(fd);
}

static const struct {
    const char *name;
    void (*run)(SSL_CTX *, int, double, double, long, struct result *);
} MEASURES[] = {
    {"handshake", handshake}, {"bulk_send", bulk_send}, {"bulk_recv", bulk_recv},
};

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: tls_client MEASURE PORT SECONDS WARMUP BATCH CAFILE\n");
        return 2;
    }
    char *endp;
    long port = strtol(argv[2], &endp, 10);
    double seconds = strtod(argv[3], &endp);
    double warmup = strtod(argv[4], &endp);
    long batch = strtol(argv[5], &endp, 10);
    if (port <= 0 || port > 65535 || !(seconds > 0) || !(warmup >= 0) || batch <= 0) {
        fprintf(stderr, "tls_client: bad PORT/SECONDS/WARMUP/BATCH\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        die("SSL_CTX_new");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_AUTO_RETRY);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, argv[6], NULL) != 1)
        die("loading CAFILE");
    for (size_t i = 0; i < sizeof MEASURES / sizeof MEASURES[0]; i++) {
        if (strcmp(argv[1], MEASURES[i].name) == 0) {
            struct result res = {0};
            open_peer_clock();
            MEASURES[i].run(ctx, (int)port, seconds, warmup, batch, &res);
            printf("{\"ops\": %lld, \"seconds\": %.9f, \"cpu_seconds\": %.9f, "
                   "\"client_cpu_seconds\": %.9f, \"ktls\": [%d, %d]}\n",
                   res.ops, res.seconds, res.cpu_seconds, res.client_cpu_seconds, res.ktls_send,
                   res.ktls_recv);
            SSL_CTX_free(ctx);
            return 0;
        }
    }
    fprintf(stderr, "tls_client: unknown MEASURE '%s' (handshake, bulk_send, bulk_recv)\n",
            argv[1]);
    return 2;
}
