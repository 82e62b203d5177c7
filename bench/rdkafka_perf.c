/* librdkafka's producer and consumer at full speed, reporting in the shape of Kafka's perf tools, so that
 * bench/client-vs-librdkafka.py compares Streamlet's Rust client (`streamlet perf`) with librdkafka on one broker.
 *
 *   rdkafka_perf produce BOOTSTRAP TOPIC NUM_RECORDS RECORD_SIZE [key=value ...]
 *   rdkafka_perf consume BOOTSTRAP TOPIC NUM_RECORDS [key=value ...]
 *
 * Produce: every record gets a delivery report; latency is send -> report. Consume: assigns every partition
 * from the beginning (no group rebalance in the measurement) and reads NUM_RECORDS records.
 * Built by client-vs-librdkafka.py with: gcc -O2 rdkafka_perf.c -lrdkafka (Debian's librdkafka-dev). */
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int32_t *lat_us;
static long lat_n, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk; (void)opaque;
    if (m->err) { failed++; return; }
    lat_us[lat_n++] = (int32_t)(now_us() - (int64_t)(intptr_t)m->_private);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "rdkafka_perf: %s: %s\n", what, why);
    exit(1);
}

static rd_kafka_conf_t *conf_from(const char *bootstrap, int argc, char **argv) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) != RD_KAFKA_CONF_OK) die("bootstrap.servers", err);
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) die(argv[i], "expected key=value");
        *eq = 0;
        if (rd_kafka_conf_set(conf, argv[i], eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK) die(argv[i], err);
    }
    return conf;
}

static void report(const char *verb, long n, long bytes, int64_t elapsed_us, int with_latency) {
    double secs = elapsed_us / 1e6;
    printf("%ld records %s, %.1f records/sec (%.2f MB/sec)", n, verb, n / secs, bytes / secs / (1024.0 * 1024.0));
    if (with_latency && lat_n > 0) {
        qsort(lat_us, lat_n, sizeof *lat_us, cmp_i32);
        double sum = 0;
        for (long i = 0; i < lat_n; i++) sum += lat_us[i];
#define PCT(p) (lat_us[(long)((p) * (lat_n - 1))] / 1000)
        printf(", %.1f ms avg latency, %.1f ms max latency, %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th",
               sum / lat_n / 1000.0, lat_us[lat_n - 1] / 1000.0, PCT(0.5), PCT(0.95), PCT(0.99), PCT(0.999));
    }
    printf(".\n");
}

static int produce(const char *bootstrap, const char *topic, long n, int size, int argc, char **argv) {
    char err[512];
    rd_kafka_conf_t *conf = conf_from(bootstrap, argc, argv);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) die("producer", err);
    lat_us = malloc(sizeof *lat_us * (size_t)n);
    char *payload = malloc((size_t)size);
    for (int i = 0; i < size; i++) payload[i] = 'a' + i % 26;
    int64_t start = now_us();
    for (long i = 0; i < n; i++) {
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(payload, (size_t)size),
                                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                      RD_KAFKA_V_OPAQUE((void *)(intptr_t)now_us()), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce", rd_kafka_err2str(e));
            rd_kafka_poll(rk, 5);
        }
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) die("flush", "timed out");
    int64_t elapsed = now_us() - start;
    report("sent", lat_n, lat_n * (long)size, elapsed, 1);
    if (failed) fprintf(stderr, "rdkafka_perf: %ld records failed\n", failed);
    rd_kafka_destroy(rk);
    return failed ? 1 : 0;
}

static int consume(const char *bootstrap, const char *topic, long n, int argc, char **argv) {
    char err[512], group[64];
    rd_kafka_conf_t *conf = conf_from(bootstrap, argc, argv);
    snprintf(group, sizeof group, "rdkafka-perf-%ld", (long)now_us());
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) die("consumer", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1) die("metadata", topic);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) die("assign", topic);
    rd_kafka_topic_partition_list_destroy(parts);
    long got = 0, bytes = 0;
    int64_t start = now_us(), idle_since = now_us();
    while (got < n) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (now_us() - idle_since > 30000000) die("consume", "no records for 30 s");
            continue;
        }
        idle_since = now_us();
        if (!m->err) { got++; bytes += (long)m->len; }
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) die("consume", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
    report("received", got, bytes, now_us() - start, 0);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 6 && !strcmp(argv[1], "produce")) return produce(argv[2], argv[3], atol(argv[4]), atoi(argv[5]), argc - 6, argv + 6);
    if (argc >= 5 && !strcmp(argv[1], "consume")) return consume(argv[2], argv[3], atol(argv[4]), argc - 5, argv + 5);
    fprintf(stderr, "usage: rdkafka_perf produce BOOTSTRAP TOPIC NUM SIZE [k=v...] | consume BOOTSTRAP TOPIC NUM [k=v...]\n");
    return 2;
}
