/* Linked through CMake + pkg-config: starts an embedded broker, sends one record synchronously, reads it back. */
#include <stdio.h>
#include <string.h>

#include <streamlet.h>

#define CHECK(call)                                                                                    \
    do {                                                                                               \
        streamlet_resp_err e_ = (call);                                                                \
        if (e_ != STREAMLET_OK) {                                                                      \
            char m_[256];                                                                              \
            streamlet_last_error_message(m_, sizeof m_);                                               \
            fprintf(stderr, "%s: %s: %s\n", #call, streamlet_err_name(e_), m_);                        \
            return 1;                                                                                  \
        }                                                                                              \
    } while (0)

int main(void) {
    if (streamlet_version() != STREAMLET_VERSION) {
        fprintf(stderr, "header %s but library %s\n", STREAMLET_VERSION_STR, streamlet_version_str());
        return 1;
    }
    streamlet_conf *conf = streamlet_conf_new();
    CHECK(streamlet_conf_set(conf, "listeners", "127.0.0.1:0", NULL, 0));
    streamlet_broker *broker = NULL;
    CHECK(streamlet_broker_new(conf, &broker));
    streamlet_conf_free(conf);

    conf = streamlet_conf_new();
    CHECK(streamlet_conf_set(conf, "bootstrap.servers", streamlet_broker_bootstrap_servers(broker), NULL, 0));
    CHECK(streamlet_conf_set(conf, "auto.offset.reset", "earliest", NULL, 0));
    streamlet_producer *producer = NULL;
    CHECK(streamlet_producer_new(conf, &producer));
    streamlet_consumer *consumer = NULL;
    CHECK(streamlet_consumer_new(conf, &consumer));
    streamlet_conf_free(conf);

    int32_t partition;
    int64_t offset;
    CHECK(streamlet_producer_send_sync(producer, "cmake", 0, NULL, 0, "hi", 2, NULL, 0, 0, &partition, &offset));
    streamlet_tpl *parts = streamlet_tpl_new();
    CHECK(streamlet_tpl_add(parts, "cmake", 0, STREAMLET_OFFSET_INVALID));
    CHECK(streamlet_consumer_assign(consumer, parts));
    streamlet_tpl_free(parts);
    streamlet_message *msg = NULL;
    for (int i = 0; i < 100 && !msg; i++) CHECK(streamlet_consumer_poll(consumer, 100, &msg));
    size_t len = 0;
    const char *value = msg ? streamlet_message_value(msg, &len) : NULL;
    int ok = value && len == 2 && memcmp(value, "hi", 2) == 0;
    printf("streamlet %s via CMake: %s\n", streamlet_version_str(), ok ? "round trip ok" : "round trip FAILED");
    streamlet_message_free(msg);
    streamlet_consumer_free(consumer);
    streamlet_producer_free(producer);
    streamlet_broker_free(broker);
    return ok ? 0 : 1;
}
