/*
 * client.c - the C reference client of socket_bench: the same measurements as the Python variants,
 * made of the raw syscalls those variants end up in, so its rate is the physical limit.
 *
 * Usage: client MEASURE PORT SECONDS WARMUP BATCH
 *   MEASURE  pingpong     send 64 bytes, recv 64 bytes (peer: echo, TCP_NODELAY on both ends)
 *            bulk_send    send 64 KiB chunks completely (sendall) to the peer (peer: sink)
 *            bulk_recv    recv into a preallocated 64 KiB buffer (peer: source)
 *            eagain       recv(64) on a connected O_NONBLOCK socket with nothing queued (peer: idle)
 *            create_close socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC) + close (PORT ignored)
 *   PORT     TCP port of the peer on 127.0.0.1
 *   SECONDS  measured duration (float, > 0)
 *   WARMUP   unmeasured run of the same loop before the measurement (float, >= 0)
 *   BATCH    iterations between two clock reads (int, > 0); every variant uses the same value
 *
 * Environment: KILN_BENCH_PEER_PID, if set, is the peer's pid: its CPU time is added to ours.
 *
 * Prints one JSON object on stdout: {"ops": N, "seconds": T, "cpu_seconds": C} where N counts
 * round trips, bytes, EAGAIN calls or create+close pairs, T is the measured wall-clock time and C
 * the CPU time the client and the peer used during it.  Errors: message on stderr, exit status 1
 * (2 = bad usage).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PING_SIZE 64
#define CHUNK (64 * 1024)

static void die(const char *what)
{
    fprintf(stderr, "client: %s: %s\n", what, strerror(errno));
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

/* CPU seconds used so far by this process plus the peer (KILN_BENCH_PEER_PID), if any. */
static double cpu_now(void)
{
    struct timespec ts;
    double total;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    total = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    if (have_peer_clock) {
        if (clock_gettime(peer_clock, &ts) < 0)
            die("clock_gettime(peer CPU clock)");
        total += (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    return total;
}

static void open_peer_clock(void)
{
    const char *pid = getenv("KILN_BENCH_PEER_PID");
    if (pid == NULL || *pid == '\0')
        return;
    char *endp;
    long value = strtol(pid, &endp, 10);
    if (*endp || value <= 0) {
        fprintf(stderr, "client: KILN_BENCH_PEER_PID must be a pid, got '%s'\n", pid);
        exit(2);
    }
    int err = clock_getcpuclockid((pid_t)value, &peer_clock);
    if (err) {
        errno = err;
        die("clock_getcpuclockid(KILN_BENCH_PEER_PID)");
    }
    have_peer_clock = 1;
}

static int connect_peer(int port, int nodelay)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (nodelay) {
        int one = 1;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
            die("setsockopt TCP_NODELAY");
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("connect 127.0.0.1");
    return fd;
}

static void send_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, 0);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("send");
        }
        buf += w;
        n -= (size_t)w;
    }
}

static void recv_exact(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0) {
            errno = EPROTO;
            die("recv: the peer closed the connection");
        } else if (errno != EINTR)
            die("recv");
    }
}

/*
 * TIMED_LOOP(seconds, batch, body): run `body` in batches of `batch` iterations until
 * `seconds` elapsed; `body` adds what one iteration counts to `ops`.  Same shape as the Python
 * variants' loops: one clock read per batch.
 */
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
    double seconds;
    double cpu_seconds;
};

static void pingpong(int port, double seconds, double warmup, long batch, struct result *res)
{
    int fd = connect_peer(port, 1);
    char msg[PING_SIZE], buf[PING_SIZE];
    memset(msg, 'p', sizeof msg);
    long long ops = 0;
#define PINGPONG_BODY                                                                              \
    {                                                                                              \
        if (send(fd, msg, sizeof msg, 0) != (ssize_t)sizeof msg)                                   \
            send_all(fd, msg, sizeof msg); /* never taken on loopback; kept for correctness */     \
        ssize_t r = recv(fd, buf, sizeof buf, 0);                                                  \
        if (r != (ssize_t)sizeof buf)                                                              \
            recv_exact(fd, buf + (r > 0 ? r : 0), sizeof buf - (size_t)(r > 0 ? r : 0));           \
        ops++;                                                                                     \
    }
    TIMED_LOOP(warmup, batch, PINGPONG_BODY);
    ops = 0;
    double c0 = cpu_now(), t0 = now();
    TIMED_LOOP(seconds, batch, PINGPONG_BODY);
    res->seconds = now() - t0;
    res->cpu_seconds = cpu_now() - c0;
    res->ops = ops;
    close(fd);
}

static void bulk_send(int port, double seconds, double warmup, long batch, struct result *res)
{
    int fd = connect_peer(port, 0);
    static char chunk[CHUNK];
    memset(chunk, 'b', sizeof chunk);
    long long ops = 0;
#define BULK_SEND_BODY                                                                             \
    {                                                                                              \
        send_all(fd, chunk, sizeof chunk);                                                         \
        ops += sizeof chunk;                                                                       \
    }
    TIMED_LOOP(warmup, batch, BULK_SEND_BODY);
    ops = 0;
    double c0 = cpu_now(), t0 = now();
    TIMED_LOOP(seconds, batch, BULK_SEND_BODY);
    res->seconds = now() - t0;
    res->cpu_seconds = cpu_now() - c0;
    res->ops = ops;
    close(fd);
}

