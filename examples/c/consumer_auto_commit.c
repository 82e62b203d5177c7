/* Group consumer with automatic offset commits: consumes what is there, closes (committing), and a second
 * consumer in the same group starts after what the first one consumed. */
#include "common.h"

static int consume(const char *bootstrap, const char *group, const char *topic, int want, int max_wait_ms) {
    streamlet_conf *conf = client_conf(bootstrap);
    conf_set_or_die(conf, "group.id", group);
    conf_set_or_die(conf, "auto.offset.reset", "earliest");
    conf_set_or_die(conf, "enable.auto.commit", "true");
    conf_set_or_die(conf, "auto.commit.interval.ms", "100");
    streamlet_consumer *consumer = NULL;
    CHECK(streamlet_consumer_new(conf, &consumer));
    streamlet_conf_free(conf);
    CHECK(streamlet_consumer_subscribe(consumer, &topic, 1));

    int got = 0;
    for (int waited = 0; got < want && waited < max_wait_ms; waited += 100) {
        streamlet_message *msg = NULL;
        CHECK(streamlet_consumer_poll(consumer, 100, &msg));
        if (!msg) continue;
        size_t len;
        const char *value = streamlet_message_value(msg, &len);
        printf("%s [%d] @%lld: %.*s\n", streamlet_message_topic(msg), streamlet_message_partition(msg),
               (long long)streamlet_message_offset(msg), (int)len, value);
        streamlet_message_free(msg);
        got++;
    }
    /* Nothing beyond what was expected. */
    streamlet_message *extra = NULL;
    CHECK(streamlet_consumer_poll(consumer, 300, &extra));
    if (extra) {
        got++;
        streamlet_message_free(extra);
    }
    CHECK(streamlet_consumer_close(consumer)); /* commits what poll returned, leaves the group */
    streamlet_consumer_free(consumer);
    return got;
}

int main(void) {
    const char *bootstrap;
    streamlet_broker *broker = start_broker(&bootstrap);
    const char *topic = unique_name("auto-commit");
    const char *group = unique_name("auto-commit-group");
    produce_n(bootstrap, topic, 5, "first");

    EXPECT(consume(bootstrap, group, topic, 5, 15000) == 5);
    produce_n(bootstrap, topic, 3, "second");
    /* Same group: only the 3 new records (the first 5 were committed on close). */
    int again = consume(bootstrap, group, topic, 3, 10000);
    printf("second consumer got %d records\n", again);
    EXPECT(again == 3);

    streamlet_broker_free(broker);
    return 0;
}
