/* Producer with a delivery-report callback printing each record's partition and offset. Reports are served on
 * this thread from streamlet_producer_poll / streamlet_producer_flush. */
#include "common.h"

struct stats {
    int delivered;
    int failed;
};

static void on_delivery(streamlet_producer *producer, const streamlet_message *msg, void *opaque) {
    (void)producer;
    struct stats *stats = opaque;
    int id = (int)(intptr_t)streamlet_message_opaque(msg);
    if (streamlet_message_err(msg) != STREAMLET_OK) {
        stats->failed++;
        fprintf(stderr, "record %d failed: %s\n", id, streamlet_message_errstr(msg));
        return;
    }
    stats->delivered++;
    printf("record %d delivered to %s [%d] at offset %lld\n", id, streamlet_message_topic(msg),
           streamlet_message_partition(msg), (long long)streamlet_message_offset(msg));
}

int main(void) {
    const char *bootstrap;
    streamlet_broker *broker = start_broker(&bootstrap);
    const char *topic = unique_name("callback");
    struct stats stats = {0, 0};

    streamlet_conf *conf = client_conf(bootstrap);
    CHECK(streamlet_conf_set_dr_cb(conf, on_delivery));
    CHECK(streamlet_conf_set_opaque(conf, &stats));
    streamlet_producer *producer = NULL;
    CHECK(streamlet_producer_new(conf, &producer));
    streamlet_conf_free(conf);

    for (int i = 0; i < 5; i++) {
        char value[32];
        snprintf(value, sizeof value, "hello %d", i);
        CHECK(streamlet_producer_send(producer, topic, STREAMLET_PARTITION_UA, NULL, 0, value, strlen(value), NULL, 0, 0,
                                      (void *)(intptr_t)i));
        streamlet_producer_poll(producer, 0); /* serve reports that are already in */
    }
    CHECK(streamlet_producer_flush(producer, 10000));
    EXPECT(stats.delivered == 5 && stats.failed == 0);

    streamlet_producer_free(producer);
    streamlet_broker_free(broker);
    return 0;
}
