/* Produce and consume throughput through the C API against an embedded broker, with the settings of
 * core/benches/throughput.rs (acks=1, linger.ms=5, batch.size=1 MiB, 4 partitions) so the two can be compared.
 * Usage: throughput [record_size=100] [count=1000000]. Build against the release library (capi/bench/run.sh). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "streamlet.h"

#define CHECK(call)                                                                                    \
    do {                                                                                               \
        streamlet_resp_err e_ = (call);                                                                \
        if (e_ != STREAMLET_OK) {                                                                      \
            char m_[256];                                                                              \
            streamlet_last_error_message(m_, sizeof m_);                                               \
            fprintf(stderr, "%s: %s: %s\n", #call, streamlet_err_name(e_), m_);                        \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long delivered, failed;
static void on_delivery(streamlet_producer *p, const streamlet_message *m, void *o) {
    (void)p, (void)o;
    if (streamlet_message_err(m) == STREAMLET_OK) delivered++;
    else failed++;
}

static void set(streamlet_conf *c, const char *k, const char *v) { CHECK(streamlet_conf_set(c, k, v, NULL, 0)); }

int main(int argc, char **argv) {
    size_t size = argc > 1 ? (size_t)atol(argv[1]) : 100;
    long count = argc > 2 ? atol(argv[2]) : 1000000;
    streamlet_conf *bc = streamlet_conf_new();
    set(bc, "listeners", "127.0.0.1:0");
    set(bc, "num.partitions", "4");
    streamlet_broker *broker = NULL;
    CHECK(streamlet_broker_new(bc, &broker));
    streamlet_conf_free(bc);
    const char *bootstrap = streamlet_broker_bootstrap_servers(broker);

    char *value = malloc(size);
    memset(value, 'x', size);
    double mb = (double)count * (double)size / (1 << 20);
    for (int with_dr = 0; with_dr <= 1; with_dr++) {
        streamlet_conf *pc = streamlet_conf_new();
        set(pc, "bootstrap.servers", bootstrap);
        set(pc, "acks", "1");
        set(pc, "linger.ms", "5");
        set(pc, "batch.size", "1048576");
        set(pc, "buffer.memory", "268435456");
        set(pc, "max.request.size", "8388608");
        set(pc, "enable.idempotence", "false");
        if (with_dr) CHECK(streamlet_conf_set_dr_cb(pc, on_delivery));
        streamlet_producer *p = NULL;
        CHECK(streamlet_producer_new(pc, &p));
        streamlet_conf_free(pc);
        const char *topic = with_dr ? "bench-dr" : "bench";
        double t = now();
        for (long i = 0; i < count; i++) {
            CHECK(streamlet_producer_send(p, topic, (int32_t)(i % 4), NULL, 0, value, size, NULL, 0, 0, NULL));
            if (with_dr && (i & 1023) == 0) streamlet_producer_poll(p, 0);
        }
        CHECK(streamlet_producer_flush(p, 600000));
        double secs = now() - t;
        if (with_dr && (delivered != count || failed)) {
            fprintf(stderr, "delivered %ld of %ld (%ld failed)\n", delivered, count, failed);
            return 1;
        }
        printf("C produce %5zu B acks=1  : %8ld records in %6.2f s = %10.0f records/s, %7.1f MB/s (%s)\n", size, count,
               secs, count / secs, mb / secs, with_dr ? "delivery report per record" : "no delivery callback");
        streamlet_producer_free(p);
    }

    streamlet_conf *cc = streamlet_conf_new();
    set(cc, "bootstrap.servers", bootstrap);
    set(cc, "auto.offset.reset", "earliest");
    streamlet_consumer *c = NULL;
    CHECK(streamlet_consumer_new(cc, &c));
    streamlet_conf_free(cc);
    streamlet_tpl *parts = streamlet_tpl_new();
    for (int i = 0; i < 4; i++) CHECK(streamlet_tpl_add(parts, "bench", i, STREAMLET_OFFSET_INVALID));
    CHECK(streamlet_consumer_assign(c, parts));
    streamlet_tpl_free(parts);
    long got = 0;
    double t = now();
    while (got < count) {
        streamlet_message *m = NULL;
        CHECK(streamlet_consumer_poll(c, 1000, &m));
        if (!m) {
            fprintf(stderr, "consumer stalled at %ld of %ld\n", got, count);
            return 1;
        }
        got++;
        streamlet_message_free(m);
    }
    double secs = now() - t;
    printf("C consume %5zu B        : %8ld records in %6.2f s = %10.0f records/s, %7.1f MB/s (one message per poll)\n",
           size, count, secs, count / secs, mb / secs);
    streamlet_consumer_free(c);
    free(value);
    streamlet_broker_free(broker);
    return 0;
}
