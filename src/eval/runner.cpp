// SPDX-License-Identifier: Apache-2.0
// Scoring, generating and the metrics of a task (include/polyglot/eval/runner.hpp).
#include <chrono>
#include <cmath>
#include <limits>
#include <polyglot/core/error.hpp>
#include <polyglot/eval/extract.hpp>
#include <polyglot/eval/metrics.hpp>
#include <polyglot/eval/runner.hpp>
#include <polyglot/eval/template.hpp>
#include <polyglot/plugin/services.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {
namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
constexpr std::size_t chunk_items = 256;  // items tokenized together (bounds memory)

/// One sequence to score: item i, choice c, ids and the first scored position.
struct sequence {
    std::size_t item = 0, choice = 0;
    std::vector<std::int32_t> ids;
    std::size_t from = 0;
};

void fail(item_result& r, std::string why) {
    if (r.failed) return;
    r.failed = true;
    r.error = std::move(why);
}

void check_cancel(const run_options& o) {
    if (o.cancel && *o.cancel) throw plugin_error("evaluation cancelled");
}

/// Sends @p batch to the scorer and accumulates the continuation log-probs into @p items.
void score_batch(scorer& model, std::span<const sequence> batch, std::vector<item_result>& items,
                 const run_options& opts) {
    std::vector<std::vector<std::int32_t>> seqs;
    std::vector<std::size_t> from;
    seqs.reserve(batch.size());
    for (const auto& s : batch) {
        seqs.push_back(s.ids);
        from.push_back(s.from);
    }
    std::vector<std::string> errors(batch.size());
    call_hooks hooks;
    hooks.item_error = [&](std::uint64_t i, polyglot_status, std::string_view msg) {
        if (i < errors.size()) errors[i] = msg.empty() ? "the backend failed on it" : msg;
    };
    hooks.cancel = opts.cancel;
    std::vector<std::vector<float>> lp;
    std::vector<std::vector<std::uint8_t>> greedy;
    model.score_ids(seqs, from, lp, &greedy, &hooks);
    check_cancel(opts);
    for (std::size_t k = 0; k < batch.size(); ++k) {
        const auto& s = batch[k];
        item_result& r = items[s.item];
        if (!errors[k].empty()) {
            fail(r, errors[k]);
            continue;
        }
        if (k >= lp.size() || lp[k].size() != s.ids.size()) {
            fail(r, "the backend returned " + std::to_string(k < lp.size() ? lp[k].size() : 0) +
                        " log-probs for " + std::to_string(s.ids.size()) + " tokens");
            continue;
        }
        double sum = 0;
        bool all_greedy = true;
        for (std::size_t p = s.from; p < s.ids.size(); ++p) {
            const float v = lp[k][p];
            if (!std::isfinite(v)) {
                fail(r, "non-finite log-probability at token " + std::to_string(p));
                break;
            }
            sum += v;
            if (k < greedy.size() && p < greedy[k].size() && !greedy[k][p]) all_greedy = false;
        }
        r.logprobs[s.choice] = sum;
        if (opts.keep_ids) {
            r.input_ids[s.choice].assign(s.ids.begin(),
                                         s.ids.begin() + static_cast<std::ptrdiff_t>(s.from));
            r.cont_ids[s.choice].assign(s.ids.begin() + static_cast<std::ptrdiff_t>(s.from),
                                        s.ids.end());
        }
        r.tokens[s.choice] = s.ids.size() - s.from;
        r.greedy[s.choice] = all_greedy ? 1 : 0;
    }
}

std::string where_of(const task& t, std::size_t i) {
    return t.items[i].where.empty() ? t.key + " item " + std::to_string(i) : t.items[i].where;
}

void finish_failures(const task& t, const run_options& opts, task_result& out, std::size_t b,
                     std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
        auto& r = out.items[i];
        if (r.truncated) ++out.truncated;
        if (!r.failed) continue;
        ++out.failed;
        if (opts.strict)
            throw plugin_error(where_of(t, i) + ": " + t.key + ": the model failed: " + r.error);
    }
}

}  // namespace

