/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin whose entry point fails (returns NULL). */
#include <polyglot/plugin/abi.h>

POLYGLOT_PLUGIN_EXPORT const polyglot_plugin_v1* polyglot_plugin_entry(uint32_t host_abi) {
    (void)host_abi;
    return NULL;
}