static void bulk_recv(int port, double seconds, double warmup, long batch, struct result *res)
{
    int fd = connect_peer(port, 0);
    static char buf[CHUNK];
    long long ops = 0;
#define BULK_RECV_BODY                                                                             \
    {                                                                                              \
        ssize_t r = recv(fd, buf, sizeof buf, 0);                                                  \
        if (r <= 0) {                                                                              \
            if (r == 0)                                                                            \
                errno = EPROTO;                                                                    \
            if (r == 0 || errno != EINTR)                                                          \
                die("bulk_recv: recv");                                                            \
            r = 0;                                                                                 \
        }                                                                                          \
        ops += r;                                                                                  \
    }
    TIMED_LOOP(warmup, batch, BULK_RECV_BODY);
    ops = 0;
    double c0 = cpu_now(), t0 = now();
    TIMED_LOOP(seconds, batch, BULK_RECV_BODY);
    res->seconds = now() - t0;
    res->cpu_seconds = cpu_now() - c0;
    res->ops = ops;
    close(fd);
}

static void eagain(int port, double seconds, double warmup, long batch, struct result *res)
{
    int fd = connect_peer(port, 0);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl O_NONBLOCK");
    char buf[PING_SIZE];
    long long ops = 0;
#define EAGAIN_BODY                                                                                \
    {                                                                                              \
        if (recv(fd, buf, sizeof buf, 0) >= 0 || errno != EAGAIN) {                                \
            fprintf(stderr, "client: eagain: recv did not fail with EAGAIN\n");                    \
            exit(1);                                                                               \
        }                                                                                          \
        ops++;                                                                                     \
    }
    TIMED_LOOP(warmup, batch, EAGAIN_BODY);
    ops = 0;
    double c0 = cpu_now(), t0 = now();
    TIMED_LOOP(seconds, batch, EAGAIN_BODY);
    res->seconds = now() - t0;
    res->cpu_seconds = cpu_now() - c0;
    res->ops = ops;
    close(fd);
}

static void create_close(int port, double seconds, double warmup, long batch, struct result *res)
{
    (void)port;
    long long ops = 0;
#define CREATE_CLOSE_BODY                                                                          \
    {                                                                                              \
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);                                   \
        if (fd < 0)                                                                                \
            die("socket");                                                                         \
        close(fd);                                                                                 \
        ops++;                                                                                     \
    }
    TIMED_LOOP(warmup, batch, CREATE_CLOSE_BODY);
    ops = 0;
    double c0 = cpu_now(), t0 = now();
    TIMED_LOOP(seconds, batch, CREATE_CLOSE_BODY);
    res->seconds = now() - t0;
    res->cpu_seconds = cpu_now() - c0;
    res->ops = ops;
}

static const struct {
    const char *name;
    void (*run)(int, double, double, long, struct result *);
} MEASURES[] = {
    {"pingpong", pingpong},   {"bulk_send", bulk_send},       {"bulk_recv", bulk_recv},
    {"eagain", eagain},       {"create_close", create_close},
};

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: client MEASURE PORT SECONDS WARMUP BATCH\n");
        return 2;
    }
    char *endp;
    long port = strtol(argv[2], &endp, 10);
    if (*endp || port < 0 || port > 65535) {
        fprintf(stderr, "client: PORT must be an integer in 0..65535, got '%s'\n", argv[2]);
        return 2;
    }
    double seconds = strtod(argv[3], &endp);
    if (*endp || !(seconds > 0)) {
        fprintf(stderr, "client: SECONDS must be a number > 0, got '%s'\n", argv[3]);
        return 2;
    }
    double warmup = strtod(argv[4], &endp);
    if (*endp || !(warmup >= 0)) {
        fprintf(stderr, "client: WARMUP must be a number >= 0, got '%s'\n", argv[4]);
        return 2;
    }
    long batch = strtol(argv[5], &endp, 10);
    if (*endp || batch <= 0) {
        fprintf(stderr, "client: BATCH must be an integer > 0, got '%s'\n", argv[5]);
        return 2;
    }
    for (size_t i = 0; i < sizeof MEASURES / sizeof MEASURES[0]; i++) {
        if (strcmp(argv[1], MEASURES[i].name) == 0) {
            struct result res;
            open_peer_clock();
            MEASURES[i].run((int)port, seconds, warmup, batch, &res);
            printf("{\"ops\": %lld, \"seconds\": %.9f, \"cpu_seconds\": %.9f}\n", res.ops,
                   res.seconds, res.cpu_seconds);
            return 0;
        }
    }
    fprintf(stderr, "client: unknown MEASURE '%s' (pingpong, bulk_send, bulk_recv, eagain, "
                    "create_close)\n", argv[1]);
    return 2;
}
