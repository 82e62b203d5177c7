/* Manual commits: synchronous after each batch of 3 records, and asynchronous with a commit callback (served from
 * a later poll on this thread). The group's committed offset is then read back. */
#include "common.h"

static int async_done, async_failed;

static void on_commit(streamlet_consumer *consumer, streamlet_resp_err err, const streamlet_tpl *offsets,
                      void *opaque) {
    (void)consumer, (void)opaque;
    for (size_t i = 0; i < streamlet_tpl_count(offsets); i++) {
        const char *topic;
        int32_t partition;
        int64_t offset;
        streamlet_tpl_get(offsets, i, &topic, &partition, &offset, NULL);
        printf("async commit %s [%d] -> %lld: %s\n", topic, partition, (long long)offset, streamlet_err_name(err));
    }
    if (err == STREAMLET_OK) async_done++;
    else async_failed++;
}

int main(void) {
    const char *bootstrap;
    streamlet_broker *broker = start_broker(&bootstrap);
    const char *topic = unique_name("manual-commit");
    produce_n(bootstrap, topic, 6, "record");

    streamlet_conf *conf = client_conf(bootstrap);
    conf_set_or_die(conf, "group.id", unique_name("manual-group"));
    conf_set_or_die(conf, "enable.auto.commit", "false");
    conf_set_or_die(conf, "auto.offset.reset", "earliest");
    CHECK(streamlet_conf_set_commit_cb(conf, on_commit));
    streamlet_consumer *consumer = NULL;
    CHECK(streamlet_consumer_new(conf, &consumer));
    streamlet_conf_free(conf);
    CHECK(streamlet_consumer_subscribe(consumer, &topic, 1));

    int got = 0;
    for (int waited = 0; got < 6 && waited < 15000; waited += 100) {
        streamlet_message *msg = NULL;
        CHECK(streamlet_consumer_poll(consumer, 100, &msg));
        if (!msg) continue;
        got++;
        if (got == 3) {
            CHECK(streamlet_consumer_commit_sync(consumer, NULL)); /* everything poll returned so far */
            printf("sync commit after %d records\n", got);
        }
        if (got == 6) {
            /* An explicit offset: the next record to read, i.e. this one's offset + 1. */
            streamlet_tpl *offsets = streamlet_tpl_new();
            CHECK(streamlet_tpl_add(offsets, streamlet_message_topic(msg), streamlet_message_partition(msg),
                                    streamlet_message_offset(msg) + 1));
            CHECK(streamlet_consumer_commit_async(consumer, offsets));
            streamlet_tpl_free(offsets);
        }
        streamlet_message_free(msg);
    }
    EXPECT(got == 6);
    for (int i = 0; i < 100 && async_done + async_failed == 0; i++) {
        streamlet_message *msg = NULL;
        CHECK(streamlet_consumer_poll(consumer, 50, &msg)); /* serves the commit callback */
        streamlet_message_free(msg);
    }
    EXPECT(async_done == 1 && async_failed == 0);

    streamlet_tpl *parts = streamlet_tpl_new(), *committed = NULL;
    CHECK(streamlet_tpl_add(parts, topic, 0, STREAMLET_OFFSET_INVALID));
    CHECK(streamlet_consumer_committed(consumer, parts, &committed));
    int64_t offset;
    CHECK(streamlet_tpl_get(committed, 0, NULL, NULL, &offset, NULL));
    printf("committed offset: %lld\n", (long long)offset);
    EXPECT(offset == 6);
    streamlet_tpl_free(committed);
    streamlet_tpl_free(parts);

    streamlet_consumer_free(consumer);
    streamlet_broker_free(broker);
    return 0;
}
