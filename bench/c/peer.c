/*
 * peer.c - the one server every socket_bench client variant talks to.
 *
 * Usage: peer MODE
 *   MODE is one of
 *     echo    read exactly 64 bytes, write them back, repeat (ping-pong, TCP_NODELAY)
 *     sink    read into a 256 KiB buffer and discard, until EOF          (bulk, client sends)
 *     source  write 64 KiB chunks until the client goes away              (bulk, client receives)
 *     idle    send nothing; wait for EOF                                  (EAGAIN measurement)
 *
 * The peer binds 127.0.0.1 on an ephemeral port, prints "PORT <n>\n" on stdout, accepts exactly
 * one connection, serves it in MODE and exits 0 when the client closes.  Errors go to stderr with
 * exit status 1.  Because the same binary serves every client (C, CPython, Kiln faces), the
 * benchmark compares client implementations only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PING_SIZE 64
#define CHUNK (64 * 1024)
#define SINK_BUF (256 * 1024)

static void die(const char *what)
{
    fprintf(stderr, "peer: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Read exactly n bytes; returns 0 on success, 1 on EOF before the first byte. */
static int read_exact(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
        } else if (r == 0) {
            if (got == 0)
                return 1;
            errno = EPROTO;
            die("echo: EOF in the middle of a message");
        } else if (errno != EINTR) {
            die("echo: recv");
        }
    }
    return 0;
}

static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("echo: send");
        }
        buf += w;
        n -= (size_t)w;
    }
}

static void serve_echo(int fd)
{
    char msg[PING_SIZE];
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        die("setsockopt TCP_NODELAY");
    while (read_exact(fd, msg, sizeof msg) == 0)
        write_all(fd, msg, sizeof msg);
}

static void serve_sink(int fd)
{
    static char buf[SINK_BUF];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0)
            return;
        if (r < 0 && errno != EINTR) {
            if (errno == ECONNRESET)
                return;
            die("sink: recv");
        }
    }
}

static void serve_source(int fd)
{
    static char buf[CHUNK];
    memset(buf, 'k', sizeof buf);
    for (;;) {
        ssize_t w = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                return; /* the client closed: measurement over */
            die("source: send");
        }
    }
}

static void serve_idle(int fd)
{
    char c;
    for (;;) {
        ssize_t r = recv(fd, &c, 1, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return;
        if (r > 0) {
            fprintf(stderr, "peer: idle: the client sent data; it must not\n");
            exit(1);
        }
        if (errno != EINTR)
            die("idle: recv");
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: peer echo|sink|source|idle\n");
        return 2;
    }
    const char *mode = argv[1];
    void (*serve)(int);
    if (strcmp(mode, "echo") == 0)
        serve = serve_echo;
    else if (strcmp(mode, "sink") == 0)
        serve = serve_sink;
    else if (strcmp(mode, "source") == 0)
        serve = serve_source;
    else if (strcmp(mode, "idle") == 0)
        serve = serve_idle;
    else {
        fprintf(stderr, "peer: unknown mode '%s' (expected echo, sink, source or idle)\n", mode);
        return 2;
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind 127.0.0.1:0");
    if (listen(lfd, 1) < 0)
        die("listen");
    socklen_t alen = sizeof addr;
    if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
        die("getsockname");
    printf("PORT %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    int fd;
    do {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        die("accept");
    close(lfd);
    serve(fd);
    close(fd);
    return 0;
}
