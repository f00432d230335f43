// SPDX-License-Identifier: Apache-2.0
// Saved states in process (score/state.hpp): every metric's state survives save/load exactly;
// shards of any count merge to the single pass (report sections and per-instance text, byte for
// byte); a run resumed from any of its checkpoints ends with the uninterrupted report; damaged
// or mismatched states are refused. The oracle is always the uninterrupted single pass.
#define BOOST_TEST_MODULE state
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <polyglot/metrics/distinct_ri.hpp>
#include <polyglot/metrics/language.hpp>
#include <polyglot/metrics/length.hpp>
#include <polyglot/metrics/lexical.hpp>
#include <polyglot/metrics/perplexity.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/score/state.hpp>
#include <polyglot/text/langid.hpp>
#include <polyglot/text/tokenizer.hpp>
#include <string>
#include <vector>

#include "support/require_asset.hpp"

namespace pg = polyglot;
namespace fs = std::filesystem;
namespace ps = polyglot::score;

namespace {

/// Deterministic fake models: per-record values depend only on the record's text.
class fake_scorer final : public pg::scorer {
  public:
    [[nodiscard]] std::string id() const override { return "fake-lm"; }
    [[nodiscard]] std::string backend() const override { return "test"; }
    void score(std::span<const std::string_view> p, std::span<const std::string_view> r,
               std::span<pg::lm_score> out, const pg::call_hooks*) override {
        for (std::size_t i = 0; i < out.size(); ++i) {
            out[i].n_scored = static_cast<std::uint32_t>(r[i].size());
            out[i].sum_nll = 0.37 * static_cast<double>(r[i].size()) +
                             std::sqrt(static_cast<double>(p[i].size() + 1));
        }
    }
};

class fake_embedder final : public pg::embedder {
  public:
    [[nodiscard]] std::size_t dim() const override { return 5; }
    [[nodiscard]] std::string id() const override { return "fake-emb"; }
    [[nodiscard]] std::string backend() const override { return "test"; }
    void embed(std::span<const std::string_view> texts, float* out,
               const pg::call_hooks*) override {
        for (std::size_t i = 0; i < texts.size(); ++i)
            for (std::size_t j = 0; j < 5; ++j) {
                unsigned h = 2166136261u + static_cast<unsigned>(j);
                for (unsigned char c : texts[i]) h = (h ^ c) * 16777619u;
                out[i * 5 + j] = static_cast<float>(h % 2001) / 1000.0f - 1.0f;
            }
    }
};

fs::path temp_path(const std::string& name) {
    return fs::temp_directory_path() /
           ("polyglot_state_test_" + std::to_string(::getpid()) + "_" + name);
}

/// Three files of mixed records and bad lines (the last without a final newline).
std::vector<std::string> corpus() {
    static const std::vector<std::string> files = [] {
        std::vector<std::string> out;
        const char* langs[] = {"de", "es", "ja", "fr"};
        const char* words[] = {"Haus", "casa", "家", "maison", "Baum", "árbol", "木", "arbre"};
        int id = 0;
        for (int f = 0; f < 3; ++f) {
            const fs::path p = temp_path("corpus" + std::to_string(f) + ".jsonl");
            std::ofstream o(p, std::ios::binary);
            const int n = 700 + 450 * f;
            for (int i = 1; i <= n; ++i) {
                ++id;
                if (id % 97 == 0) {
                    o << "{\"prompt\": broken\n";
                    continue;
                }
                if (id % 131 == 0) {
                    o << "\n";
                    continue;
                }
                o << "{\"id\": " << id << ", \"prompt\": \"Frage " << id % 37 << " "
                  << words[id % 8] << "\", \"response\": \"" << words[(id * 7) % 8] << " "
                  << words[(id * 3) % 8] << " " << id * 7919 % 1009 << (id % 5 ? " mehr" : "")
                  << "\", \"language\": \"" << langs[id % 4] << "\"}";
                if (!(f == 2 && i == n)) o << "\n";
            }
            out.push_back(p.string());
        }
        return out;
    }();
    return files;
}

ps::metric_bundle bundle() {
    static const auto tok = pg::text::open_tokenizer("cl100k_base");
    static const auto lid = pg::text::open_langid("lid.176.ftz");
    ps::metric_bundle b;
    b.metrics.push_back(ps::erase(pg::metrics::length_metric(tok)));
    b.metrics.push_back(ps::erase(pg::metrics::lexical_metric(tok)));
    b.metrics.push_back(ps::erase(pg::metrics::language_metric(lid)));
    b.metrics.push_back(ps::erase(pg::metrics::distinct_ri_metric()));
    b.metrics.push_back(ps::erase(pg::metrics::perplexity_metric("fake-lm")));
    b.emb = std::make_unique<fake_embedder>();
    b.lm = std::make_unique<fake_scorer>();
    return b;
}

ps::run_options options() {
    ps::run_options o;
    o.inputs = corpus();
    o.jsonl.chunk_lines = 128;
    o.tokens = 8;
    return o;
}

std::string sections(const ps::metric_bundle& b, const ps::run_result& r) {
    pg::io::json_writer w(2);
    w.begin_object();
    ps::write_sections(w, b, r);
    w.end_object();
    return w.take();
}

struct outcome {
    std::string report, instances;
    ps::run_result res;
};

outcome single_pass() {
    auto b = bundle();
    outcome o;
    ps::run_hooks h;
    h.per_instance = [&](std::string_view s) { o.instances += s; };
    o.res = ps::run(options(), b, h);
    o.report = sections(b, o.res);
    return o;
}

const outcome& reference() {
    static const outcome r = single_pass();
    return r;
}

/// State → bytes → state, as a file would carry it.
ps::saved_state round_trip(const ps::saved_state& s) {
    return ps::decode_state(ps::encode_state(s), "memory");
}

struct remove_corpus {
    ~remove_corpus() {
        std::error_code ec;
        for (const auto& f : corpus()) fs::remove(f, ec);
    }
};

}  // namespace

