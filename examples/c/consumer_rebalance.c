/* A rebalance callback that keeps offsets in the application's own store (here an array; in real life a
 * database updated in the same transaction as the results) and seeks to them on assignment. */
#include "common.h"

#define PARTITIONS 2
static int64_t store[PARTITIONS]; /* next offset to process, per partition */
static int assigned_events, revoked_events;

static void on_rebalance(streamlet_consumer *consumer, streamlet_rebalance_event event, const streamlet_tpl *parts,
                         void *opaque) {
    (void)opaque;
    for (size_t i = 0; i < streamlet_tpl_count(parts); i++) {
        const char *topic;
        int32_t partition;
        streamlet_tpl_get(parts, i, &topic, &partition, NULL, NULL);
        if (event == STREAMLET_REBALANCE_ASSIGNED) {
            printf("assigned %s [%d]: seeking to stored offset %lld\n", topic, partition, (long long)store[partition]);
            CHECK(streamlet_consumer_seek(consumer, topic, partition, store[partition]));
        } else {
            printf("%s %s [%d]: stored offset is %lld\n", event == STREAMLET_REBALANCE_LOST ? "lost" : "revoked",
                   topic, partition, (long long)store[partition]);
        }
    }
    if (event == STREAMLET_REBALANCE_ASSIGNED) assigned_events++;
    else revoked_events++;
}

int main(void) {
    const char *bootstrap;
    streamlet_broker *broker = start_broker(&bootstrap);
    const char *topic = unique_name("rebalance");
    create_topic(bootstrap, topic, PARTITIONS);
    produce_n(bootstrap, topic, 10, "r");
    store[0] = 1; /* pretend the first record of each partition was processed in an earlier run */
    store[1] = 1;

    streamlet_conf *conf = client_conf(bootstrap);
    conf_set_or_die(conf, "group.id", unique_name("rebalance-group"));
    conf_set_or_die(conf, "enable.auto.commit", "false");
    CHECK(streamlet_conf_set_rebalance_cb(conf, on_rebalance));
    streamlet_consumer *consumer = NULL;
    CHECK(streamlet_consumer_new(conf, &consumer));
    streamlet_conf_free(conf);
    CHECK(streamlet_consumer_subscribe(consumer, &topic, 1));

    int got = 0;
    for (int waited = 0; got < 8 && waited < 15000; waited += 100) {
        streamlet_message *msg = NULL;
        CHECK(streamlet_consumer_poll(consumer, 100, &msg));
        if (!msg) continue;
        int32_t p = streamlet_message_partition(msg);
        EXPECT(streamlet_message_offset(msg) == store[p]); /* resumes exactly where the store says */
        store[p] = streamlet_message_offset(msg) + 1;
        got++;
        streamlet_message_free(msg);
    }
    printf("processed %d records; store: [%lld, %lld]\n", got, (long long)store[0], (long long)store[1]);
    EXPECT(got == 8 && assigned_events == 1);
    CHECK(streamlet_consumer_unsubscribe(consumer)); /* revokes through the callback */
    EXPECT(revoked_events == 1);

    streamlet_consumer_free(consumer);
    streamlet_broker_free(broker);
    return 0;
}
