// SPDX-License-Identifier: Apache-2.0
// The plugin ABI is append-only: these asserts pin the layout of every shipped version. If one
// fails, a member was inserted, removed, reordered or retyped: undo that, append at the end
// instead, or (for a deliberate break) bump POLYGLOT_PLUGIN_ABI_VERSION and add a new block.
#define BOOST_TEST_MODULE abi_layout
#include <polyglot/plugin/abi.h>

#include <boost/test/unit_test.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <polyglot/plugin/host.hpp>

static_assert(POLYGLOT_PLUGIN_ABI_VERSION == 1u, "new ABI version: add its layout block below");

// ---- the frozen header (identical in every ABI version) -----------------------------------
static_assert(offsetof(polyglot_plugin_v1, abi_version) == 0);
static_assert(offsetof(polyglot_plugin_v1, struct_size) == 4);
static_assert(offsetof(polyglot_plugin_v1, name) == 8);
static_assert(offsetof(polyglot_plugin_v1, version) == 8 + sizeof(void*));
static_assert(offsetof(polyglot_plugin_v1, caps) % 8 == 0);

// ---- version 1: DO NOT MODIFY (LP64) ---------------------------------------------------------
#if UINTPTR_MAX == UINT64_MAX
static_assert(offsetof(polyglot_plugin_v1, caps) == 24);
static_assert(offsetof(polyglot_plugin_v1, description) == 32);
static_assert(offsetof(polyglot_plugin_v1, create) == 40);
static_assert(offsetof(polyglot_plugin_v1, destroy) == 48);
static_assert(offsetof(polyglot_plugin_v1, last_error) == 56);
static_assert(offsetof(polyglot_plugin_v1, supports) == 64);
static_assert(offsetof(polyglot_plugin_v1, get_info) == 72);
static_assert(offsetof(polyglot_plugin_v1, get_dim) == 80);
static_assert(offsetof(polyglot_plugin_v1, embed) == 88);
static_assert(offsetof(polyglot_plugin_v1, tokenize) == 96);
static_assert(offsetof(polyglot_plugin_v1, score) == 104);
static_assert(offsetof(polyglot_plugin_v1, generate) == 112);
static_assert(offsetof(polyglot_plugin_v1, device_count) == 120);
static_assert(offsetof(polyglot_plugin_v1, device_info) == 128);
static_assert(offsetof(polyglot_plugin_v1, get_proc_address) == 136);
// The last member of version 1 (ORT style: offset in pointer units).
static_assert(offsetof(polyglot_plugin_v1, unusable_reason) / sizeof(void*) == 18);
// ---- End of version 1 -------------------------------------------------------------------------

// ---- version 1.1 (appended): DO NOT MODIFY ---------------------------------------------------
static_assert(offsetof(polyglot_plugin_v1, embed_texts) == 152);
static_assert(offsetof(polyglot_plugin_v1, tokenize_texts) == 160);
static_assert(offsetof(polyglot_plugin_v1, score_texts) == 168);
static_assert(offsetof(polyglot_plugin_v1, score_ids) == 176);
static_assert(offsetof(polyglot_plugin_v1, detokenize) / sizeof(void*) == 23);
// Nothing after it yet; appending a member grows sizeof and needs a new block.
static_assert(sizeof(polyglot_plugin_v1) == 192);
// ---- End of version 1.1 -----------------------------------------------------------------------

// Plain-data structs crossing the boundary.
static_assert(sizeof(polyglot_text_batch) == 24);
static_assert(offsetof(polyglot_text_batch, offsets) == 8);
static_assert(offsetof(polyglot_text_batch, n) == 16);
static_assert(sizeof(polyglot_score_result) == 24);
static_assert(offsetof(polyglot_score_result, n_scored) == 8);
static_assert(offsetof(polyglot_score_result, prompt_tokens) == 12);
static_assert(offsetof(polyglot_score_result, response_tokens) == 16);
static_assert(offsetof(polyglot_score_result, truncated) == 20);
static_assert(offsetof(polyglot_device_info, memory_total) == 8);
static_assert(offsetof(polyglot_device_info, name) == 24);
static_assert(offsetof(polyglot_device_info, description) == 88);
static_assert(sizeof(polyglot_device_info) == 280);
// ABI 1.1 request structs (each begins with struct_size and may only grow at its end).
static_assert(offsetof(polyglot_texts, data) == 8 && offsetof(polyglot_texts, n) == 32);
static_assert(sizeof(polyglot_texts) == 40 && sizeof(polyglot_id_batch) == 40);
static_assert(offsetof(polyglot_call_context, cancel) == 32 && sizeof(polyglot_call_context) == 40);
static_assert(offsetof(polyglot_score_ids_request, ctx) == 48);
static_assert(offsetof(polyglot_generate_request, seed) == 56);
static_assert(offsetof(polyglot_generate_request, ctx) == 112);
static_assert(sizeof(polyglot_generate_request) == 120);
static_assert(offsetof(polyglot_generation, status) == 4 &&
              offsetof(polyglot_generation, text) == 8);