BOOST_GLOBAL_FIXTURE(remove_corpus);

BOOST_AUTO_TEST_CASE(assets_are_present) {
    for (const char* a : {"lid.176.ftz", "cl100k_base.json"}) pg::testing::require_data_asset(a);
}

BOOST_AUTO_TEST_CASE(every_metric_state_saves_and_loads_exactly) {
    const auto& ref = reference();
    auto b = bundle();
    BOOST_REQUIRE(ref.res.num_samples > 2000u);
    const ps::saved_state s = ps::capture(ref.res, b);
    const ps::saved_state back = round_trip(s);
    BOOST_TEST(ps::encode_state(back) == ps::encode_state(s));  // byte for byte
    const ps::run_result r = ps::restore(back, b, "memory");
    BOOST_TEST(sections(b, r) == ref.report);
    BOOST_TEST(r.num_samples == ref.res.num_samples);
    BOOST_TEST(r.skipped == ref.res.skipped);
    BOOST_TEST((r.languages == ref.res.languages));
    // A merge of a loaded state with an empty one changes nothing.
    auto empty = b.metrics[0]->make_state();
    for (std::size_t k = 0; k < b.metrics.size(); ++k) {
        pg::io::binary_writer w1, w2;
        b.metrics[k]->save(*r.states[k], w1);
        b.metrics[k]->merge(*r.states[k], *b.metrics[k]->make_state());
        b.metrics[k]->save(*r.states[k], w2);
        BOOST_TEST(w1.data() == w2.data(), b.metrics[k]->name());
    }
}

