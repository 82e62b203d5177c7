/* Shared by the C examples: error checks and an embedded broker started through the C API itself.
 * Set BOOTSTRAP=host:port to run an example against an existing cluster instead. */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "streamlet.h"

#define CHECK(call)                                                                                    \
    do {                                                                                               \
        streamlet_resp_err err_ = (call);                                                              \
        if (err_ != STREAMLET_OK) {                                                                    \
            char msg_[512];                                                                            \
            streamlet_last_error_message(msg_, sizeof msg_);                                           \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,                   \
                    streamlet_err_name(err_), msg_);                                                   \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

#define EXPECT(cond)                                                                                   \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);                        \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

static inline void conf_set_or_die(streamlet_conf *conf, const char *key, const char *value) {
    char errstr[512];
    if (streamlet_conf_set(conf, key, value, errstr, sizeof errstr) != STREAMLET_OK) {
        fprintf(stderr, "conf_set %s=%s: %s\n", key, value, errstr);
        exit(1);
    }
}

/* Starts an embedded broker on a free port unless BOOTSTRAP is set; *bootstrap receives the address. */
static inline streamlet_broker *start_broker(const char **bootstrap) {
    const char *env = getenv("BOOTSTRAP");
    if (env && *env) {
        *bootstrap = env;
        return NULL;
    }
    streamlet_conf *conf = streamlet_conf_new();
    conf_set_or_die(conf, "listeners", "127.0.0.1:0");
    conf_set_or_die(conf, "group.initial.rebalance.delay.ms", "0"); /* no need to wait for more members */
    streamlet_broker *broker = NULL;
    CHECK(streamlet_broker_new(conf, &broker));
    streamlet_conf_free(conf);
    *bootstrap = streamlet_broker_bootstrap_servers(broker);
    return broker;
}

/* A client conf with bootstrap.servers set. */
static inline streamlet_conf *client_conf(const char *bootstrap) {
    streamlet_conf *conf = streamlet_conf_new();
    conf_set_or_die(conf, "bootstrap.servers", bootstrap);
    return conf;
}

/* A topic name unique to this run, so examples can share a cluster. */
static inline const char *unique_name(const char *prefix) {
    static char names[4][128];
    static int next;
    char *buf = names[next++ % 4];
    snprintf(buf, sizeof names[0], "%s-%ld-%d", prefix, (long)time(NULL), rand() % 100000);
    return buf;
}

static inline void create_topic(const char *bootstrap, const char *topic, int32_t partitions) {
    streamlet_conf *conf = client_conf(bootstrap);
    streamlet_admin *admin = NULL;
    CHECK(streamlet_admin_new(conf, &admin));
    CHECK(streamlet_admin_create_topic(admin, topic, partitions, -1, NULL, NULL, 0));
    streamlet_admin_free(admin);
    streamlet_conf_free(conf);
}

/* Produces `count` records "<prefix>-<i>" with keys "key-<i>" and waits for them. */
static inline void produce_n(const char *bootstrap, const char *topic, int count, const char *prefix) {
    streamlet_conf *conf = client_conf(bootstrap);
    streamlet_producer *producer = NULL;
    CHECK(streamlet_producer_new(conf, &producer));
    for (int i = 0; i < count; i++) {
        char key[32], value[64];
        snprintf(key, sizeof key, "key-%d", i);
        snprintf(value, sizeof value, "%s-%d", prefix, i);
        CHECK(streamlet_producer_send(producer, topic, STREAMLET_PARTITION_UA, key, strlen(key), value, strlen(value),
                                      NULL, 0, 0, NULL));
    }
    CHECK(streamlet_producer_flush(producer, 10000));
    streamlet_producer_free(producer);
    streamlet_conf_free(conf);
}

#endif
