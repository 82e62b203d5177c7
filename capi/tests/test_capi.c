/* The C API's test runner: every function, error paths (bad config, unknown topic, NULLs) and callbacks, against
 * embedded brokers started through the C API. Prints "N passed, N failed"; exits non-zero on any failure.
 * CAPI_TEST_SUBSET=fast skips the tests that wait for consumer-group rebalances (used under valgrind). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "streamlet.h"

static int test_failed;
static const char *bootstrap;

#define FAIL(...)                                                                                      \
    do {                                                                                               \
        fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                                  \
        fprintf(stderr, "\n");                                                                         \
        test_failed = 1;                                                                               \
        return;                                                                                        \
    } while (0)
#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        if (!(cond)) FAIL("expected %s", #cond);                                                       \
    } while (0)
#define EXPECT_ERR(call, want)                                                                         \
    do {                                                                                               \
        streamlet_resp_err got_ = (call);                                                              \
        if (got_ != (want)) {                                                                          \
            char m_[512];                                                                              \
            streamlet_last_error_message(m_, sizeof m_);                                               \
            FAIL("%s returned %s (%s), expected %s", #call, streamlet_err_name(got_), m_,              \
                 streamlet_err_name(want));                                                            \
        }                                                                                              \
    } while (0)
#define OK(call) EXPECT_ERR(call, STREAMLET_OK)

static const char *unique(const char *prefix) {
    static char names[8][96];
    static int next;
    char *buf = names[next++ % 8];
    snprintf(buf, sizeof names[0], "%s-%d-%d", prefix, (int)time(NULL) % 100000, rand() % 100000);
    return buf;
}

static streamlet_conf *conf_with(const char *const *kv) {
    streamlet_conf *conf = streamlet_conf_new();
    streamlet_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    for (; kv && kv[0]; kv += 2) {
        char errstr[256];
        if (streamlet_conf_set(conf, kv[0], kv[1], errstr, sizeof errstr) != STREAMLET_OK) {
            fprintf(stderr, "conf_set %s=%s: %s\n", kv[0], kv[1], errstr);
            exit(2);
        }
    }
    return conf;
}

static streamlet_admin *new_admin(void) {
    streamlet_conf *conf = conf_with(NULL);
    streamlet_admin *admin = NULL;
    if (streamlet_admin_new(conf, &admin) != STREAMLET_OK) exit(2);
    streamlet_conf_free(conf);
    return admin;
}

/* ------------------------------------------------------------------------------------------------ basics */

static void test_version(void) {
    CHECK(streamlet_version() == STREAMLET_VERSION);
    CHECK(strcmp(streamlet_version_str(), STREAMLET_VERSION_STR) == 0);
    CHECK(STREAMLET_VERSION == ((STREAMLET_VERSION_MAJOR << 16) | (STREAMLET_VERSION_MINOR << 8) | STREAMLET_VERSION_PATCH));
}

static void test_err_names(void) {
    CHECK(STREAMLET_ERR_UNKNOWN_TOPIC_OR_PARTITION == 3); /* Kafka's numbers */
    CHECK(STREAMLET_ERR_TOPIC_ALREADY_EXISTS == 36);
    CHECK(STREAMLET_ERR_UNKNOWN_SERVER_ERROR == -1);
    CHECK(strcmp(streamlet_err_name(STREAMLET_OK), "NO_ERROR") == 0);
    CHECK(strcmp(streamlet_err_name(STREAMLET_ERR_UNKNOWN_TOPIC_OR_PARTITION), "UNKNOWN_TOPIC_OR_PARTITION") == 0);
    CHECK(strcmp(streamlet_err_name(STREAMLET_ERR__INVALID_ARG), "_INVALID_ARG") == 0);
    CHECK(strcmp(streamlet_err_name(STREAMLET_ERR__PANIC), "_PANIC") == 0);
    CHECK(strcmp(streamlet_err_name(-1), "UNKNOWN_SERVER_ERROR") == 0);
    CHECK(strcmp(streamlet_err_name(12345), "UNKNOWN") == 0); /* not a code: no undefined behaviour */
    CHECK(strcmp(streamlet_err_name(-50), "UNKNOWN") == 0);
}

