// The header must compile as C++ (extern "C" linkage, no C-only constructs).
#include "streamlet.h"

static_assert(sizeof(streamlet_resp_err) == sizeof(int), "the result enum is an int");

int main() {
    streamlet_conf *conf = streamlet_conf_new();
    streamlet_resp_err err = streamlet_conf_set(conf, "linger.ms", "5", nullptr, 0);
    streamlet_conf_free(conf);
    return err == STREAMLET_OK ? 0 : 1;
}
