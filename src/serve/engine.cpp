// SPDX-License-Identifier: Apache-2.0
// polyglot serve: the engine thread that batches concurrent requests into backend calls.
#include "serve/engine.hpp"

#include <algorithm>
#include <chrono>
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/host.hpp>

#include "serve/request.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace serve {
namespace {

bool same_params(const generate_params& a, const generate_params& b) {
    return a.max_new_tokens == b.max_new_tokens && a.temperature == b.temperature &&
           a.top_k == b.top_k && a.top_p == b.top_p && a.min_p == b.min_p &&
           a.repetition_penalty == b.repetition_penalty && a.stop == b.stop &&
           a.stop_ids == b.stop_ids && a.logprobs == b.logprobs && a.ignore_eos == b.ignore_eos &&
           a.keep_special == b.keep_special && a.add_special == b.add_special &&
           a.parse_special == b.parse_special &&
           a.add_generation_prompt == b.add_generation_prompt && a.json_schema == b.json_schema &&
           a.extra_json == b.extra_json;
}

bool can_merge(const task& a, const task& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case op::tokenize:
        case op::detokenize:
            return a.flags == b.flags;
        case op::score_ids:
        case op::embed:
            return true;
        case op::generate:
            // Only greedy requests share a call: sampled sequences are seeded from their index
            // in the call, and a request's output must not depend on what else was queued.
            return a.gp.temperature <= 0 && b.gp.temperature <= 0 &&
                   a.kind_of_prompt == b.kind_of_prompt && same_params(a.gp, b.gp);
    }
    return false;
}

}  // namespace

engine::engine(model_services ms, double window_ms, std::size_t max_batch)
    : ms_(std::move(ms)), window_(window_ms), max_batch_(std::max<std::size_t>(1, max_batch)) {
    thread_ = std::thread([this] { loop(); });
}

engine::~engine() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void engine::submit(task_ptr t) {
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(t));
    }
    cv_.notify_one();
}

void engine::loop() {
    for (;;) {
        std::vector<task_ptr> group;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (stop_) return;
            // An idle engine waits a moment for concurrent requests to arrive.
            if (queue_.size() == 1 && window_ > 0)
                cv_.wait_for(lock, std::chrono::duration<double, std::milli>(window_),
                             [&] { return stop_ || queue_.size() > 1; });
            if (stop_) return;
            group.push_back(queue_.front());
            queue_.pop_front();
            std::size_t n = group.front()->items();
            for (auto it = queue_.begin(); it != queue_.end() && n < max_batch_;) {
                if (can_merge(*group.front(), **it) && n + (*it)->items() <= max_batch_) {
                    n += (*it)->items();
                    group.push_back(*it);
                    it = queue_.erase(it);
                } else {
                    ++it;
                }
            }
        }
        run(group);
        for (auto& t : group) {
            try {
                if (t->done) t->done(*t);
            } catch (...) {  // a reply that cannot be built must not stop the engine
            }
        }
    }
}

template <class Ids>
void engine::fill_pieces(std::vector<task_ptr>& group, Ids ids_of) {
    std::vector<std::int32_t> unknown;
    for (auto& t : group) {
        if (!t->want_pieces) continue;
        for (const auto& s : ids_of(*t))
            for (auto id : s)
                if (!piece_cache_.count(id) &&
                    std::find(unknown.begin(), unknown.end(), id) == unknown.end())
                    unknown.push_back(id);
    }
    if (!unknown.empty()) {
        std::vector<std::vector<std::int32_t>> one;
        for (auto id : unknown) one.push_back({id});
        auto texts = ms_.model->detokenize(one, 0);
        for (std::size_t i = 0; i < unknown.size(); ++i) piece_cache_[unknown[i]] = texts[i];
    }
    for (auto& t : group) {
        if (!t->want_pieces) continue;
        for (const auto& s : ids_of(*t))
            for (auto id : s) t->pieces[id] = piece_cache_[id];
    }
}

