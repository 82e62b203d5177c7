/* Records to a fixed partition, and records by key (the default partitioner hashes keys with murmur2 like the
 * Java client, so one key always lands in one partition), with headers and an explicit timestamp. */
#include "common.h"

int main(void) {
    const char *bootstrap;
    streamlet_broker *broker = start_broker(&bootstrap);
    const char *topic = unique_name("partitions");
    create_topic(bootstrap, topic, 3);

    streamlet_conf *conf = client_conf(bootstrap);
    streamlet_producer *producer = NULL;
    CHECK(streamlet_producer_new(conf, &producer));
    streamlet_conf_free(conf);

    int32_t partition;
    int64_t offset;
    const char *v = "to partition 2";
    CHECK(streamlet_producer_send_sync(producer, topic, 2, NULL, 0, v, strlen(v), NULL, 0, 0, &partition, &offset));
    EXPECT(partition == 2);
    printf("fixed partition: %d offset %lld\n", partition, (long long)offset);

    int32_t first = -1;
    streamlet_header headers[] = {{"source", "example", 7}, {"trace", NULL, 0}};
    for (int i = 0; i < 3; i++) {
        const char *key = "customer-42";
        char value[32];
        snprintf(value, sizeof value, "order %d", i);
        CHECK(streamlet_producer_send_sync(producer, topic, STREAMLET_PARTITION_UA, key, strlen(key), value,
                                           strlen(value), headers, 2, 1700000000000 + i, &partition, &offset));
        printf("key %s -> partition %d offset %lld\n", key, partition, (long long)offset);
        if (first < 0) first = partition;
        EXPECT(partition == first);
    }

    streamlet_producer_free(producer);
    streamlet_broker_free(broker);
    return 0;
}