BOOST_AUTO_TEST_CASE(shards_merge_to_the_single_pass) {
    const auto& ref = reference();
    for (std::uint32_t n : {1u, 2u, 3u, 8u, 13u}) {
        BOOST_TEST_CONTEXT("shards " << n) {
            std::vector<ps::named_state> states;
            std::string instances;
            for (std::uint32_t k = 0; k < n; ++k) {
                auto b = bundle();
                ps::run_options o = options();
                const auto spec = ps::plan_shard(o, k, n, o.file_lines);
                o.first_line = spec.line_begin;
                o.end_line = spec.line_end;
                ps::run_hooks h;
                h.per_instance = [&](std::string_view s) { instances += s; };
                auto res = ps::run(o, b, h);
                auto st = ps::capture(res, b);
                st.shard = spec;
                st.complete = true;
                states.push_back({"shard" + std::to_string(k), round_trip(st)});
            }
            std::reverse(states.begin(), states.end());  // merge sorts by shard
            auto b = bundle();
            const auto merged = ps::merge_states(states, b);
            BOOST_TEST(sections(b, merged) == ref.report);
            BOOST_TEST(merged.num_samples == ref.res.num_samples);
            BOOST_TEST(merged.num_records_read == ref.res.num_records_read);
            BOOST_TEST(merged.blank_lines == ref.res.blank_lines);
            BOOST_TEST(merged.skipped == ref.res.skipped);
            BOOST_TEST(instances == ref.instances);  // shard outputs concatenate in order
        }
    }
}

BOOST_AUTO_TEST_CASE(resuming_from_any_checkpoint_gives_the_uninterrupted_report) {
    const auto& ref = reference();
    struct checkpoint {
        std::string bytes;
        std::size_t instances = 0;
    };
    std::vector<checkpoint> cps;
    {
        auto b = bundle();
        ps::run_options o = options();
        o.checkpoint_records = 150;
        std::string instances;
        ps::run_hooks h;
        h.per_instance = [&](std::string_view s) { instances += s; };
        h.on_checkpoint = [&](const ps::run_result& r, std::uint64_t next) {
            auto st = ps::capture(r, b);
            st.counters.next_line = next;
            cps.push_back({ps::encode_state(st), instances.size()});
        };
        auto res = ps::run(o, b, h);
        BOOST_TEST(sections(b, res) == ref.report);
    }
    BOOST_REQUIRE(cps.size() >= 10u);
    for (const auto& cp : cps) {
        auto b = bundle();
        const auto st = ps::decode_state(cp.bytes, "checkpoint");
        BOOST_TEST_CONTEXT("from line " << st.counters.next_line) {
            auto start = ps::restore(st, b, "checkpoint");
            ps::run_options o = options();
            o.first_line = st.counters.next_line;
            std::string rest;
            ps::run_hooks h;
            h.per_instance = [&](std::string_view s) { rest += s; };
            auto res = ps::run(o, b, h, &start);
            BOOST_TEST(sections(b, res) == ref.report);
            BOOST_TEST(ref.instances.substr(0, cp.instances) + rest == ref.instances);
            BOOST_TEST(res.num_records_read == ref.res.num_records_read);
            BOOST_TEST(res.blank_lines == ref.res.blank_lines);
        }
    }
}

BOOST_AUTO_TEST_CASE(plan_shard_splits_all_lines_evenly) {
    ps::run_options o = options();
    std::vector<std::uint64_t> lines;
    const auto s0 = ps::plan_shard(o, 0, 7, lines);
    BOOST_REQUIRE(lines.size() == 3u);
    BOOST_TEST(lines[0] == 700u);
    BOOST_TEST(lines[1] == 1150u);
    BOOST_TEST(lines[2] == 1600u);  // the last line has no '\n' and still counts
    // 3450 lines: 26 blank ones (every 131st id) are not records.
    BOOST_TEST(reference().res.num_records_read == 3424u);
    BOOST_TEST(reference().res.blank_lines == 26u);
    std::uint64_t prev_end = 0;
    for (std::uint32_t k = 0; k < 7; ++k) {
        const auto s = ps::plan_shard(o, k, 7, lines);
        BOOST_TEST(s.line_begin == prev_end);
        BOOST_TEST((s.line_end - s.line_begin == 492u || s.line_end - s.line_begin == 493u));
        prev_end = s.line_end;
    }
    BOOST_TEST(prev_end == 3450u);
    BOOST_TEST(s0.line_begin == 0u);
    BOOST_CHECK_THROW(ps::plan_shard(o, 7, 7, lines), pg::argument_error);
}

