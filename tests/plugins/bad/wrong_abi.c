/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin built against a different (future) ABI version: the host must refuse it. Also
   proves abi.h compiles as C99. */
#include <polyglot/plugin/abi.h>

static polyglot_status create(const char* cfg, polyglot_model_t* out, char* err, size_t cap) {
    (void)cfg;
    (void)err;
    (void)cap;
    *out = NULL;
    return POLYGLOT_STATUS_INTERNAL;
}
static void destroy(polyglot_model_t m) { (void)m; }
static const char* last_error(polyglot_model_t m) {
    (void)m;
    return "";
}
static int32_t supports(polyglot_model_t m, polyglot_op op) {
    (void)m;
    (void)op;
    return 0;
}

static const polyglot_plugin_v1 table = {
    .abi_version = POLYGLOT_PLUGIN_ABI_VERSION + 1u,
    .struct_size = sizeof(polyglot_plugin_v1),
    .name = "badabi",
    .version = "9.9.9",
    .caps = POLYGLOT_CAP_EMBED,
    .description = "built for another ABI",
    .create = create,
    .destroy = destroy,
    .last_error = last_error,
    .supports = supports,
};

POLYGLOT_PLUGIN_EXPORT const polyglot_plugin_v1* polyglot_plugin_entry(uint32_t host_abi) {
    (void)host_abi;
    return &table;
}
