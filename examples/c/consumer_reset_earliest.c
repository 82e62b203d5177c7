/* A new group has no committed offsets: auto.offset.reset=earliest starts at the beginning (latest would start
 * at the end and see only new records). */
#include "common.h"

static int drain(streamlet_consumer *consumer, int want, int max_wait_ms) {
    int got = 0;
    for (int waited = 0; got < want && waited < max_wait_ms; waited += 100) {
        streamlet_message *msg = NULL;
        CHECK(streamlet_consumer_poll(consumer, 100, &msg));
        if (msg) {
            got++;
            streamlet_message_free(msg);
        }
    }
    return got;
}

static streamlet_consumer *consumer_for(const char *bootstrap, const char *topic, const char *reset) {
    streamlet_conf *conf = client_conf(bootstrap);
    conf_set_or_die(conf, "group.id", unique_name("reset-group"));
    conf_set_or_die(conf, "auto.offset.reset", reset);
    streamlet_consumer *consumer = NULL;
    CHECK(streamlet_consumer_new(conf, &consumer));
    streamlet_conf_free(conf);
    CHECK(streamlet_consumer_subscribe(consumer, &topic, 1));
    return consumer;
}

int main(void) {
    const char *bootstrap;
    streamlet_broker *broker = start_broker(&bootstrap);
    const char *topic = unique_name("reset");
    produce_n(bootstrap, topic, 4, "old");

    streamlet_consumer *earliest = consumer_for(bootstrap, topic, "earliest");
    int got = drain(earliest, 4, 15000);
    printf("earliest: %d records from the beginning\n", got);
    EXPECT(got == 4);
    streamlet_consumer_free(earliest);

    streamlet_consumer *latest = consumer_for(bootstrap, topic, "latest");
    /* Wait until the latest consumer has its assignment and position before producing. */
    int64_t pos = -1;
    for (int i = 0; i < 150 && pos < 0; i++) {
        drain(latest, 1, 100);
        streamlet_tpl *a = NULL;
        CHECK(streamlet_consumer_assignment(latest, &a));
        if (streamlet_tpl_count(a) > 0) CHECK(streamlet_consumer_position(latest, topic, 0, &pos));
        streamlet_tpl_free(a);
    }
    EXPECT(pos == 4);
    produce_n(bootstrap, topic, 2, "new");
    got = drain(latest, 2, 10000);
    got += drain(latest, 1, 300); /* and nothing older */
    printf("latest: %d new records only\n", got);
    EXPECT(got == 2);
    streamlet_consumer_free(latest);

    streamlet_broker_free(broker);
    return 0;
}
