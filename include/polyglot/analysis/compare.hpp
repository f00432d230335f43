// SPDX-License-Identifier: Apache-2.0
/// @file `polyglot compare` as a library call: intrinsic-metric reports side by side (one row
/// per report, i.e. teacher × language, one column per metric), with the intrinsic z-score and
/// a ranking by it; rendered as a markdown table, CSV, JSON or an SVG heatmap.
#pragma once

#include <cstddef>
#include <optional>
#include <polyglot/analysis/format.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/reports.hpp>
#include <polyglot/report/svg.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {

/// A column of the comparison: its label and the report key it shows.
struct compare_column {
    std::string label;
    std::string key;  ///< dotted path or leaf name in the report
    int decimals = 3;
};

/// The columns shown by default (when some report has them), in this order.
const std::vector<compare_column>& default_compare_columns();

struct compare_options {
    /// Report keys (dotted paths or leaf names) to show instead of the default columns.
    std::optional<std::vector<std::string>> columns;
    bool z = true;  ///< add the z-score column and rank by it (when every report allows it)
    pool_kind pool = pool_kind::global;
    std::string sort;  ///< sort by this column (descending); "" = by z when present
};

struct compare_result {
    std::vector<intrinsic_report> reports;  ///< in input order
    std::vector<compare_column> columns;
    std::vector<std::vector<double>> values;  ///< per report × column; NaN = absent
    std::vector<double> z;                    ///< per report; empty = no z-score
    std::vector<std::string> z_features;
    pool_kind pool = pool_kind::global;
    std::string sort;
    std::vector<std::size_t> order;  ///< reports in display order
    bool ranked = false;             ///< rows are sorted (and get a rank)
    std::vector<std::string> warnings;
};

/// Compares @p reports. @throws argument_error for a --columns key no report has or a --sort
/// column that is not shown; errors of the z-score pool.
compare_result compare_reports(std::vector<intrinsic_report> reports, const compare_options& o);

/// The comparison as text: a markdown table (with a note on the z-score), CSV or JSON.
std::string render(const compare_result& r, text_format f);

/// The comparison as a heatmap (colours: each column standardised; cells: the values).
report::heatmap_spec heatmap(const compare_result& r);

}  // namespace analysis
POLYGLOT_END_NAMESPACE
