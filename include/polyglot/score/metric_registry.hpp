// SPDX-License-Identifier: Apache-2.0
/// @file The metrics `polyglot score` knows, in one table (src/score/metric_registry.cpp), in
/// report order. An entry names the metric (its report and state section, which is also its
/// --metrics name, plus aliases), builds it from the run's options and from a saved state's
/// header, and lists the values the CLI's summary shows. parse_metric_list, make_metrics,
/// make_metrics_from_header and the CLI read only this table.
///
/// Adding a metric: its header (include/polyglot/metrics/NAME.hpp, the metrics::metric
/// concept) and one entry in the table.
#pragma once

#include <memory>
#include <polyglot/score/score.hpp>
#include <polyglot/score/state.hpp>
#include <polyglot/text/tokenizer.hpp>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

/// The model a metric needs (besides the tokenizer and language-ID model, always at hand).
enum class model_need { none, embedder, lm, judge };

/// Whether @p cfg names the model @p need.
[[nodiscard]] bool model_given(const metric_config& cfg, model_need need) noexcept;

/// What the factories from options share: the options, the bundle being built (a factory opens
/// its model into it and records the model's identity), and the tokenizer, opened once.
class build_context {
  public:
    build_context(const metric_config& c, metric_bundle& b) : config(c), bundle(b) {}
    const metric_config& config;
    metric_bundle& bundle;
    /// config.tokenizer, opened on first use (bundle.tokenizer: its name).
    std::shared_ptr<const text::tokenizer> tokenizer();

  private:
    std::shared_ptr<const text::tokenizer> tok_;
};

/// One line of the CLI's summary.
struct summary_column {
    std::string_view label;  ///< e.g. "prompt tokens (mean)"
    std::string_view key;    ///< the number's key in the metric's report section
};

struct metric_entry {
    /// The metric's report and state section (its M::name) and its --metrics name.
    std::string_view name;
    std::vector<std::string_view> aliases{};  ///< other names --metrics accepts
    /// The model it needs: "all" picks the metric only when that model is given; asking for it
    /// without one is refused with @p missing_model.
    model_need needs = model_need::none;
    std::string_view missing_model{};
    /// Builds the metric for scoring (opening its model through the context).
    std::unique_ptr<any_metric> (*make)(build_context&) = nullptr;
    /// Builds it from a saved state's header, opening nothing: it can load, merge and finalize
    /// states but not score records.
    std::unique_ptr<any_metric> (*from_state)(const state_header&) = nullptr;
    std::vector<summary_column> summary{};  ///< the CLI's summary lines, in order
};

/// Every metric, in report order.
const std::vector<metric_entry>& metric_registry();

/// The entry named @p name or with @p name among its aliases; null when there is none.
const metric_entry* find_metric(std::string_view name);

}  // namespace score
POLYGLOT_END_NAMESPACE
