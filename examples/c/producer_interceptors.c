/* Producer interceptors: one prefixes every value with the send time, one counts acknowledgements (successes
 * and failures). on_send runs inside streamlet_producer_send; on_acknowledgement inside poll/flush/close. */
#include "common.h"

static void prefix_timestamp(streamlet_message *msg, void *opaque) {
    (void)opaque;
    size_t len;
    const char *value = streamlet_message_value(msg, &len);
    size_t size = len + 32;
    char *buf = malloc(size); /* the value is copied by set_value */
    if (!buf) return;
    int n = snprintf(buf, size, "%ld|%.*s", (long)time(NULL), (int)len, value ? value : "");
    streamlet_message_set_value(msg, buf, (size_t)n);
    free(buf);
}

struct counts {
    int ok, failed, closed;
};

static void count_ack(const streamlet_message *msg, void *opaque) {
    struct counts *c = opaque;
    if (streamlet_message_err(msg) == STREAMLET_OK) c->ok++;
    else c->failed++;
}

static void count_close(void *opaque) { ((struct counts *)opaque)->closed++; }

int main(void) {
    const char *bootstrap;
    streamlet_broker *broker = start_broker(&bootstrap);
    const char *topic = unique_name("interceptors");

    struct counts counts = {0, 0, 0};
    streamlet_producer_interceptor stamp = {prefix_timestamp, NULL, NULL, NULL};
    streamlet_producer_interceptor counter = {NULL, count_ack, count_close, &counts};
    streamlet_conf *conf = client_conf(bootstrap);
    conf_set_or_die(conf, "max.request.size", "2000");
    CHECK(streamlet_conf_add_producer_interceptor(conf, &stamp));
    CHECK(streamlet_conf_add_producer_interceptor(conf, &counter));
    streamlet_producer *producer = NULL;
    CHECK(streamlet_producer_new(conf, &producer));
    streamlet_conf_free(conf);

    for (int i = 0; i < 4; i++) {
        char value[32];
        snprintf(value, sizeof value, "event %d", i);
        CHECK(streamlet_producer_send(producer, topic, 0, NULL, 0, value, strlen(value), NULL, 0, 0, NULL));
    }
    static char big[4096]; /* larger than max.request.size: fails, and the counter sees it */
    memset(big, 'x', sizeof big);
    CHECK(streamlet_producer_send(producer, topic, 0, NULL, 0, big, sizeof big, NULL, 0, 0, NULL));
    CHECK(streamlet_producer_flush(producer, 10000));
    printf("acknowledged: %d ok, %d failed\n", counts.ok, counts.failed);
    EXPECT(counts.ok == 4 && counts.failed == 1);

    /* The stored values carry the prefix. */
    streamlet_conf *cconf = client_conf(bootstrap);
    conf_set_or_die(cconf, "auto.offset.reset", "earliest");
    streamlet_consumer *consumer = NULL;
    CHECK(streamlet_consumer_new(cconf, &consumer));
    streamlet_conf_free(cconf);
    streamlet_tpl *parts = streamlet_tpl_new();
    CHECK(streamlet_tpl_add(parts, topic, 0, STREAMLET_OFFSET_INVALID));
    CHECK(streamlet_consumer_assign(consumer, parts));
    streamlet_tpl_free(parts);
    streamlet_message *msg = NULL;
    for (int tries = 0; !msg && tries < 100; tries++) CHECK(streamlet_consumer_poll(consumer, 100, &msg));
    EXPECT(msg != NULL);
    size_t len;
    const char *value = streamlet_message_value(msg, &len);
    printf("stored value: %.*s\n", (int)len, value);
    EXPECT(memchr(value, '|', len) != NULL && len > strlen("event 0"));
    streamlet_message_free(msg);
    streamlet_consumer_free(consumer);

    streamlet_producer_free(producer);
    EXPECT(counts.closed == 1);
    streamlet_broker_free(broker);
    return 0;
}
