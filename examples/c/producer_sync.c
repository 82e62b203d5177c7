/* Synchronous send: each call waits for the broker's acknowledgement and returns the partition and offset. */
#include "common.h"

int main(void) {
    const char *bootstrap;
    streamlet_broker *broker = start_broker(&bootstrap);
    const char *topic = unique_name("sync");

    streamlet_conf *conf = client_conf(bootstrap);
    conf_set_or_die(conf, "acks", "all");
    streamlet_producer *producer = NULL;
    CHECK(streamlet_producer_new(conf, &producer));
    streamlet_conf_free(conf);

    int64_t last = -1;
    for (int i = 0; i < 3; i++) {
        char value[32];
        snprintf(value, sizeof value, "sync %d", i);
        int32_t partition;
        int64_t offset;
        CHECK(streamlet_producer_send_sync(producer, topic, 0, NULL, 0, value, strlen(value), NULL, 0, 0, &partition,
                                           &offset));
        printf("%s: partition %d offset %lld\n", value, partition, (long long)offset);
        EXPECT(offset == last + 1);
        last = offset;
    }

    streamlet_producer_free(producer);
    streamlet_broker_free(broker);
    return 0;
}