static_assert(offsetof(polyglot_generation, prompt_tokens) == 60);
static_assert(sizeof(polyglot_generation) == 64);
static_assert(sizeof(polyglot_generate_result) == 24);
#endif

static_assert(sizeof(polyglot_status) == 4 && sizeof(polyglot_op) == 4);
static_assert(POLYGLOT_CAP_EMBED == 1 && POLYGLOT_CAP_TOKENIZE == 2 && POLYGLOT_CAP_SCORE == 4 &&
              POLYGLOT_CAP_GENERATE == 8);

BOOST_AUTO_TEST_CASE(cpu_plugin_table_matches_this_header) {
    namespace fs = std::filesystem;
    const fs::path file = fs::path(POLYGLOT_BINARY_DIR) / "plugins" / "libpolyglot-cpu.so";
    BOOST_TEST_REQUIRE(fs::exists(file), "cpu plugin not built: " << file);
    auto p = polyglot::plugin::load_plugin(file);
    const auto& t = p->table();
    BOOST_TEST(t.abi_version == POLYGLOT_PLUGIN_ABI_VERSION);
    BOOST_TEST(t.struct_size == sizeof(polyglot_plugin_v1));
    BOOST_TEST(std::string(t.name) == "cpu");
    BOOST_TEST((t.caps & (POLYGLOT_CAP_EMBED | POLYGLOT_CAP_TOKENIZE)) ==
               (POLYGLOT_CAP_EMBED | POLYGLOT_CAP_TOKENIZE));
    BOOST_TEST((t.caps & POLYGLOT_CAP_GENERATE) == POLYGLOT_CAP_GENERATE);
    // Every version-1 and 1.1 slot the SDK generates is filled, GENERATE's too.
    BOOST_TEST(p->has(offsetof(polyglot_plugin_v1, create)));
    BOOST_TEST(p->has(offsetof(polyglot_plugin_v1, get_info)));
    BOOST_TEST(p->has(offsetof(polyglot_plugin_v1, tokenize)));
    BOOST_TEST(p->has(offsetof(polyglot_plugin_v1, score)));
    BOOST_TEST(p->has(offsetof(polyglot_plugin_v1, unusable_reason)));
    BOOST_TEST(p->has(offsetof(polyglot_plugin_v1, generate)));
    for (std::size_t off :
         {offsetof(polyglot_plugin_v1, embed_texts), offsetof(polyglot_plugin_v1, tokenize_texts),
          offsetof(polyglot_plugin_v1, score_texts), offsetof(polyglot_plugin_v1, score_ids),
          offsetof(polyglot_plugin_v1, detokenize)})
        BOOST_TEST(p->has(off), "ABI 1.1 member at offset " << off);
    // A member beyond struct_size is reported absent.
    BOOST_TEST(!p->has(sizeof(polyglot_plugin_v1)));
}

// ---- the plugin-author helper --------------------------------------------------------------

#include <polyglot/plugin/plugin.hpp>

namespace {

polyglot_status guarded(int what) {
    POLYGLOT_PLUGIN_GUARD(if (what == 1) throw polyglot::format_error("bad model file x.bin");
                          if (what == 2) throw std::bad_alloc();
                          if (what == 3) throw polyglot::plugin_sdk::status_error(
                              POLYGLOT_STATUS_DEVICE_ERROR, "device lost");
                          if (what == 4) throw "a C string"; return POLYGLOT_STATUS_OK;);
}

std::string last() { return polyglot::plugin_sdk::detail::last_error_slot(); }

}  // namespace

BOOST_AUTO_TEST_CASE(guard_maps_exceptions_to_statuses) {
    BOOST_TEST(guarded(0) == POLYGLOT_STATUS_OK);
    BOOST_TEST(last().empty());
    BOOST_TEST(guarded(1) == POLYGLOT_STATUS_FORMAT_ERROR);
    BOOST_TEST(last() == "bad model file x.bin");
    BOOST_TEST(guarded(2) == POLYGLOT_STATUS_OUT_OF_MEMORY);
    BOOST_TEST(last() == "out of memory");
    BOOST_TEST(guarded(3) == POLYGLOT_STATUS_DEVICE_ERROR);
    BOOST_TEST(last() == "device lost");
    BOOST_TEST(guarded(4) == POLYGLOT_STATUS_INTERNAL);
    BOOST_TEST(last() == "unknown exception");
    BOOST_TEST(guarded(0) == POLYGLOT_STATUS_OK);  // a success clears the message
    BOOST_TEST(last().empty());
}
