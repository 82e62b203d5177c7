/* A custom partitioner: keys starting with "vip-" go to partition 0, the rest spread over the others. It runs on
 * the sending thread, inside streamlet_producer_send. */
#include "common.h"

static int32_t vip_partitioner(const char *topic, const void *key, size_t key_len, const void *value,
                               size_t value_len, int32_t partition_count, void *opaque) {
    (void)topic, (void)value, (void)value_len;
    int *calls = opaque;
    (*calls)++;
    if (key && key_len >= 4 && memcmp(key, "vip-", 4) == 0) return 0;
    size_t sum = 0;
    for (size_t i = 0; key && i < key_len; i++) sum += ((const unsigned char *)key)[i];
    return 1 + (int32_t)(sum % (size_t)(partition_count - 1));
}

int main(void) {
    const char *bootstrap;
    streamlet_broker *broker = start_broker(&bootstrap);
    const char *topic = unique_name("custom-partitioner");
    create_topic(bootstrap, topic, 4);

    int calls = 0;
    streamlet_conf *conf = client_conf(bootstrap);
    CHECK(streamlet_conf_set_partitioner(conf, vip_partitioner, &calls));
    streamlet_producer *producer = NULL;
    CHECK(streamlet_producer_new(conf, &producer));
    streamlet_conf_free(conf);

    const char *keys[] = {"vip-alice", "bob", "vip-carol", "dave", "erin"};
    for (int i = 0; i < 5; i++) {
        int32_t partition;
        int64_t offset;
        CHECK(streamlet_producer_send_sync(producer, topic, STREAMLET_PARTITION_UA, keys[i], strlen(keys[i]), "v", 1,
                                           NULL, 0, 0, &partition, &offset));
        printf("%-10s -> partition %d\n", keys[i], partition);
        EXPECT((strncmp(keys[i], "vip-", 4) == 0) == (partition == 0));
    }
    EXPECT(calls == 5);

    streamlet_producer_free(producer);
    streamlet_broker_free(broker);
    return 0;
}