static void test_conf(void) {
    streamlet_conf *conf = streamlet_conf_new();
    char errstr[256], buf[64];
    size_t len = 0;
    OK(streamlet_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr));
    CHECK(errstr[0] == '\0');
    OK(streamlet_conf_get(conf, "linger.ms", buf, sizeof buf, &len));
    CHECK(strcmp(buf, "5") == 0 && len == 1);
    /* truncated copy, full length reported */
    OK(streamlet_conf_set(conf, "client.id", "a-rather-long-client-id", NULL, 0));
    OK(streamlet_conf_get(conf, "client.id", buf, 4, &len));
    CHECK(strcmp(buf, "a-r") == 0 && len == strlen("a-rather-long-client-id"));
    EXPECT_ERR(streamlet_conf_get(conf, "acks", buf, sizeof buf, NULL), STREAMLET_ERR__UNKNOWN_CONFIG);

    EXPECT_ERR(streamlet_conf_set(conf, "no.such.property", "1", errstr, sizeof errstr), STREAMLET_ERR__UNKNOWN_CONFIG);
    CHECK(strstr(errstr, "no.such.property") != NULL);
    EXPECT_ERR(streamlet_conf_set(conf, "linger.ms", "soon", errstr, sizeof errstr), STREAMLET_ERR__INVALID_CONFIG);
    CHECK(strstr(errstr, "linger.ms") && strstr(errstr, "soon"));
    EXPECT_ERR(streamlet_conf_set(conf, "auto.offset.reset", "sideways", errstr, sizeof errstr), STREAMLET_ERR__INVALID_CONFIG);
    EXPECT_ERR(streamlet_conf_set(conf, "num.partitions", "-x", errstr, 8), STREAMLET_ERR__INVALID_CONFIG);
    CHECK(strlen(errstr) == 7); /* truncated to the buffer */
    OK(streamlet_conf_get(conf, "linger.ms", buf, sizeof buf, NULL)); /* refused values do not replace */
    CHECK(strcmp(buf, "5") == 0);

    EXPECT_ERR(streamlet_conf_set(NULL, "linger.ms", "5", errstr, sizeof errstr), STREAMLET_ERR__INVALID_ARG);
    CHECK(strstr(errstr, "conf is NULL") != NULL);
    EXPECT_ERR(streamlet_conf_set(conf, NULL, "5", NULL, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_conf_set(conf, "linger.ms", NULL, NULL, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_conf_get(NULL, "linger.ms", buf, sizeof buf, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_conf_set_opaque(NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_conf_set_dr_cb(NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_conf_set_partitioner(NULL, NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_conf_add_producer_interceptor(conf, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_conf_set_rebalance_cb(NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_conf_set_commit_cb(NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    streamlet_conf_free(conf);
    streamlet_conf_free(NULL);
}

static void test_error_object(void) {
    EXPECT_ERR(streamlet_conf_set(NULL, "k", "v", NULL, 0), STREAMLET_ERR__INVALID_ARG);
    streamlet_error *e = streamlet_error_last();
    CHECK(e != NULL);
    CHECK(streamlet_error_code(e) == STREAMLET_ERR__INVALID_ARG);
    CHECK(strstr(streamlet_error_message(e), "conf is NULL") != NULL);
    streamlet_error_free(e);
    char small[5];
    CHECK(streamlet_last_error_message(small, sizeof small) == strlen("conf is NULL"));
    CHECK(strcmp(small, "conf") == 0);

    streamlet_conf *conf = streamlet_conf_new();
    OK(streamlet_conf_set(conf, "acks", "1", NULL, 0));
    CHECK(streamlet_error_last() == NULL); /* a success clears it */
    CHECK(streamlet_last_error_message(small, sizeof small) == 0 && small[0] == '\0');
    streamlet_conf_free(conf);
    CHECK(streamlet_error_code(NULL) == STREAMLET_ERR__INVALID_ARG);
    CHECK(strcmp(streamlet_error_message(NULL), "") == 0);
    streamlet_error_free(NULL);
}

static void test_null_handles(void) {
    /* Every _free takes NULL; accessors give neutral values; calls return _INVALID_ARG. */
    streamlet_broker_free(NULL);
    streamlet_producer_free(NULL);
    streamlet_consumer_free(NULL);
    streamlet_admin_free(NULL);
    streamlet_message_free(NULL);
    streamlet_tpl_free(NULL);
    streamlet_strlist_free(NULL);
    streamlet_topic_description_free(NULL);
    streamlet_group_description_free(NULL);
    CHECK(strcmp(streamlet_broker_bootstrap_servers(NULL), "") == 0);
    CHECK(streamlet_producer_poll(NULL, 0) == -1);
    CHECK(streamlet_message_partition(NULL) == -1);
    CHECK(streamlet_message_offset(NULL) == STREAMLET_OFFSET_INVALID);
    CHECK(streamlet_message_timestamp(NULL) == -1);
    CHECK(streamlet_message_key(NULL, NULL) == NULL && streamlet_message_value(NULL, NULL) == NULL);
    CHECK(streamlet_message_opaque(NULL) == NULL && streamlet_message_header_count(NULL) == 0);
    CHECK(strcmp(streamlet_message_topic(NULL), "") == 0 && strcmp(streamlet_message_errstr(NULL), "") == 0);
    CHECK(streamlet_message_err(NULL) == STREAMLET_ERR__INVALID_ARG);
    CHECK(streamlet_tpl_count(NULL) == 0 && streamlet_strlist_count(NULL) == 0 && streamlet_strlist_get(NULL, 0) == NULL);
    CHECK(streamlet_topic_description_partition_count(NULL) == 0 && !streamlet_topic_description_internal(NULL));
    CHECK(strcmp(streamlet_topic_description_name(NULL), "") == 0);
    CHECK(streamlet_group_description_member_count(NULL) == 0);
    CHECK(strcmp(streamlet_group_description_state(NULL), "") == 0 && strcmp(streamlet_group_description_protocol(NULL), "") == 0);
    EXPECT_ERR(streamlet_broker_new(NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_broker_stop(NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_producer_new(NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_producer_flush(NULL, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_producer_close(NULL, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_producer_send(NULL, "t", -1, NULL, 0, NULL, 0, NULL, 0, 0, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_consumer_new(NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    streamlet_message *m = NULL;
    EXPECT_ERR(streamlet_consumer_poll(NULL, 0, &m), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_consumer_close(NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_consumer_wakeup(NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_admin_new(NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_admin_delete_topic(NULL, "t"), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_message_header(NULL, 0, NULL, NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_message_set_key(NULL, NULL, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_message_set_value(NULL, NULL, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_tpl_add(NULL, "t", 0, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_tpl_get(NULL, 0, NULL, NULL, NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_tpl_set_offset(NULL, 0, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_topic_description_partition(NULL, 0, NULL, NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_group_description_member(NULL, 0, NULL, NULL, NULL), STREAMLET_ERR__INVALID_ARG);
}

static void test_tpl(void) {
    streamlet_tpl *tpl = streamlet_tpl_new();
    OK(streamlet_tpl_add(tpl, "a", 0, 5));
    OK(streamlet_tpl_add(tpl, "b", 3, STREAMLET_OFFSET_INVALID));
    EXPECT_ERR(streamlet_tpl_add(tpl, NULL, 0, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_tpl_add(tpl, "c", -1, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_tpl_add(tpl, "", 0, 0), STREAMLET_ERR__INVALID_ARG);
    CHECK(streamlet_tpl_count(tpl) == 2);
    const char *topic = NULL;
    int32_t partition = -9;
    int64_t offset = -9;
    streamlet_resp_err err = STREAMLET_ERR__FATAL;
    OK(streamlet_tpl_set_offset(tpl, 1, 42));
    OK(streamlet_tpl_get(tpl, 1, &topic, &partition, &offset, &err));
    CHECK(strcmp(topic, "b") == 0 && partition == 3 && offset == 42 && err == STREAMLET_OK);
    /* out of range: out-parameters untouched */
    EXPECT_ERR(streamlet_tpl_get(tpl, 2, &topic, &partition, &offset, &err), STREAMLET_ERR__INVALID_ARG);
    CHECK(partition == 3 && offset == 42);
    EXPECT_ERR(streamlet_tpl_set_offset(tpl, 7, 1), STREAMLET_ERR__INVALID_ARG);
    streamlet_tpl_free(tpl);
}

/* ------------------------------------------------------------------------------------------------ broker */

static void test_broker(void) {
    streamlet_conf *conf = streamlet_conf_new();
    OK(streamlet_conf_set(conf, "listeners", "127.0.0.1:0", NULL, 0));
    OK(streamlet_conf_set(conf, "num.partitions", "2", NULL, 0));
    streamlet_broker *b = NULL;
    EXPECT_ERR(streamlet_broker_new(conf, NULL), STREAMLET_ERR__INVALID_ARG);
    OK(streamlet_broker_new(conf, &b));
    const char *bs = streamlet_broker_bootstrap_servers(b);
    CHECK(strncmp(bs, "127.0.0.1:", 10) == 0 && strcmp(bs, "127.0.0.1:0") != 0);
    OK(streamlet_broker_stop(b));
    OK(streamlet_broker_stop(b)); /* idempotent */
    streamlet_broker_free(b);

    /* A data directory that cannot be created: the broker refuses to start, *out untouched. */
    OK(streamlet_conf_set(conf, "log.dirs", "/dev/null/streamlet", NULL, 0));
    streamlet_broker *untouched = (streamlet_broker *)&conf;
    streamlet_resp_err err = streamlet_broker_new(conf, &untouched);
    CHECK(err == STREAMLET_ERR__IO || err == STREAMLET_ERR__INVALID_CONFIG);
    CHECK(untouched == (streamlet_broker *)&conf);
    char msg[256];
    streamlet_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "/dev/null/streamlet") != NULL);
    streamlet_conf_free(conf);
}

/* ---------------------------------------------------------------------------------------------- producer */

struct dr_state {
    int delivered, failed;
    int last_partition;
    long long last_offset;
    void *last_opaque;
    streamlet_resp_err last_err;
    char last_value[64];
    size_t headers;
    pthread_t thread;
    int wrong_thread;
};

static void dr_cb(streamlet_producer *p, const streamlet_message *msg, void *opaque) {
    (void)p;
    struct dr_state *s = opaque;
    if (!pthread_equal(pthread_self(), s->thread)) s->wrong_thread++;
    s->last_err = streamlet_message_err(msg);
    s->last_opaque = streamlet_message_opaque(msg);
    if (s->last_err == STREAMLET_OK) {
        s->delivered++;
        s->last_partition = streamlet_message_partition(msg);
        s->last_offset = streamlet_message_offset(msg);
        size_t len = 0;
        const char *v = streamlet_message_value(msg, &len);
        snprintf(s->last_value, sizeof s->last_value, "%.*s", (int)len, v ? v : "");
        s->headers = streamlet_message_header_count(msg);
    } else {
        s->failed++;
    }
}

static void test_producer_new_errors(void) {
    streamlet_conf *conf = streamlet_conf_new(); /* no bootstrap.servers */
    streamlet_producer *p = NULL;
    EXPECT_ERR(streamlet_producer_new(conf, &p), STREAMLET_ERR__INVALID_CONFIG);
    CHECK(p == NULL);
    char msg[256];
    streamlet_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "bootstrap.servers") != NULL);
    OK(streamlet_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0));
    OK(streamlet_conf_set(conf, "enable.idempotence", "true", NULL, 0));
    OK(streamlet_conf_set(conf, "acks", "0", NULL, 0)); /* conflicts with idempotence: refused at _new */
    EXPECT_ERR(streamlet_producer_new(conf, &p), STREAMLET_ERR__INVALID_CONFIG);
    EXPECT_ERR(streamlet_producer_new(conf, NULL), STREAMLET_ERR__INVALID_ARG);
    streamlet_conf_free(conf);
}

static void test_producer_send_and_reports(void) {
    struct dr_state s;
    memset(&s, 0, sizeof s);
    s.thread = pthread_self();
    const char *kv[] = {"linger.ms", "2", NULL};
    streamlet_conf *conf = conf_with(kv);
    OK(streamlet_conf_set_dr_cb(conf, dr_cb));
    OK(streamlet_conf_set_opaque(conf, &s));
    streamlet_producer *p = NULL;
    OK(streamlet_producer_new(conf, &p));
    streamlet_conf_free(conf);
    const char *topic = unique("send");

    streamlet_header headers[] = {{"h1", "v1", 2}, {"null-header", NULL, 0}};
    int tag = 7;
    OK(streamlet_producer_send(p, topic, 0, "k", 1, "hello", 5, headers, 2, 0, &tag));
    OK(streamlet_producer_flush(p, 10000));
    CHECK(s.delivered == 1 && s.failed == 0 && s.wrong_thread == 0);
    CHECK(s.last_opaque == &tag && s.last_partition == 0 && s.last_offset == 0);
    CHECK(strcmp(s.last_value, "hello") == 0 && s.headers == 2);

    /* poll serves reports as they come; count returned */
    OK(streamlet_producer_send(p, topic, STREAMLET_PARTITION_UA, NULL, 0, NULL, 0, NULL, 0, 1700000000000, NULL));
    int served = 0;
    for (int i = 0; i < 100 && served == 0; i++) served = streamlet_producer_poll(p, 100);
    CHECK(served == 1 && s.delivered == 2 && s.last_opaque == NULL);
    CHECK(streamlet_producer_poll(p, 0) == 0);

    /* argument errors are returned at once */
    EXPECT_ERR(streamlet_producer_send(p, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_producer_send(p, "", 0, NULL, 0, NULL, 0, NULL, 0, 0, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_producer_send(p, topic, -5, NULL, 0, NULL, 0, NULL, 0, 0, NULL), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_producer_send(p, topic, 0, NULL, 0, NULL, 0, NULL, 3, 0, NULL), STREAMLET_ERR__INVALID_ARG);
    streamlet_header bad[] = {{NULL, "v", 1}};
    EXPECT_ERR(streamlet_producer_send(p, topic, 0, NULL, 0, NULL, 0, bad, 1, 0, NULL), STREAMLET_ERR__INVALID_ARG);

    /* a record larger than max.request.size fails through its report */
    static char big[2 * 1024 * 1024];
    OK(streamlet_producer_send(p, topic, 0, NULL, 0, big, sizeof big, NULL, 0, 0, NULL));
    OK(streamlet_producer_flush(p, 10000));
    CHECK(s.failed == 1 && s.last_err == STREAMLET_ERR_MESSAGE_TOO_LARGE);

    OK(streamlet_producer_close(p, 5000));
    OK(streamlet_producer_close(p, 5000));
    OK(streamlet_producer_send(p, topic, 0, NULL, 0, "late", 4, NULL, 0, 0, NULL));
    for (int i = 0; i < 50 && s.failed == 1; i++) streamlet_producer_poll(p, 20);
    CHECK(s.failed == 2 && s.last_err == STREAMLET_ERR__CLOSED);
    int32_t part = -7;
    EXPECT_ERR(streamlet_producer_send_sync(p, topic, 0, NULL, 0, "x", 1, NULL, 0, 0, &part, NULL), STREAMLET_ERR__CLOSED);
    CHECK(part == -7);
    streamlet_producer_free(p);
}

static void test_producer_sync_and_unknown_topic(void) {
    /* A broker that does not create topics on demand. */
    streamlet_conf *bconf = streamlet_conf_new();
    OK(streamlet_conf_set(bconf, "listeners", "127.0.0.1:0", NULL, 0));
    OK(streamlet_conf_set(bconf, "auto.create.topics.enable", "false", NULL, 0));
    streamlet_broker *b = NULL;
    OK(streamlet_broker_new(bconf, &b));
    streamlet_conf_free(bconf);

    streamlet_conf *conf = streamlet_conf_new();
    OK(streamlet_conf_set(conf, "bootstrap.servers", streamlet_broker_bootstrap_servers(b), NULL, 0));
    OK(streamlet_conf_set(conf, "max.block.ms", "300", NULL, 0));
    streamlet_producer *p = NULL;
    OK(streamlet_producer_new(conf, &p));
    streamlet_admin *admin = NULL;
    OK(streamlet_admin_new(conf, &admin));
    streamlet_conf_free(conf);

    int32_t partition = -7;
    int64_t offset = -7;
    streamlet_resp_err err = streamlet_producer_send_sync(p, "missing-topic", STREAMLET_PARTITION_UA, NULL, 0, "v", 1,
                                                          NULL, 0, 0, &partition, &offset);
    /* As Kafka's producer: the topic never shows up in metadata, so the send times out after max.block.ms. */
    CHECK(err == STREAMLET_ERR__TIMED_OUT);
    CHECK(partition == -7 && offset == -7);
    streamlet_topic_description *d = NULL;
    streamlet_admin *probe = NULL;
    streamlet_conf *pconf = streamlet_conf_new();
    OK(streamlet_conf_set(pconf, "bootstrap.servers", streamlet_broker_bootstrap_servers(b), NULL, 0));
    OK(streamlet_admin_new(pconf, &probe));
    streamlet_conf_free(pconf);
    EXPECT_ERR(streamlet_admin_describe_topic(probe, "missing-topic", &d), STREAMLET_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    streamlet_admin_free(probe);

    OK(streamlet_admin_create_topic(admin, "present", 2, 1, NULL, NULL, 0));
    OK(streamlet_producer_send_sync(p, "present", 1, "k", 1, "v", 1, NULL, 0, 0, &partition, &offset));
    CHECK(partition == 1 && offset == 0);
    OK(streamlet_producer_send_sync(p, "present", 1, NULL, 0, "w", 1, NULL, 0, 0, NULL, NULL));

    streamlet_admin_free(admin);
    streamlet_producer_free(p);
    streamlet_broker_free(b);
}

static int32_t last_key_partitioner(const char *topic, const void *key, size_t key_len, const void *value,
                                    size_t value_len, int32_t count, void *opaque) {
    (void)topic, (void)value, (void)value_len;
    (*(int *)opaque)++;
    return key && key_len ? ((const char *)key)[key_len - 1] % count : count - 1;
}

static void test_partitioner(void) {
    streamlet_admin *admin = new_admin();
    const char *topic = unique("partitioner");
    OK(streamlet_admin_create_topic(admin, topic, 4, -1, NULL, NULL, 0));
    streamlet_admin_free(admin);
    int calls = 0;
    streamlet_conf *conf = conf_with(NULL);
    OK(streamlet_conf_set_partitioner(conf, last_key_partitioner, &calls));
    streamlet_producer *p = NULL;
    OK(streamlet_producer_new(conf, &p));
    streamlet_conf_free(conf);
    int32_t partition;
    OK(streamlet_producer_send_sync(p, topic, STREAMLET_PARTITION_UA, "a2", 2, "v", 1, NULL, 0, 0, &partition, NULL));
    CHECK(partition == '2' % 4);
    OK(streamlet_producer_send_sync(p, topic, STREAMLET_PARTITION_UA, NULL, 0, "v", 1, NULL, 0, 0, &partition, NULL));
    CHECK(partition == 3);
    OK(streamlet_producer_send_sync(p, topic, 1, "a2", 2, "v", 1, NULL, 0, 0, &partition, NULL)); /* explicit wins */
    CHECK(partition == 1 && calls == 2);
    streamlet_producer_free(p);
}

struct ic_state {
    int sends, acks_ok, acks_failed, closes;
};

static void ic_upper_key(streamlet_message *msg, void *opaque) {
    ((struct ic_state *)opaque)->sends++;
    size_t len;
    const char *key = streamlet_message_key(msg, &len);
    char buf[64];
    snprintf(buf, sizeof buf, "K:%.*s", (int)len, key ? key : "");
    streamlet_message_set_key(msg, buf, strlen(buf));
}

static void ic_ack(const streamlet_message *msg, void *opaque) {
    struct ic_state *s = opaque;
    if (streamlet_message_err(msg) == STREAMLET_OK) s->acks_ok++;
    else s->acks_failed++;
}

static void ic_close(void *opaque) { ((struct ic_state *)opaque)->closes++; }

static void test_producer_interceptors(void) {
    struct ic_state s = {0, 0, 0, 0};
    streamlet_producer_interceptor ic = {ic_upper_key, ic_ack, ic_close, &s};
    streamlet_producer_interceptor empty = {NULL, NULL, NULL, NULL};
    streamlet_conf *conf = conf_with(NULL);
    OK(streamlet_conf_add_producer_interceptor(conf, &ic));
    OK(streamlet_conf_add_producer_interceptor(conf, &empty));
    streamlet_producer *p = NULL;
    OK(streamlet_producer_new(conf, &p));
    streamlet_conf_free(conf);
    const char *topic = unique("interceptors");
    OK(streamlet_producer_send(p, topic, 0, "a", 1, "v", 1, NULL, 0, 0, NULL));
    OK(streamlet_producer_send(p, topic, 0, "b", 1, "v", 1, NULL, 0, 0, NULL));
    OK(streamlet_producer_flush(p, 10000));
    CHECK(s.sends == 2 && s.acks_ok == 2 && s.acks_failed == 0 && s.closes == 0);

    /* the key the broker stored is the interceptor's */
    const char *kv[] = {"auto.offset.reset", "earliest", NULL};
    streamlet_conf *cconf = conf_with(kv);
    streamlet_consumer *c = NULL;
    OK(streamlet_consumer_new(cconf, &c));
    streamlet_conf_free(cconf);
    streamlet_tpl *parts = streamlet_tpl_new();
    OK(streamlet_tpl_add(parts, topic, 0, STREAMLET_OFFSET_INVALID));
    OK(streamlet_consumer_assign(c, parts));
    streamlet_tpl_free(parts);
    streamlet_message *m = NULL;
    for (int i = 0; i < 100 && !m; i++) OK(streamlet_consumer_poll(c, 100, &m));
    CHECK(m != NULL);
    size_t len;
    const char *key = streamlet_message_key(m, &len);
    CHECK(len == 3 && memcmp(key, "K:a", 3) == 0);
    streamlet_message_free(m);
    streamlet_consumer_free(c);

    streamlet_producer_free(p);
    CHECK(s.closes == 1);
}

struct sender_arg {
    streamlet_producer *p;
    const char *topic;
    int ok;
};

static void *sender(void *arg) {
    struct sender_arg *a = arg;
    for (int i = 0; i < 20; i++) {
        if (streamlet_producer_send_sync(a->p, a->topic, STREAMLET_PARTITION_UA, "k", 1, "v", 1, NULL, 0, 0, NULL, NULL) == STREAMLET_OK)
            a->ok++;
    }
    return NULL;
}

static void test_producer_threads(void) {
    streamlet_conf *conf = conf_with(NULL);
    streamlet_producer *p = NULL;
    OK(streamlet_producer_new(conf, &p));
    streamlet_conf_free(conf);
    pthread_t threads[4];
    struct sender_arg args[4];
    const char *topic = unique("threads");
    for (int i = 0; i < 4; i++) {
        args[i] = (struct sender_arg){p, topic, 0};
        pthread_create(&threads[i], NULL, sender, &args[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < 4; i++) CHECK(args[i].ok == 20);
    streamlet_producer_free(p);
}

/* ---------------------------------------------------------------------------------------------- consumer */

static void produce(const char *topic, int partition, int n) {
    streamlet_conf *conf = conf_with(NULL);
    streamlet_producer *p = NULL;
    if (streamlet_producer_new(conf, &p) != STREAMLET_OK) exit(2);
    streamlet_conf_free(conf);
    for (int i = 0; i < n; i++) {
        char v[32];
        snprintf(v, sizeof v, "v%d", i);
        streamlet_header h = {"n", v, strlen(v)};
        streamlet_producer_send(p, topic, partition, "key", 3, v, strlen(v), &h, 1, 1700000000000 + i, NULL);
    }
    if (streamlet_producer_flush(p, 10000) != STREAMLET_OK) exit(2);
    streamlet_producer_free(p);
}

static streamlet_message *poll_one(streamlet_consumer *c, int max_ms) {
    streamlet_message *m = NULL;
    for (int waited = 0; !m && waited < max_ms; waited += 50)
        if (streamlet_consumer_poll(c, 50, &m) != STREAMLET_OK) return NULL;
    return m;
}

static void test_consumer_assign_seek_pause(void) {
    const char *topic = unique("assign");
    produce(topic, 0, 5);
    const char *kv[] = {"auto.offset.reset", "earliest", "group.id", unique("assign-group"), NULL};
    streamlet_conf *conf = conf_with(kv);
    streamlet_consumer *c = NULL;
    OK(streamlet_consumer_new(conf, &c));
    streamlet_conf_free(conf);
    streamlet_message *m = (streamlet_message *)&conf;
    EXPECT_ERR(streamlet_consumer_poll(c, 0, &m), STREAMLET_ERR__STATE); /* nothing assigned */
    CHECK(m == (streamlet_message *)&conf);
    EXPECT_ERR(streamlet_consumer_poll(c, 0, NULL), STREAMLET_ERR__INVALID_ARG);

    streamlet_tpl *parts = streamlet_tpl_new();
    OK(streamlet_tpl_add(parts, topic, 0, STREAMLET_OFFSET_INVALID));
    OK(streamlet_consumer_assign(c, parts));
    streamlet_tpl *assigned = NULL;
    OK(streamlet_consumer_assignment(c, &assigned));
    CHECK(streamlet_tpl_count(assigned) == 1);
    streamlet_tpl_free(assigned);

    m = poll_one(c, 10000);
    CHECK(m != NULL);
    CHECK(strcmp(streamlet_message_topic(m), topic) == 0 && streamlet_message_partition(m) == 0);
    CHECK(streamlet_message_offset(m) == 0 && streamlet_message_timestamp(m) == 1700000000000);
    size_t len;
    const void *p = streamlet_message_key(m, &len);
    CHECK(len == 3 && memcmp(p, "key", 3) == 0);
    p = streamlet_message_value(m, &len);
    CHECK(len == 2 && memcmp(p, "v0", 2) == 0);
    CHECK(streamlet_message_header_count(m) == 1 && streamlet_message_err(m) == STREAMLET_OK);
    const char *hname;
    const void *hval;
    size_t hlen;
    OK(streamlet_message_header(m, 0, &hname, &hval, &hlen));
    CHECK(strcmp(hname, "n") == 0 && hlen == 2 && memcmp(hval, "v0", 2) == 0);
    EXPECT_ERR(streamlet_message_header(m, 1, &hname, &hval, &hlen), STREAMLET_ERR__INVALID_ARG);
    streamlet_message_free(m);

    int64_t pos = -1;
    OK(streamlet_consumer_position(c, topic, 0, &pos));
    CHECK(pos == 1);
    OK(streamlet_consumer_seek(c, topic, 0, 3));
    m = poll_one(c, 5000);
    CHECK(m && streamlet_message_offset(m) == 3);
    streamlet_message_free(m);
    OK(streamlet_consumer_seek(c, topic, 0, STREAMLET_OFFSET_BEGINNING));
    m = poll_one(c, 5000);
    CHECK(m && streamlet_message_offset(m) == 0);
    streamlet_message_free(m);
    OK(streamlet_consumer_seek(c, topic, 0, STREAMLET_OFFSET_END));
    OK(streamlet_consumer_position(c, topic, 0, &pos));
    CHECK(pos == 5);
    EXPECT_ERR(streamlet_consumer_seek(c, topic, 0, -17), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_consumer_seek(c, topic, -1, 0), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_consumer_position(c, NULL, 0, &pos), STREAMLET_ERR__INVALID_ARG);

    /* paused: nothing arrives; resumed: the new record does */
    OK(streamlet_consumer_pause(c, parts));
    produce(topic, 0, 1);
    m = NULL;
    OK(streamlet_consumer_poll(c, 300, &m));
    CHECK(m == NULL);
    OK(streamlet_consumer_resume(c, parts));
    m = poll_one(c, 5000);
    CHECK(m && streamlet_message_offset(m) == 5);
    streamlet_message_free(m);

    /* commit explicit offsets with a group.id but no subscription; read them back */
    OK(streamlet_tpl_set_offset(parts, 0, 4));
    OK(streamlet_consumer_commit_sync(c, parts));
    streamlet_tpl *committed = NULL;
    OK(streamlet_consumer_committed(c, parts, &committed));
    int64_t off;
    OK(streamlet_tpl_get(committed, 0, NULL, NULL, &off, NULL));
    CHECK(off == 4);
    streamlet_tpl_free(committed);
    OK(streamlet_tpl_set_offset(parts, 0, -3));
    EXPECT_ERR(streamlet_consumer_commit_sync(c, parts), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_consumer_assign(c, NULL), STREAMLET_ERR__INVALID_ARG);
    const char *t = topic;
    EXPECT_ERR(streamlet_consumer_subscribe(c, &t, 1), STREAMLET_ERR__STATE); /* assign, then subscribe */
    streamlet_tpl_free(parts);
    OK(streamlet_consumer_close(c));
    OK(streamlet_consumer_close(c));
    EXPECT_ERR(streamlet_consumer_poll(c, 0, &m), STREAMLET_ERR__CLOSED);
    streamlet_consumer_free(c);
}

static void test_consumer_errors(void) {
    streamlet_conf *conf = streamlet_conf_new();
    streamlet_consumer *c = NULL;
    EXPECT_ERR(streamlet_consumer_new(conf, &c), STREAMLET_ERR__INVALID_CONFIG); /* no bootstrap.servers */
    streamlet_conf_free(conf);

    /* no group.id: subscribing is refused */
    conf = conf_with(NULL);
    OK(streamlet_consumer_new(conf, &c));
    streamlet_conf_free(conf);
    const char *topics[] = {"t"};
    streamlet_resp_err err = streamlet_consumer_subscribe(c, topics, 1);
    CHECK(err != STREAMLET_OK);
    EXPECT_ERR(streamlet_consumer_subscribe(c, NULL, 1), STREAMLET_ERR__INVALID_ARG);
    streamlet_consumer_free(c);

    /* auto.offset.reset=none without a committed offset */
    const char *kv[] = {"auto.offset.reset", "none", "group.id", unique("none-group"), NULL};
    conf = conf_with(kv);
    OK(streamlet_consumer_new(conf, &c));
    streamlet_conf_free(conf);
    const char *topic = unique("no-offset");
    produce(topic, 0, 1);
    streamlet_tpl *parts = streamlet_tpl_new();
    OK(streamlet_tpl_add(parts, topic, 0, STREAMLET_OFFSET_INVALID));
    OK(streamlet_consumer_assign(c, parts));
    streamlet_tpl_free(parts);
    streamlet_message *m = NULL;
    err = STREAMLET_OK;
    for (int i = 0; i < 100 && err == STREAMLET_OK; i++) err = streamlet_consumer_poll(c, 50, &m);
    CHECK(err == STREAMLET_ERR__NO_OFFSET && m == NULL);
    streamlet_consumer_free(c);
}

static void *wake_later(void *arg) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    streamlet_consumer_wakeup(arg);
    return NULL;
}

static void test_consumer_wakeup(void) {
    const char *kv[] = {"auto.offset.reset", "latest", NULL};
    streamlet_conf *conf = conf_with(kv);
    streamlet_consumer *c = NULL;
    OK(streamlet_consumer_new(conf, &c));
    streamlet_conf_free(conf);
    const char *topic = unique("wakeup");
    produce(topic, 0, 1);
    streamlet_tpl *parts = streamlet_tpl_new();
    OK(streamlet_tpl_add(parts, topic, 0, STREAMLET_OFFSET_INVALID));
    OK(streamlet_consumer_assign(c, parts));
    streamlet_tpl_free(parts);
    pthread_t t;
    pthread_create(&t, NULL, wake_later, c);
    streamlet_message *m = NULL;
    EXPECT_ERR(streamlet_consumer_poll(c, 20000, &m), STREAMLET_ERR__WAKEUP);
    pthread_join(t, NULL);
    streamlet_consumer_free(c);
}

struct group_state {
    int assigned, revoked, lost;
    int commits_ok, commits_failed;
    int64_t committed_offset;
    streamlet_consumer *self;
    int wrong_handle;
    int seek_ok;
};

static void rebalance_cb(streamlet_consumer *c, streamlet_rebalance_event ev, const streamlet_tpl *parts, void *opaque) {
    struct group_state *s = opaque;
    if (c != s->self) s->wrong_handle++;
    if (ev == STREAMLET_REBALANCE_ASSIGNED) {
        s->assigned += (int)streamlet_tpl_count(parts);
        const char *topic;
        int32_t partition;
        if (streamlet_tpl_count(parts) > 0 && streamlet_tpl_get(parts, 0, &topic, &partition, NULL, NULL) == STREAMLET_OK)
            s->seek_ok = streamlet_consumer_seek(c, topic, partition, 1) == STREAMLET_OK; /* a seek here wins */
    } else if (ev == STREAMLET_REBALANCE_REVOKED) {
        s->revoked += (int)streamlet_tpl_count(parts);
    } else {
        s->lost += (int)streamlet_tpl_count(parts);
    }
}

static void commit_cb(streamlet_consumer *c, streamlet_resp_err err, const streamlet_tpl *offsets, void *opaque) {
    struct group_state *s = opaque;
    if (c != s->self) s->wrong_handle++;
    if (err == STREAMLET_OK) s->commits_ok++;
    else s->commits_failed++;
    if (streamlet_tpl_count(offsets) > 0) streamlet_tpl_get(offsets, 0, NULL, NULL, &s->committed_offset, NULL);
}

static void test_consumer_group(void) {
    const char *topic = unique("group");
    const char *group = unique("group-id");
    produce(topic, 0, 4);
    struct group_state s;
    memset(&s, 0, sizeof s);
    const char *kv[] = {"group.id", group, "auto.offset.reset", "earliest", "enable.auto.commit", "false", NULL};
    streamlet_conf *conf = conf_with(kv);
    OK(streamlet_conf_set_rebalance_cb(conf, rebalance_cb));
    OK(streamlet_conf_set_commit_cb(conf, commit_cb));
    OK(streamlet_conf_set_opaque(conf, &s));
    streamlet_consumer *c = NULL;
    OK(streamlet_consumer_new(conf, &c));
    streamlet_conf_free(conf);
    s.self = c;
    OK(streamlet_consumer_subscribe(c, &topic, 1));
    streamlet_message *m = poll_one(c, 20000);
    CHECK(m != NULL);
    CHECK(s.assigned == 1 && s.seek_ok && s.wrong_handle == 0);
    CHECK(streamlet_message_offset(m) == 1); /* the seek in the callback */
    streamlet_message_free(m);

    OK(streamlet_consumer_commit_sync(c, NULL));
    streamlet_tpl *parts = streamlet_tpl_new(), *committed = NULL;
    OK(streamlet_tpl_add(parts, topic, 0, STREAMLET_OFFSET_INVALID));
    OK(streamlet_consumer_committed(c, parts, &committed));
    int64_t off;
    OK(streamlet_tpl_get(committed, 0, NULL, NULL, &off, NULL));
    CHECK(off == 2);
    streamlet_tpl_free(committed);

    m = poll_one(c, 5000);
    CHECK(m != NULL);
    streamlet_message_free(m);
    OK(streamlet_consumer_commit_async(c, NULL));
    for (int i = 0; i < 100 && s.commits_ok + s.commits_failed == 0; i++) {
        m = NULL;
        OK(streamlet_consumer_poll(c, 50, &m));
        streamlet_message_free(m);
    }
    CHECK(s.commits_ok == 1 && s.commits_failed == 0 && s.committed_offset >= 3);

    /* the group shows up in the admin API while the member is in it */
    streamlet_admin *admin = new_admin();
    streamlet_strlist *groups = NULL;
    OK(streamlet_admin_list_groups(admin, &groups));
    int found = 0;
    for (size_t i = 0; i < streamlet_strlist_count(groups); i++) found |= strcmp(streamlet_strlist_get(groups, i), group) == 0;
    CHECK(found);
    CHECK(streamlet_strlist_get(groups, streamlet_strlist_count(groups)) == NULL);
    streamlet_strlist_free(groups);
    streamlet_group_description *gd = NULL;
    OK(streamlet_admin_describe_group(admin, group, &gd));
    CHECK(strcmp(streamlet_group_description_state(gd), "Stable") == 0);
    CHECK(strlen(streamlet_group_description_protocol(gd)) > 0);
    CHECK(streamlet_group_description_member_count(gd) == 1);
    const char *member_id = NULL, *client_id = NULL, *host = NULL;
    OK(streamlet_group_description_member(gd, 0, &member_id, &client_id, &host));
    CHECK(member_id && strlen(member_id) > 0 && client_id && host);
    EXPECT_ERR(streamlet_group_description_member(gd, 1, &member_id, NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    streamlet_group_description_free(gd);
    streamlet_admin_free(admin);

    OK(streamlet_consumer_unsubscribe(c));
    CHECK(s.revoked == 1 && s.lost == 0);
    streamlet_tpl_free(parts);
    streamlet_consumer_free(c);
}

struct cic_state {
    int consumed, commits, closes;
    int64_t last_committed;
};

static void cic_consume(streamlet_message *msg, void *opaque) {
    ((struct cic_state *)opaque)->consumed++;
    streamlet_message_set_value(msg, "seen", 4);
}

static void cic_commit(const streamlet_tpl *offsets, void *opaque) {
    struct cic_state *s = opaque;
    s->commits++;
    streamlet_tpl_get(offsets, 0, NULL, NULL, &s->last_committed, NULL);
}

static void cic_close(void *opaque) { ((struct cic_state *)opaque)->closes++; }

static void test_consumer_interceptors(void) {
    const char *topic = unique("cinterceptors");
    produce(topic, 0, 2);
    struct cic_state s = {0, 0, 0, -1};
    streamlet_consumer_interceptor ic = {cic_consume, cic_commit, cic_close, &s};
    const char *kv[] = {"auto.offset.reset", "earliest", "group.id", unique("cic-group"), "enable.auto.commit", "false", NULL};
    streamlet_conf *conf = conf_with(kv);
    OK(streamlet_conf_add_consumer_interceptor(conf, &ic));
    EXPECT_ERR(streamlet_conf_add_consumer_interceptor(conf, NULL), STREAMLET_ERR__INVALID_ARG);
    streamlet_consumer *c = NULL;
    OK(streamlet_consumer_new(conf, &c));
    streamlet_conf_free(conf);
    streamlet_tpl *parts = streamlet_tpl_new();
    OK(streamlet_tpl_add(parts, topic, 0, STREAMLET_OFFSET_INVALID));
    OK(streamlet_consumer_assign(c, parts));
    streamlet_tpl_free(parts);
    streamlet_message *m = poll_one(c, 10000);
    CHECK(m != NULL && s.consumed == 1);
    size_t len;
    const char *v = streamlet_message_value(m, &len);
    CHECK(len == 4 && memcmp(v, "seen", 4) == 0); /* what the interceptor made of it */
    CHECK(streamlet_message_timestamp(m) == 1700000000000);
    streamlet_message_free(m);
    OK(streamlet_consumer_commit_sync(c, NULL));
    CHECK(s.commits == 1 && s.last_committed == 1);
    OK(streamlet_consumer_close(c));
    CHECK(s.closes == 1);
    streamlet_consumer_free(c);
    CHECK(s.closes == 1);
}

static void test_consumer_pattern(void) {
    const char *prefix = unique("pattern");
    char t1[128], t2[128], other[128], pattern[160];
    snprintf(t1, sizeof t1, "%s-a", prefix);
    snprintf(t2, sizeof t2, "%s-b", prefix);
    snprintf(other, sizeof other, "x%s-a", prefix);
    snprintf(pattern, sizeof pattern, "%s-.*", prefix);
    produce(t1, 0, 2);
    produce(t2, 0, 2);
    produce(other, 0, 2);
    struct group_state s;
    memset(&s, 0, sizeof s);
    const char *kv[] = {"group.id", unique("pattern-group"), "auto.offset.reset", "earliest", NULL};
    streamlet_conf *conf = conf_with(kv);
    OK(streamlet_conf_set_rebalance_cb(conf, rebalance_cb));
    OK(streamlet_conf_set_opaque(conf, &s));
    streamlet_consumer *c = NULL;
    OK(streamlet_consumer_new(conf, &c));
    streamlet_conf_free(conf);
    s.self = c;
    EXPECT_ERR(streamlet_consumer_subscribe_pattern(c, "(unclosed"), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_consumer_subscribe_pattern(c, NULL), STREAMLET_ERR__INVALID_ARG);
    OK(streamlet_consumer_subscribe_pattern(c, pattern));
    int got = 0, wrong = 0;
    for (int waited = 0; got < 3 && waited < 20000; waited += 100) {
        streamlet_message *m = NULL;
        OK(streamlet_consumer_poll(c, 100, &m));
        if (!m) continue;
        got++;
        wrong += strncmp(streamlet_message_topic(m), prefix, strlen(prefix)) != 0;
        streamlet_message_free(m);
    }
    CHECK(s.assigned == 2 && wrong == 0);
    CHECK(got == 3); /* the rebalance callback skipped the first record of one of the two partitions */
    streamlet_message *m = NULL;
    OK(streamlet_consumer_poll(c, 200, &m)); /* and nothing from the topic that does not match */
    CHECK(m == NULL);
    streamlet_consumer_free(c);
}

/* ------------------------------------------------------------------------------------------------- admin */

static void test_admin(void) {
    streamlet_admin *admin = new_admin();
    const char *topic = unique("admin");
    const char *names[] = {"retention.ms", "cleanup.policy"};
    const char *values[] = {"3600000", "delete"};
    OK(streamlet_admin_create_topic(admin, topic, 1, 1, names, values, 2));
    EXPECT_ERR(streamlet_admin_create_topic(admin, topic, 1, 1, NULL, NULL, 0), STREAMLET_ERR_TOPIC_ALREADY_EXISTS);
    EXPECT_ERR(streamlet_admin_create_topic(admin, "bad/name", 1, 1, NULL, NULL, 0), STREAMLET_ERR_INVALID_TOPIC_EXCEPTION);
    EXPECT_ERR(streamlet_admin_create_topic(admin, unique("x"), 1, 1, NULL, NULL, 1), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_admin_create_topic(admin, NULL, 1, 1, NULL, NULL, 0), STREAMLET_ERR__INVALID_ARG);
    OK(streamlet_admin_create_partitions(admin, topic, 3));
    EXPECT_ERR(streamlet_admin_create_partitions(admin, topic, 2), STREAMLET_ERR_INVALID_PARTITIONS);

    streamlet_topic_description *d = NULL;
    OK(streamlet_admin_describe_topic(admin, topic, &d));
    CHECK(strcmp(streamlet_topic_description_name(d), topic) == 0);
    CHECK(!streamlet_topic_description_internal(d) && streamlet_topic_description_partition_count(d) == 3);
    int32_t partition = -1, leader = -2, replicas = -3;
    OK(streamlet_topic_description_partition(d, 2, &partition, &leader, &replicas));
    CHECK(partition == 2 && leader >= 0 && replicas == 1);
    EXPECT_ERR(streamlet_topic_description_partition(d, 3, &partition, NULL, NULL), STREAMLET_ERR__INVALID_ARG);
    streamlet_topic_description_free(d);

    streamlet_strlist *topics = NULL;
    OK(streamlet_admin_list_topics(admin, false, &topics));
    int found = 0;
    for (size_t i = 0; i < streamlet_strlist_count(topics); i++) found |= strcmp(streamlet_strlist_get(topics, i), topic) == 0;
    CHECK(found);
    streamlet_strlist_free(topics);

    produce(topic, 1, 3);
    streamlet_tpl *q = streamlet_tpl_new(), *res = NULL;
    OK(streamlet_tpl_add(q, topic, 1, STREAMLET_OFFSET_BEGINNING));
    OK(streamlet_tpl_add(q, topic, 1, STREAMLET_OFFSET_END));
    OK(streamlet_tpl_add(q, topic, 1, STREAMLET_OFFSET_MAX_TIMESTAMP));
    OK(streamlet_tpl_add(q, topic, 1, 1700000000001)); /* first record at or after this timestamp */
    OK(streamlet_tpl_add(q, topic, 1, 4000000000000)); /* none */
    OK(streamlet_admin_list_offsets(admin, q, &res));
    int64_t want[] = {0, 3, 2, 1, STREAMLET_OFFSET_INVALID};
    for (size_t i = 0; i < 5; i++) {
        int64_t off;
        streamlet_resp_err err;
        OK(streamlet_tpl_get(res, i, NULL, NULL, &off, &err));
        if (off != want[i] || err != STREAMLET_OK) FAIL("list_offsets[%zu] = %lld (%s), want %lld", i, (long long)off, streamlet_err_name(err), (long long)want[i]);
    }
    streamlet_tpl_free(res);
    streamlet_tpl_free(q);
    q = streamlet_tpl_new();
    OK(streamlet_tpl_add(q, topic, 0, -7));
    EXPECT_ERR(streamlet_admin_list_offsets(admin, q, &res), STREAMLET_ERR__INVALID_ARG);
    streamlet_tpl_free(q);

    OK(streamlet_admin_delete_topic(admin, topic));
    EXPECT_ERR(streamlet_admin_delete_topic(admin, topic), STREAMLET_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    d = (streamlet_topic_description *)&admin;
    EXPECT_ERR(streamlet_admin_describe_topic(admin, topic, &d), STREAMLET_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK(d == (streamlet_topic_description *)&admin);
    streamlet_group_description *gd = NULL;
    EXPECT_ERR(streamlet_admin_describe_group(admin, NULL, &gd), STREAMLET_ERR__INVALID_ARG);
    EXPECT_ERR(streamlet_admin_list_topics(admin, false, NULL), STREAMLET_ERR__INVALID_ARG);
    streamlet_admin_free(admin);

    streamlet_conf *conf = streamlet_conf_new();
    EXPECT_ERR(streamlet_admin_new(conf, &admin), STREAMLET_ERR__INVALID_CONFIG);
    streamlet_conf_free(conf);
}

struct admin_arg {
    streamlet_admin *admin;
    const char *topic;
    int ok;
};

static void *admin_worker(void *arg) {
    struct admin_arg *a = arg;
    for (int i = 0; i < 10; i++) {
        streamlet_strlist *topics = NULL;
        streamlet_topic_description *d = NULL;
        if (streamlet_admin_list_topics(a->admin, false, &topics) == STREAMLET_OK &&
            streamlet_admin_describe_topic(a->admin, a->topic, &d) == STREAMLET_OK &&
            streamlet_topic_description_partition_count(d) == 2)
            a->ok++;
        streamlet_strlist_free(topics);
        streamlet_topic_description_free(d);
    }
    return NULL;
}

static void test_admin_threads(void) {
    streamlet_admin *admin = new_admin();
    const char *topic = unique("admin-threads");
    OK(streamlet_admin_create_topic(admin, topic, 2, -1, NULL, NULL, 0));
    pthread_t threads[3];
    struct admin_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (struct admin_arg){admin, topic, 0};
        pthread_create(&threads[i], NULL, admin_worker, &args[i]);
    }
    for (int i = 0; i < 3; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < 3; i++) CHECK(args[i].ok == 10);
    streamlet_admin_free(admin);
}

/* ------------------------------------------------------------------------------------------------ runner */

struct test {
    const char *name;
    void (*fn)(void);
    int slow; /* waits for group rebalances */
};

static const struct test TESTS[] = {
    {"version", test_version, 0},
    {"err_names", test_err_names, 0},
    {"conf", test_conf, 0},
    {"error_object", test_error_object, 0},
    {"null_handles", test_null_handles, 0},
    {"tpl", test_tpl, 0},
    {"broker", test_broker, 0},
    {"producer_new_errors", test_producer_new_errors, 0},
    {"producer_send_and_reports", test_producer_send_and_reports, 0},
    {"producer_sync_and_unknown_topic", test_producer_sync_and_unknown_topic, 0},
    {"partitioner", test_partitioner, 0},
    {"producer_interceptors", test_producer_interceptors, 0},
    {"producer_threads", test_producer_threads, 0},
    {"consumer_assign_seek_pause", test_consumer_assign_seek_pause, 0},
    {"consumer_errors", test_consumer_errors, 0},
    {"consumer_wakeup", test_consumer_wakeup, 0},
    {"consumer_group", test_consumer_group, 1},
    {"consumer_interceptors", test_consumer_interceptors, 0},
    {"consumer_pattern", test_consumer_pattern, 1},
    {"admin", test_admin, 0},
    {"admin_threads", test_admin_threads, 0},
};

int main(int argc, char **argv) {
    srand((unsigned)time(NULL) ^ (unsigned)clock());
    const char *subset = getenv("CAPI_TEST_SUBSET");
    int fast = subset && strcmp(subset, "fast") == 0;
    const char *only = argc > 1 ? argv[1] : NULL;

    streamlet_conf *conf = streamlet_conf_new();
    streamlet_conf_set(conf, "listeners", "127.0.0.1:0", NULL, 0);
    streamlet_conf_set(conf, "group.initial.rebalance.delay.ms", "0", NULL, 0);
    streamlet_broker *broker = NULL;
    if (streamlet_broker_new(conf, &broker) != STREAMLET_OK) {
        fprintf(stderr, "cannot start the broker\n");
        return 2;
    }
    streamlet_conf_free(conf);
    bootstrap = streamlet_broker_bootstrap_servers(broker);

    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof TESTS / sizeof TESTS[0]; i++) {
        if ((fast && TESTS[i].slow) || (only && strcmp(only, TESTS[i].name) != 0)) continue;
        test_failed = 0;
        TESTS[i].fn();
        printf("%s %s\n", test_failed ? "FAIL" : "ok  ", TESTS[i].name);
        fflush(stdout);
        if (test_failed) failed++;
        else passed++;
    }
    streamlet_broker_free(broker);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
