// SPDX-License-Identifier: Apache-2.0
/// @file Standalone SVG plots for the analysis commands (no external fonts, scripts or styles):
/// annotated heatmaps (PCA loadings, Spearman matrices with stars, teacher × language PG-Scores)
/// and scatter plots (predicted vs actual, coloured by group). Each function returns the whole
/// SVG document as a string. Thread-safety: pure functions.
#pragma once

#include <limits>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace report {

enum class color_scale {
    diverging,   ///< blue (low) – white (centre) – red (high), centred on `center`
    sequential,  ///< light to dark (viridis-like)
};

struct heatmap_spec {
    std::string title;
    std::string subtitle;
    std::vector<std::string> row_labels;
    std::vector<std::string> col_labels;
    std::vector<std::vector<double>> values;  ///< rows × cols; NaN cells are left blank
    /// Optional text per cell (e.g. "0.87**"); empty = the value with `decimals` decimals.
    std::vector<std::vector<std::string>> annotations;
    color_scale scale = color_scale::diverging;
    double vmin = std::numeric_limits<double>::quiet_NaN();  ///< NaN = from the data
    double vmax = std::numeric_limits<double>::quiet_NaN();
    double center = 0.0;          ///< diverging scales only
    bool lower_triangle = false;  ///< draw only cells with col ≤ row
    int decimals = 2;
    std::string colorbar_label;
    std::string footnote;  ///< e.g. "* p < 0.05, ** p < 0.01"
};

/// An annotated heatmap. @throws argument_error when the value grid and labels disagree.
std::string heatmap_svg(const heatmap_spec& spec);

struct scatter_spec {
    std::string title;
    std::string subtitle;
    std::string x_label;
    std::string y_label;
    std::vector<double> x, y;
    std::vector<std::string> group;         ///< colour key per point (empty = one colour)
    std::vector<std::string> point_labels;  ///< hover text per point (optional)
    bool identity_line = false;             ///< draw y = x (predicted vs actual)
};

/// A scatter plot with a legend of groups. @throws argument_error on length mismatches.
std::string scatter_svg(const scatter_spec& spec);

}  // namespace report
POLYGLOT_END_NAMESPACE