BOOST_AUTO_TEST_CASE(damaged_state_files_are_refused) {
    auto b = bundle();
    ps::saved_state s = ps::capture(reference().res, b);
    s.complete = true;
    s.header = {{"polyglot_version", "0.1.0"}, {"metrics", "length"}};
    const std::string good = ps::encode_state(s);
    BOOST_REQUIRE_NO_THROW(ps::decode_state(good, "x"));
    auto refused = [&](const std::string& bytes, const std::string& words) {
        try {
            ps::decode_state(bytes, "st.bin");
        } catch (const pg::format_error& e) {
            const std::string m = e.what();
            BOOST_TEST(m.find("st.bin: ") == 0u);
            BOOST_TEST(m.find(words) != std::string::npos, m);
            return true;
        }
        return false;
    };
    // Every truncation, sampled, and a byte flipped at sampled positions.
    for (std::size_t len = 0; len < good.size(); len += 1 + len / 3)
        BOOST_TEST(refused(good.substr(0, len), ""), "truncated to " << len);
    for (std::size_t pos = 20; pos < good.size(); pos += 1 + pos / 5) {
        std::string bad = good;
        bad[pos] = static_cast<char>(bad[pos] ^ 0x10);
        BOOST_TEST(refused(bad, "checksum"), "flipped byte " << pos);
    }
    BOOST_TEST(refused("{\"metadata\": 1}", "not a polyglot state file"));
    std::string other_version = good;
    other_version[8] = 9;
    BOOST_TEST(refused(other_version, "state format version 9"));
    BOOST_TEST(refused(good + "x", "truncated or padded"));
}

BOOST_AUTO_TEST_CASE(mismatched_states_are_not_merged) {
    auto b = bundle();
    auto make = [&](std::uint32_t k, std::uint32_t n, ps::state_header h) {
        ps::saved_state s = ps::capture(reference().res, b);
        s.header = std::move(h);
        s.shard = {k, n, 10u * k, 10u * (k + 1)};
        s.complete = true;
        return s;
    };
    const ps::state_header h = {{"polyglot_version", "0.1.0"}, {"base_model", "hf:/m/a"}};
    ps::state_header other = h;
    other[1].second = "hf:/m/b";
    auto expect = [&](std::vector<ps::named_state> v, const std::string& words) {
        try {
            ps::merge_states(v, b);
        } catch (const pg::argument_error& e) {
            BOOST_TEST(std::string(e.what()).find(words) != std::string::npos, e.what());
            return;
        }
        BOOST_ERROR("merged: " << words);
    };
    expect({{"a", make(0, 2, h)}, {"b", make(1, 2, other)}},
           "cannot merge b with a: they come from different runs (base_model: 'hf:/m/a' vs "
           "'hf:/m/b')");
    expect({{"a", make(0, 3, h)}, {"b", make(1, 3, h)}}, "shard 3/3 is missing");
    expect({{"a", make(0, 2, h)}, {"b", make(0, 2, h)}, {"c", make(1, 2, h)}},
           "shard 1/2 is given twice");
    expect({{"a", make(0, 2, h)}, {"b", make(1, 3, h)}}, "shard counts differ");
    auto cp = make(1, 2, h);
    cp.complete = false;
    expect({{"a", make(0, 2, h)}, {"b", cp}}, "b: a checkpoint");
    BOOST_TEST(ps::header_difference(h, h).empty());
    BOOST_TEST(ps::header_difference(h, {h[0]}) == "base_model: 'hf:/m/a' vs (absent)");
}

BOOST_AUTO_TEST_CASE(merge_only_metrics_finalize_like_the_real_ones) {
    // polyglot merge builds metrics from the header alone (no tokenizer or model opened).
    const auto& ref = reference();
    auto b = bundle();
    ps::state_header h = {{"metrics", "length,lexical,language,distinct_ri,perplexity"},
                          {"tokenizer", "tiktoken:cl100k_base"},
                          {"lid_model", "fasttext:lid.176.ftz"},
                          {"base_model", "fake-lm"}};
    auto mb = ps::make_metrics_from_header(h);
    BOOST_REQUIRE(mb.metrics.size() == 5u);
    const auto r = ps::restore(round_trip(ps::capture(ref.res, b)), mb, "memory");
    BOOST_TEST(sections(mb, r) == ref.report);
}
