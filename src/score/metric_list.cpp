// SPDX-License-Identifier: Apache-2.0
// Choosing and building metrics from the registry (score/metric_registry.hpp): --metrics
// lists, the factory from options, name lookup.
#include <algorithm>
#include <polyglot/core/error.hpp>
#include <polyglot/score/metric_registry.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

bool model_given(const metric_config& cfg, model_need need) noexcept {
    switch (need) {
        case model_need::embedder:
            return !cfg.embedder.empty();
        case model_need::lm:
            return !cfg.lm.empty();
        case model_need::judge:
            return !cfg.judge.empty();
        case model_need::none:
            break;
    }
    return true;
}

std::shared_ptr<const text::tokenizer> build_context::tokenizer() {
    if (!tok_) {
        tok_ = text::open_tokenizer(config.tokenizer);
        bundle.tokenizer = tok_->name();
    }
    return tok_;
}

const metric_entry* find_metric(std::string_view name) {
    for (const auto& e : metric_registry())
        if (e.name == name ||
            std::find(e.aliases.begin(), e.aliases.end(), name) != e.aliases.end())
            return &e;
    return nullptr;
}

std::vector<std::string> parse_metric_list(std::string_view csv, bool have_embedder, bool have_lm,
                                           bool have_judge) {
    const auto& registry = metric_registry();
    metric_config given;  // only which models are named matters here
    given.embedder = have_embedder ? "y" : "";
    given.lm = have_lm ? "y" : "";
    given.judge = have_judge ? "y" : "";
    std::vector<bool> on(registry.size(), false);
    std::size_t pos = 0;
    bool any = false;
    while (pos <= csv.size()) {
        std::size_t comma = csv.find(',', pos);
        if (comma == std::string_view::npos) comma = csv.size();
        std::string_view item = csv.substr(pos, comma - pos);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        pos = comma + 1;
        if (item.empty()) continue;
        any = true;
        if (item == "all") {  // every metric whose model is given
            for (std::size_t i = 0; i < registry.size(); ++i)
                on[i] = on[i] || model_given(given, registry[i].needs);
            continue;
        }
        const metric_entry* e = find_metric(item);
        if (!e) {
            std::string known;
            for (const auto& r : registry) {
                known += std::string(r.name) + ", ";
                for (const auto a : r.aliases) known += std::string(a) + ", ";
            }
            throw argument_error("unknown metric '" + std::string(item) + "' (known: " + known +
                                 "all)");
        }
        on[static_cast<std::size_t>(e - registry.data())] = true;
    }
    if (!any) throw argument_error("--metrics: no metric given");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < on.size(); ++i)
        if (on[i]) out.emplace_back(registry[i].name);
    return out;
}

metric_bundle make_metrics(const metric_config& cfg) {
    std::vector<const metric_entry*> wanted;  // in report order
    for (const auto& e : metric_registry())
        if (std::any_of(cfg.names.begin(), cfg.names.end(),
                        [&](const std::string& n) { return find_metric(n) == &e; }))
            wanted.push_back(&e);
    for (const metric_entry* e : wanted)  // before any model is opened
        if (!model_given(cfg, e->needs)) throw argument_error(std::string(e->missing_model));
    metric_bundle b;
    build_context ctx(cfg, b);
    for (const metric_entry* e : wanted) b.metrics.push_back(e->make(ctx));
    return b;
}

}  // namespace score
POLYGLOT_END_NAMESPACE