void engine::run(std::vector<task_ptr>& group) {
    // Item i of the merged call belongs to task owner[i], as its item local[i].
    std::vector<std::size_t> owner, local;
    for (std::size_t k = 0; k < group.size(); ++k)
        for (std::size_t i = 0; i < group[k]->items(); ++i) {
            owner.push_back(k);
            local.push_back(i);
        }
    ++calls;
    items += owner.size();
    call_hooks hooks;
    hooks.item_error = [&](std::uint64_t i, polyglot_status, std::string_view msg) {
        if (i >= owner.size()) return;
        auto& t = *group[owner[i]];
        if (t.item_error.empty())
            t.item_error = "item " + std::to_string(local[i]) + ": " + std::string(msg);
    };
    try {
        run_call(group, hooks);
    } catch (const http_error& e) {
        for (auto& t : group) t->status = e.status, t->error = e.message;
    } catch (const error& e) {
        const int st =
            (e.code() == errc::invalid_argument || e.code() == errc::unsupported) ? 400 : 500;
        for (auto& t : group) t->status = st, t->error = e.what();
    } catch (const std::exception& e) {
        for (auto& t : group) t->status = 500, t->error = e.what();
    }
    for (auto& t : group)
        if (t->status == 200 && !t->item_error.empty()) t->status = 400, t->error = t->item_error;
}

void engine::run_call(std::vector<task_ptr>& group, const call_hooks& hooks) {
    plugin::model& m = *ms_.model;
    const task& first = *group.front();
    switch (first.kind) {
        case op::tokenize: {
            std::vector<std::string_view> texts;
            for (auto& t : group) texts.insert(texts.end(), t->texts.begin(), t->texts.end());
            auto ids = m.tokenize(texts, first.flags);
            std::size_t at = 0;
            for (auto& t : group)
                for (std::size_t i = 0; i < t->texts.size(); ++i)
                    t->ids.push_back(std::move(ids[at++]));
            break;
        }
        case op::detokenize: {
            std::vector<std::vector<std::int32_t>> seqs;
            for (auto& t : group) seqs.insert(seqs.end(), t->seqs.begin(), t->seqs.end());
            auto texts = m.detokenize(seqs, first.flags);
            std::size_t at = 0;
            for (auto& t : group)
                for (std::size_t i = 0; i < t->seqs.size(); ++i)
                    t->out_texts.push_back(std::move(texts[at++]));
            break;
        }
        case op::score_ids: {
            std::vector<std::int32_t> flat;
            std::vector<std::uint64_t> offsets{0}, from;
            for (auto& t : group)
                for (const auto& s : t->seqs) {
                    flat.insert(flat.end(), s.begin(), s.end());
                    offsets.push_back(flat.size());
                    from.push_back(0);
                }
            std::vector<float> lp(flat.size());
            std::vector<std::uint8_t> g(flat.size());
            m.score_ids(flat, offsets, from, lp, g, &hooks);
            std::size_t seq = 0;
            for (auto& t : group)
                for (std::size_t i = 0; i < t->seqs.size(); ++i, ++seq) {
                    const auto b = long(offsets[seq]), e = long(offsets[seq + 1]);
                    t->lp.emplace_back(lp.begin() + b, lp.begin() + e);
                    t->greedy.emplace_back(g.begin() + b, g.begin() + e);
                }
            fill_pieces(group, [](const task& t) { return t.seqs; });
            break;
        }
        case op::embed: {
            std::vector<std::string_view> texts;
            for (auto& t : group) texts.insert(texts.end(), t->texts.begin(), t->texts.end());
            const std::size_t dim = m.dim();
            std::vector<float> out(texts.size() * dim);
            m.embed(texts, out.data(), &hooks);
            std::size_t at = 0;
            for (auto& t : group) {
                t->emb.assign(out.begin() + long(at * dim),
                              out.begin() + long((at + t->texts.size()) * dim));
                at += t->texts.size();
            }
            break;
        }
        case op::generate: {
            if (!ms_.gen) throw http_error{400, "this model cannot generate"};
            std::vector<std::string_view> texts;
            std::vector<std::vector<std::int32_t>> ids;
            for (auto& t : group) {
                texts.insert(texts.end(), t->texts.begin(), t->texts.end());
                ids.insert(ids.end(), t->seqs.begin(), t->seqs.end());
            }
            const std::size_t n =
                first.kind_of_prompt == prompt_kind::ids ? ids.size() : texts.size();
            std::vector<generation> out(n);
            ms_.gen->generate(first.kind_of_prompt, texts, ids, 0, first.gp, out, &hooks);
            std::size_t at = 0;
            for (auto& t : group)
                for (std::size_t i = 0; i < t->items(); ++i)
                    t->gens.push_back(std::move(out[at++]));
            fill_pieces(group, [](const task& t) {
                std::vector<std::vector<std::int32_t>> s;
                for (const auto& g : t.gens) s.push_back(g.ids);
                return s;
            });
            break;
        }
    }
}

}  // namespace serve
POLYGLOT_END_NAMESPACE
