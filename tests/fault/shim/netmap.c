/*
 * netmap.so: an LD_PRELOAD shim that rewrites the destination of connect() for one process.
 *
 * Why: in a Kafka cluster every node dials the addresses it reads from shared cluster metadata
 * (advertised.listeners, controller.quorum.voters). To put the link from node i to node j behind its own
 * fault-injecting proxy, node i must dial proxy(i->j) when it asks for node j's address, while node k dials
 * proxy(k->j) for the same address. Neither Kafka (a JVM) nor Streamlet (Rust) can be told that, but both
 * call libc's connect() (the JVM from libnio/libnet, Rust's std/mio through libc), so a per-process table
 * in the environment rewrites the destination below both.
 *
 * STREAMLET_NETMAP="PORT=PORT,PORT=PORT,..." maps a loopback destination port (any 127.0.0.0/8 address, IPv4
 * or IPv4-mapped IPv6 as the JVM uses on dual-stack sockets) to 127.0.0.1:PORT. Other destinations are left
 * alone. STREAMLET_NETMAP_LOG=1 writes one line per rewrite to stderr (used by the shim's own test).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ENTRIES 256

static unsigned short from_port[MAX_ENTRIES];
static unsigned short to_port[MAX_ENTRIES];
static int entries = 0;
static int log_rewrites = 0;
static int (*real_connect)(int, const struct sockaddr *, socklen_t) = 0;

__attribute__((constructor)) static void netmap_init(void) {
    real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    const char *table = getenv("STREAMLET_NETMAP");
    const char *lg = getenv("STREAMLET_NETMAP_LOG");
    log_rewrites = lg != 0 && strcmp(lg, "1") == 0;
    if (table == 0) return;
    const char *p = table;
    while (*p && entries < MAX_ENTRIES) {
        unsigned int a = 0, b = 0;
        int used = 0;
        if (sscanf(p, "%u=%u%n", &a, &b, &used) != 2 || a > 65535 || b > 65535) {
            fprintf(stderr, "netmap: malformed STREAMLET_NETMAP near '%s'\n", p);
            abort(); /* a silently ignored table would make every fault test meaningless */
        }
        from_port[entries] = (unsigned short)a;
        to_port[entries] = (unsigned short)b;
        entries++;
        p += used;
        if (*p == ',') p++;
    }
}

static int lookup(unsigned short port) {
    for (int i = 0; i < entries; i++)
        if (from_port[i] == port) return to_port[i];
    return -1;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    if (real_connect == 0) netmap_init();
    if (addr != 0 && entries > 0) {
        if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
            if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) {
                int to = lookup(ntohs(in->sin_port));
                if (to >= 0) {
                    struct sockaddr_in out = *in;
                    out.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                    out.sin_port = htons((unsigned short)to);
                    if (log_rewrites) fprintf(stderr, "netmap: %d -> %d\n", ntohs(in->sin_port), to);
                    return real_connect(fd, (const struct sockaddr *)&out, sizeof out);
                }
            }
        } else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
            const unsigned char *b = in6->sin6_addr.s6_addr;
            static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            if (memcmp(b, mapped, 12) == 0 && b[12] == 127) {
                int to = lookup(ntohs(in6->sin6_port));
                if (to >= 0) {
                    struct sockaddr_in6 out = *in6;
                    out.sin6_addr.s6_addr[12] = 127;
                    out.sin6_addr.s6_addr[13] = 0;
                    out.sin6_addr.s6_addr[14] = 0;
                    out.sin6_addr.s6_addr[15] = 1;
                    out.sin6_port = htons((unsigned short)to);
                    if (log_rewrites) fprintf(stderr, "netmap: %d -> %d (v6)\n", ntohs(in6->sin6_port), to);
                    return real_connect(fd, (const struct sockaddr *)&out, sizeof out);
                }
            }
        }
    }
    return real_connect(fd, addr, len);
}
