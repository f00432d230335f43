/* SPDX-License-Identifier: Apache-2.0 */
/* A plugin that needs a symbol nothing provides: loading it with RTLD_NOW must fail cleanly. */
#include <polyglot/plugin/abi.h>

extern const polyglot_plugin_v1* polyglot_test_symbol_that_does_not_exist(void);

POLYGLOT_PLUGIN_EXPORT const polyglot_plugin_v1* polyglot_plugin_entry(uint32_t host_abi) {
    (void)host_abi;
    return polyglot_test_symbol_that_does_not_exist();
}
