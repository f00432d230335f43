/* SPDX-License-Identifier: Apache-2.0 */
/* A valid shared library that is not a polyglot plugin (no polyglot_plugin_entry). */
__attribute__((visibility("default"))) int polyglot_test_not_a_plugin(int x) { return x + 1; }