void score_task(scorer& model, const task& t, const run_options& opts, task_result& out) {
    const auto t0 = std::chrono::steady_clock::now();
    out.items.assign(t.items.size(), item_result{});
    for (std::size_t b = 0; b < t.items.size(); b += chunk_items) {
        const std::size_t e = std::min(t.items.size(), b + chunk_items);
        // Tokenize each item's context and context+continuation (with the model's specials,
        // as lighteval's tok_encode), after moving the context's trailing whitespace.
        std::vector<std::string> texts;
        std::vector<std::size_t> first_text(e - b);
        for (std::size_t i = b; i < e; ++i) {
            const auto& it = t.items[i];
            auto split = move_trailing_space(it.context, it.choices);
            first_text[i - b] = texts.size();
            texts.push_back(split.context);
            for (const auto& c : split.continuations) texts.push_back(split.context + c);
        }
        std::vector<std::string_view> views(texts.begin(), texts.end());
        const auto ids = model.tokenize(views, true);
        if (ids.size() != texts.size())
            throw plugin_error("scorer '" + model.id() + "': tokenize returned " +
                               std::to_string(ids.size()) + " results for " +
                               std::to_string(texts.size()) + " texts");
        std::vector<sequence> seqs;
        for (std::size_t i = b; i < e; ++i) {
            const auto& it = t.items[i];
            auto& r = out.items[i];
            const std::size_t k = it.choices.size();
            r.logprobs.assign(k, nan_v);
            r.tokens.assign(k, 0);
            r.greedy.assign(k, 0);
            if (opts.keep_ids) r.input_ids.assign(k, {}), r.cont_ids.assign(k, {});
            const auto& ctx = ids[first_text[i - b]];
            r.context_tokens = ctx.size();
            for (std::size_t c = 0; c < k; ++c) {
                sequence s{i, c, ids[first_text[i - b] + 1 + c], 0};
                s.from = continuation_start(ctx.size(), s.ids.size());
                if (s.from >= s.ids.size()) {
                    fail(r, "choice " + std::to_string(c) +
                                " has no token of its own after tokenization");
                    continue;
                }
                if (s.from == 0) {
                    fail(r, "nothing precedes choice " + std::to_string(c) +
                                " (empty context and no BOS token)");
                    continue;
                }
                if (opts.max_length && s.ids.size() > opts.max_length) {
                    const std::size_t drop = s.ids.size() - opts.max_length;
                    if (drop >= s.from) {
                        fail(r, "choice " + std::to_string(c) + " alone is longer than " +
                                    std::to_string(opts.max_length) + " tokens (--max-length)");
                        continue;
                    }
                    s.ids.erase(s.ids.begin(), s.ids.begin() + static_cast<std::ptrdiff_t>(drop));
                    s.from -= drop;
                    r.truncated = true;
                }
                seqs.push_back(std::move(s));
            }
        }
        // Batches of whole items within the token budget (an item larger than the budget
        // goes alone); one sequence per call without prefix sharing.
        std::size_t pos = 0;
        while (pos < seqs.size()) {
            check_cancel(opts);
            std::size_t end = pos, tokens = 0, items = 0;
            if (!opts.share_prefix) {
                end = pos + 1;
            } else {
                while (end < seqs.size()) {
                    std::size_t j = end, item_tokens = 0;
                    while (j < seqs.size() && seqs[j].item == seqs[end].item)
                        item_tokens += seqs[j++].ids.size();
                    if (items > 0 && (tokens + item_tokens > opts.batch_tokens ||
                                      (opts.batch_items && items >= opts.batch_items)))
                        break;
                    tokens += item_tokens;
                    ++items;
                    end = j;
                }
            }
            // Items whose other choices failed before scoring are still scored (cheap) so the
            // batch stays whole; their failure stands.
            score_batch(model, std::span<const sequence>(seqs.data() + pos, end - pos), out.items,
                        opts);
            if (opts.progress) opts.progress(std::min(e, seqs[end - 1].item + 1), t.items.size());
            pos = end;
        }
        if (seqs.empty() && opts.progress) opts.progress(e, t.items.size());
        finish_failures(t, opts, out, b, e);
        if (opts.on_item)
            for (std::size_t i = b; i < e; ++i) opts.on_item(i, out.items[i]);
    }
    out.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void generate_task(generator& model, const task& t, const run_options& opts, task_result& out) {
    const auto t0 = std::chrono::steady_clock::now();
    out.items.assign(t.items.size(), item_result{});
    const std::uint32_t max_new = opts.max_new_tokens ? opts.max_new_tokens : t.generation_size;
    if (opts.max_length && max_new >= opts.max_length)
        throw argument_error(t.key + ": --max-new-tokens (" + std::to_string(max_new) +
                             ") leaves no room for the prompt in --max-length " +
                             std::to_string(opts.max_length));
    generate_params params;
    params.max_new_tokens = max_new;
    params.temperature = 0.0f;  // greedy
    params.stop = t.stop;
    const std::size_t per_call = opts.batch_items ? opts.batch_items : 64;
    for (std::size_t b = 0; b < t.items.size(); b += per_call) {
        check_cancel(opts);
        const std::size_t e = std::min(t.items.size(), b + per_call);
        std::vector<std::string_view> ctx;
        for (std::size_t i = b; i < e; ++i) ctx.push_back(t.items[i].context);
        auto ids = model.tokenize(ctx, true);
        if (ids.size() != ctx.size())
            throw plugin_error("generator '" + model.id() + "': tokenize returned " +
                               std::to_string(ids.size()) + " results for " +
                               std::to_string(ctx.size()) + " texts");
        for (std::size_t i = b; i < e; ++i) {
            auto& p = ids[i - b];
            auto& r = out.items[i];
            if (opts.max_length && p.size() + max_new > opts.max_length) {
                // lighteval keeps the last max_length - max_new_tokens prompt tokens
                const std::size_t keep = opts.max_length - max_new;
                p.erase(p.begin(), p.end() - static_cast<std::ptrdiff_t>(keep));
                r.truncated = true;
            }
            r.context_tokens = p.size();
        }
        std::vector<generation> gens(e - b);
        call_hooks hooks;
        hooks.item_error = [](std::uint64_t, polyglot_status, std::string_view) {};
        hooks.cancel = opts.cancel;
        model.generate(prompt_kind::ids, {}, ids, b, params, gens, &hooks);
        check_cancel(opts);
        for (std::size_t i = b; i < e; ++i) {
            auto& g = gens[i - b];
            auto& r = out.items[i];
            if (!g.ok()) {
                fail(r, g.error.empty() ? "generation failed" : g.error);
            } else {
                r.generation = std::move(g.text);
                r.generated_ids = std::move(g.ids);
            }
        }
        if (opts.progress) opts.progress(e, t.items.size());
        finish_failures(t, opts, out, b, e);
        if (opts.on_item)
            for (std::size_t i = b; i < e; ++i) opts.on_item(i, out.items[i]);
    }
    out.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run_task(scorer* sc, generator* gen, const task& t, const run_options& opts,
              std::map<std::size_t, item_result> done, task_result& out) {
    std::erase_if(done, [&](const auto& kv) { return kv.first >= t.items.size(); });
    task rest = t;  // the items still to run
    rest.items.clear();
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < t.items.size(); ++i)
        if (!done.count(i)) {
            rest.items.push_back(t.items[i]);
            index.push_back(i);
        }
    run_options o = opts;
    if (opts.on_item)
        o.on_item = [&](std::size_t k, const item_result& r) { opts.on_item(index[k], r); };
    if (opts.progress)
        o.progress = [&](std::size_t d, std::size_t) {
            opts.progress(done.size() + d, t.items.size());
        };
    task_result part;
    if (!rest.items.empty()) {
        if (t.kind == task_kind::generative) {
            if (!gen) throw argument_error(t.key + ": a generative task needs a generator");
            generate_task(*gen, rest, o, part);
        } else {
            if (!sc) throw argument_error(t.key + ": a log-likelihood task needs a scorer");
            score_task(*sc, rest, o, part);
        }
    }
    out = task_result{};
    out.seconds = part.seconds;
    out.items.resize(t.items.size());
    for (auto& [i, r] : done) out.items[i] = std::move(r);
    for (std::size_t k = 0; k < index.size(); ++k) out.items[index[k]] = std::move(part.items[k]);
    for (const auto& r : out.items) {
        out.truncated += r.truncated;
        out.failed += r.failed;
    }
}

void compute_metrics(const task& t, task_result& r) {
    r.metrics.clear();
    std::vector<std::string> names;  // mean metrics, in task order
    for (const auto& m : t.metrics)
        if (m != "weighted_acc") names.push_back(m);
    std::vector<std::vector<double>> values(names.size());
    std::vector<mrb_outcome> outcomes;
    const bool weighted =
        std::find(t.metrics.begin(), t.metrics.end(), "weighted_acc") != t.metrics.end();
    const translation_literals* lit = nullptr;
    if (t.kind == task_kind::generative) lit = &literals_for(t.lang.empty() ? "en" : t.lang);
    for (std::size_t i = 0; i < t.items.size(); ++i) {
        const auto& it = t.items[i];
        auto& res = r.items[i];
        res.metrics.clear();
        if (res.failed) continue;
        if (t.kind == task_kind::generative) {
            const auto gold = extract_number(it.gold_text, *lit);
            const auto pred = extract_number(res.generation, *lit);
            res.extracted_gold = gold.text;
            res.extracted_pred = pred.text;
            const double v = numbers_match(gold, pred) ? 1.0 : 0.0;
            for (std::size_t m = 0; m < names.size(); ++m) {
                values[m].push_back(v);
                res.metrics.emplace_back(names[m], v);
            }
            continue;
        }
        res.prediction = argmax_first(res.logprobs);
        for (std::size_t m = 0; m < names.size(); ++m) {
            ll_norm norm = ll_norm::none;
            if (names[m] == "acc_norm")
                norm = ll_norm::chars;
            else if (names[m] == "acc_norm_token")
                norm = ll_norm::tokens;
            else if (names[m] != "acc")
                throw argument_error(t.key + ": unknown metric '" + names[m] + "'");
            const double v = hit(predict(res.logprobs, res.tokens, it.choices, norm), it.gold);
            values[m].push_back(v);
            res.metrics.emplace_back(names[m], v);
        }
        if (weighted) outcomes.push_back({it.source, it.gold.front(), res.prediction});
    }
    for (std::size_t m = 0; m < names.size(); ++m) {
        if (values[m].empty()) continue;  // every item failed: no number is made up
        const auto ms = mean_with_stderr(values[m]);
        r.metrics.push_back({names[m], ms.mean, ms.stderr_});
    }
    if (weighted && !outcomes.empty()) {
        const auto w = mrb_weighted_accuracy_bootstrap(outcomes);
        r.metrics.push_back({"weighted_acc", w.point.value, w.stderr_});
        std::string absent;
        for (std::size_t c = 0; c < 4; ++c) {
            if (w.point.present[c])
                r.metrics.push_back({"weighted_acc_" + std::string(mrb_category_keys[c]),
                                     w.point.category[c], w.category_stderr[c]});
            else
                absent += (absent.empty() ? "" : ", ") + std::string(mrb_categories[c]);
        }
        if (!absent.empty())
            r.warnings.push_back(t.key + ": no item of the " + absent + " categor" +
                                 (absent.find(',') == std::string::npos ? "y" : "ies") +
                                 "; weighted_acc counts " +
                                 (absent.find(',') == std::string::npos ? "it" : "them") +
                                 " as 0 (the paper's definition: the mean of four categories)");
        std::uint64_t unknown = 0;
        for (const auto& o : outcomes)
            if (mrb_category_of(o.source) < 0) ++unknown;
        if (unknown)
            r.warnings.push_back(t.key + ": " + std::to_string(unknown) +
                                 (unknown == 1 ? " item" : " items") +
                                 " of subsets outside reward-bench's categories not part of "
                                 "weighted_acc");
    }
    if (r.failed)
        r.warnings.push_back(t.key + ": " + std::to_string(r.failed) +
                             (r.failed == 1 ? " item" : " items") +
                             " failed in the model and are left out of the metrics");
}

}  // namespace eval
POLYGLOT_END_NAMESPACE
