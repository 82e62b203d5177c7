/* Fire-and-forget producer: no delivery callback; flush waits until everything sent is acknowledged. */
#include "common.h"

int main(void) {
    const char *bootstrap;
    streamlet_broker *broker = start_broker(&bootstrap);
    const char *topic = unique_name("basic");

    streamlet_conf *conf = client_conf(bootstrap);
    conf_set_or_die(conf, "linger.ms", "5");
    streamlet_producer *producer = NULL;
    CHECK(streamlet_producer_new(conf, &producer));
    streamlet_conf_free(conf);

    for (int i = 0; i < 10; i++) {
        char value[32];
        snprintf(value, sizeof value, "message %d", i);
        CHECK(streamlet_producer_send(producer, topic, STREAMLET_PARTITION_UA, NULL, 0, value, strlen(value), NULL, 0, 0,
                                      NULL));
    }
    CHECK(streamlet_producer_flush(producer, 10000));
    printf("sent 10 messages to %s (fire-and-forget: failures would go unnoticed without a delivery callback)\n", topic);

    /* Check they arrived: the log end offset of the topic's partitions adds up to 10. */
    streamlet_conf *aconf = client_conf(bootstrap);
    streamlet_admin *admin = NULL;
    CHECK(streamlet_admin_new(aconf, &admin));
    streamlet_topic_description *desc = NULL;
    CHECK(streamlet_admin_describe_topic(admin, topic, &desc));
    streamlet_tpl *query = streamlet_tpl_new();
    for (size_t i = 0; i < streamlet_topic_description_partition_count(desc); i++) {
        int32_t p;
        CHECK(streamlet_topic_description_partition(desc, i, &p, NULL, NULL));
        CHECK(streamlet_tpl_add(query, topic, p, STREAMLET_OFFSET_END));
    }
    streamlet_tpl *ends = NULL;
    CHECK(streamlet_admin_list_offsets(admin, query, &ends));
    int64_t total = 0;
    for (size_t i = 0; i < streamlet_tpl_count(ends); i++) {
        int64_t off;
        CHECK(streamlet_tpl_get(ends, i, NULL, NULL, &off, NULL));
        total += off;
    }
    EXPECT(total == 10);
    printf("log end offsets add up to %lld\n", (long long)total);

    streamlet_tpl_free(ends);
    streamlet_tpl_free(query);
    streamlet_topic_description_free(desc);
    streamlet_admin_free(admin);
    streamlet_conf_free(aconf);
    streamlet_producer_free(producer);
    streamlet_broker_free(broker);
    return 0;
}
