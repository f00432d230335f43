// SPDX-License-Identifier: Apache-2.0
// Standalone SVG heatmaps and scatter plots. Hand-written: the output is a few dozen elements
// and no Debian C++ plotting library writes dependency-free SVG.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <polyglot/core/error.hpp>
#include <polyglot/report/svg.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace report {
namespace {

struct rgb {
    double r, g, b;
};

std::string hex(rgb c) {
    auto q = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255)); };
    char buf[8];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", q(c.r), q(c.g), q(c.b));
    return buf;
}

rgb lerp(rgb a, rgb b, double t) {
    return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

rgb from_stops(const std::vector<rgb>& stops, double t) {
    t = std::clamp(t, 0.0, 1.0);
    double pos = t * static_cast<double>(stops.size() - 1);
    auto i = std::min(static_cast<std::size_t>(pos), stops.size() - 2);
    return lerp(stops[i], stops[i + 1], pos - static_cast<double>(i));
}

// ColorBrewer RdBu (reversed: blue = low) and viridis stops.
const std::vector<rgb> diverging_stops{
    {0.020, 0.188, 0.380}, {0.129, 0.400, 0.675}, {0.263, 0.576, 0.765}, {0.573, 0.773, 0.871},
    {0.820, 0.898, 0.941}, {0.969, 0.969, 0.969}, {0.992, 0.859, 0.780}, {0.957, 0.647, 0.510},
    {0.839, 0.376, 0.302}, {0.698, 0.094, 0.169}, {0.404, 0.000, 0.122}};
const std::vector<rgb> sequential_stops{
    {0.267, 0.005, 0.329}, {0.283, 0.141, 0.458}, {0.254, 0.265, 0.530}, {0.207, 0.372, 0.553},
    {0.164, 0.471, 0.558}, {0.128, 0.567, 0.551}, {0.135, 0.659, 0.518}, {0.267, 0.749, 0.441},
    {0.478, 0.821, 0.318}, {0.741, 0.873, 0.150}, {0.993, 0.906, 0.144}};
const std::array<const char*, 10> palette{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

double luminance(rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; }

std::string esc(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string num(double v, int decimals) {
    if (std::isnan(v)) return "";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    std::string s = buf;
    if (s.rfind("-0.", 0) == 0 && std::strtod(buf, nullptr) == 0.0) s.erase(0, 1);
    return s;
}

std::string f1(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

// Rough text width in px for a sans-serif font (for layout only).
double text_width(const std::string& s, double font_px) {
    double units = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) units += (c >= 'A' && c <= 'Z') ? 0.68 : 0.56;
    return units * font_px;
}

std::string header(double w, double h) {
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + f1(w) + "\" height=\"" + f1(h) +
           "\" viewBox=\"0 0 " + f1(w) + " " + f1(h) +
           "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
           "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

std::string text(double x, double y, const std::string& s, double size,
                 const std::string& extra = {}) {
    return "<text x=\"" + f1(x) + "\" y=\"" + f1(y) + "\" font-size=\"" + f1(size) + "\"" +
           (extra.empty() ? "" : " " + extra) + ">" + esc(s) + "</text>\n";
}

// "Nice" tick positions covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int target = 6) {
    if (!(hi > lo)) return {lo};
    double raw = (hi - lo) / target;
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    std::vector<double> out;
    for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
        out.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
    return out;
}

std::string tick_label(double v, double step) {
    int dec = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    return num(v, std::clamp(dec, 0, 6));
}

}  // namespace

std::string heatmap_svg(const heatmap_spec& s) {
    const std::size_t nr = s.row_labels.size(), nc = s.col_labels.size();
    if (s.values.size() != nr)
        throw argument_error("heatmap: " + std::to_string(s.values.size()) + " value rows for " +
                             std::to_string(nr) + " row labels");
    for (const auto& row : s.values)
        if (row.size() != nc)
            throw argument_error("heatmap: a value row has " + std::to_string(row.size()) +
                                 " cells for " + std::to_string(nc) + " column labels");
    if (!s.annotations.empty() && s.annotations.size() != nr)
        throw argument_error("heatmap: annotations do not match the value grid");
    auto drawn = [&](std::size_t i, std::size_t j) { return !s.lower_triangle || j <= i; };
    double lo = s.vmin, hi = s.vmax;
    if (std::isnan(lo) || std::isnan(hi)) {
        double dlo = INFINITY, dhi = -INFINITY;
        for (std::size_t i = 0; i < nr; ++i)
            for (std::size_t j = 0; j < nc; ++j)
                if (drawn(i, j) && std::isfinite(s.values[i][j])) {
                    dlo = std::min(dlo, s.values[i][j]);
                    dhi = std::max(dhi, s.values[i][j]);
                }
        if (!std::isfinite(dlo)) dlo = 0, dhi = 1;
        if (s.scale == color_scale::diverging) {
            double m = std::max(std::fabs(dlo - s.center), std::fabs(dhi - s.center));
            if (m == 0) m = 1;
            if (std::isnan(lo)) lo = s.center - m;
            if (std::isnan(hi)) hi = s.center + m;
        } else {
            if (std::isnan(lo)) lo = dlo;
            if (std::isnan(hi)) hi = dhi > dlo ? dhi : dlo + 1;
        }
    }
    auto color = [&](double v) {
        double t;
        if (s.scale == color_scale::diverging) {
            double half = std::max(hi - s.center, s.center - lo);
            t = 0.5 + 0.5 * (v - s.center) / (half > 0 ? half : 1);
        } else {
            t = (v - lo) / (hi - lo);
        }
        return from_stops(s.scale == color_scale::diverging ? diverging_stops : sequential_stops,
                          t);
    };

    const double font = 12, cell_w = std::max(58.0, 0.0), cell_h = 30;
    double label_w = 0;
    for (const auto& l : s.row_labels) label_w = std::max(label_w, text_width(l, font));
    double col_label_h = 0;
    for (const auto& l : s.col_labels) col_label_h = std::max(col_label_h, text_width(l, font));
    const bool rotate = col_label_h > cell_w - 6;
    col_label_h = rotate ? col_label_h * 0.75 + 10 : 20;
    const double left = 16 + label_w + 8,
                 top = 16 + 22 + (s.subtitle.empty() ? 0 : 18) + col_label_h + 6;
    const double grid_w = cell_w * static_cast<double>(nc),
                 grid_h = cell_h * static_cast<double>(nr);
    const double bar_x = left + grid_w + 24, bar_w = 14;
    double width = bar_x + bar_w + 60 + (s.colorbar_label.empty() ? 0 : 18);
    width = std::max(width, 16 + text_width(s.title, 16) + 16);
    const double height = top + grid_h + 20 + (s.footnote.empty() ? 0 : 18);

    std::string out = header(width, height);
    out += text(16, 16 + 16, s.title, 16, "font-weight=\"bold\"");
    if (!s.subtitle.empty()) out += text(16, 16 + 16 + 18, s.subtitle, 12, "fill=\"#555\"");
    for (std::size_t j = 0; j < nc; ++j) {
        double cx = left + cell_w * (static_cast<double>(j) + 0.5);
        if (rotate)
            out += "<text transform=\"translate(" + f1(cx + 4) + "," + f1(top - 6) +
                   ") rotate(-45)\" font-size=\"" + f1(font) + "\">" + esc(s.col_labels[j]) +
                   "</text>\n";
        else
            out += text(cx, top - 8, s.col_labels[j], font, "text-anchor=\"middle\"");
    }
    for (std::size_t i = 0; i < nr; ++i) {
        double y = top + cell_h * static_cast<double>(i);
        out += text(left - 8, y + cell_h / 2 + 4, s.row_labels[i], font, "text-anchor=\"end\"");
        for (std::size_t j = 0; j < nc; ++j) {
            if (!drawn(i, j)) continue;
            double x = left + cell_w * static_cast<double>(j);
            double v = s.values[i][j];
            bool ok = std::isfinite(v);
            rgb c = ok ? color(v) : rgb{0.93, 0.93, 0.93};
            out += "<rect x=\"" + f1(x) + "\" y=\"" + f1(y) + "\" width=\"" + f1(cell_w) +
                   "\" height=\"" + f1(cell_h) + "\" fill=\"" + hex(c) +
                   "\" stroke=\"white\" stroke-width=\"1\"><title>" +
                   esc(s.row_labels[i] + " / " + s.col_labels[j] + ": " +
                       (ok ? num(v, 6) : std::string("n/a"))) +
                   "</title></rect>\n";
            std::string label = !s.annotations.empty() && j < s.annotations[i].size() &&
                                        !s.annotations[i][j].empty()
                                    ? s.annotations[i][j]
                                    : (ok ? num(v, s.decimals) : "n/a");
            out += text(x + cell_w / 2, y + cell_h / 2 + 4, label, 11,
                        std::string("text-anchor=\"middle\" fill=\"") +
                            (luminance(c) < 0.45 ? "white" : "#111") + "\"");
        }
    }
    // colour bar
    const int steps = 40;
    for (int k = 0; k < steps; ++k) {
        double t0 = static_cast<double>(k) / steps;
        double v = hi - (hi - lo) * (t0 + 0.5 / steps);
        out += "<rect x=\"" + f1(bar_x) + "\" y=\"" + f1(top + grid_h * t0) + "\" width=\"" +
               f1(bar_w) + "\" height=\"" + f1(grid_h / steps + 0.5) + "\" fill=\"" +
               hex(color(v)) + "\"/>\n";
    }
    out += "<rect x=\"" + f1(bar_x) + "\" y=\"" + f1(top) + "\" width=\"" + f1(bar_w) +
           "\" height=\"" + f1(grid_h) + "\" fill=\"none\" stroke=\"#888\"/>\n";
    auto tk = ticks(lo, hi, 4);
    double step = tk.size() > 1 ? tk[1] - tk[0] : 1;
    for (double t : tk) {
        double y = top + grid_h * (hi - t) / (hi - lo);
        out += "<line x1=\"" + f1(bar_x + bar_w) + "\" x2=\"" + f1(bar_x + bar_w + 4) + "\" y1=\"" +
               f1(y) + "\" y2=\"" + f1(y) + "\" stroke=\"#555\"/>\n";
        out += text(bar_x + bar_w + 6, y + 4, tick_label(t, step), 10);
    }
    if (!s.colorbar_label.empty())
        out += "<text transform=\"translate(" + f1(bar_x + bar_w + 52) + "," +
               f1(top + grid_h / 2) + ") rotate(90)\" font-size=\"11\" text-anchor=\"middle\">" +
               esc(s.colorbar_label) + "</text>\n";
    if (!s.footnote.empty()) out += text(16, height - 10, s.footnote, 11, "fill=\"#555\"");
    out += "</svg>\n";
    return out;
}

std::string scatter_svg(const scatter_spec& s) {
    const std::size_t n = s.x.size();
    if (s.y.size() != n || (!s.group.empty() && s.group.size() != n) ||
        (!s.point_labels.empty() && s.point_labels.size() != n))
        throw argument_error("scatter: x, y, group and label lists differ in length");
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        xlo = std::min(xlo, s.x[i]);
        xhi = std::max(xhi, s.x[i]);
        ylo = std::min(ylo, s.y[i]);
        yhi = std::max(yhi, s.y[i]);
    }
    if (!std::isfinite(xlo)) xlo = ylo = 0, xhi = yhi = 1;
    if (s.identity_line) {
        xlo = ylo = std::min(xlo, ylo);
        xhi = yhi = std::max(xhi, yhi);
    }
    auto pad = [](double& lo, double& hi) {
        double d = hi - lo;
        if (d <= 0) d = std::fabs(lo) > 0 ? std::fabs(lo) * 0.1 : 1;
        lo -= d * 0.06;
        hi += d * 0.06;
    };
    pad(xlo, xhi);
    pad(ylo, yhi);
    std::vector<std::string> groups;
    for (const auto& g : s.group)
        if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
    double legend_w = 0;
    for (const auto& g : groups) legend_w = std::max(legend_w, text_width(g, 12) + 30);
    const double left = 70, top = 16 + 22 + (s.subtitle.empty() ? 0 : 18) + 10, pw = 420, ph = 360;
    const double width =
        std::max(left + pw + 20 + legend_w + 10, 16 + text_width(s.title, 16) + 16);
    const double height = top + ph + 50;
    auto px = [&](double v) { return left + pw * (v - xlo) / (xhi - xlo); };
    auto py = [&](double v) { return top + ph * (1 - (v - ylo) / (yhi - ylo)); };

    std::string out = header(width, height);
    out += text(16, 32, s.title, 16, "font-weight=\"bold\"");
    if (!s.subtitle.empty()) out += text(16, 50, s.subtitle, 12, "fill=\"#555\"");
    out += "<rect x=\"" + f1(left) + "\" y=\"" + f1(top) + "\" width=\"" + f1(pw) + "\" height=\"" +
           f1(ph) + "\" fill=\"none\" stroke=\"#888\"/>\n";
    auto xt = ticks(xlo, xhi), yt = ticks(ylo, yhi);
    double xs = xt.size() > 1 ? xt[1] - xt[0] : 1, ys = yt.size() > 1 ? yt[1] - yt[0] : 1;
    for (double t : xt) {
        if (t < xlo || t > xhi) continue;
        out += "<line x1=\"" + f1(px(t)) + "\" x2=\"" + f1(px(t)) + "\" y1=\"" + f1(top) +
               "\" y2=\"" + f1(top + ph) + "\" stroke=\"#eee\"/>\n";
        out += text(px(t), top + ph + 16, tick_label(t, xs), 10, "text-anchor=\"middle\"");
    }
    for (double t : yt) {
        if (t < ylo || t > yhi) continue;
        out += "<line x1=\"" + f1(left) + "\" x2=\"" + f1(left + pw) + "\" y1=\"" + f1(py(t)) +
               "\" y2=\"" + f1(py(t)) + "\" stroke=\"#eee\"/>\n";
        out += text(left - 6, py(t) + 4, tick_label(t, ys), 10, "text-anchor=\"end\"");
    }
    if (s.identity_line)
        out += "<line x1=\"" + f1(px(xlo)) + "\" y1=\"" + f1(py(xlo)) + "\" x2=\"" + f1(px(xhi)) +
               "\" y2=\"" + f1(py(xhi)) +
               "\" stroke=\"#999\" stroke-dasharray=\"5,4\"><title>y = x</title></line>\n";
    out += text(left + pw / 2, top + ph + 38, s.x_label, 12, "text-anchor=\"middle\"");
    out += "<text transform=\"translate(18," + f1(top + ph / 2) +
           ") rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">" + esc(s.y_label) +
           "</text>\n";
    std::map<std::string, const char*> col;
    for (std::size_t g = 0; g < groups.size(); ++g) col[groups[g]] = palette[g % palette.size()];
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        const char* c = s.group.empty() ? palette[0] : col[s.group[i]];
        std::string tip = s.point_labels.empty() ? "" : s.point_labels[i] + ": ";
        tip += "(" + num(s.x[i], 4) + ", " + num(s.y[i], 4) + ")";
        out += "<circle cx=\"" + f1(px(s.x[i])) + "\" cy=\"" + f1(py(s.y[i])) +
               "\" r=\"4.5\" fill=\"" + c +
               "\" fill-opacity=\"0.8\" stroke=\"white\" stroke-width=\"0.8\"><title>" + esc(tip) +
               "</title></circle>\n";
    }
    for (std::size_t g = 0; g < groups.size(); ++g) {
        double y = top + 10 + 20 * static_cast<double>(g);
        out += "<circle cx=\"" + f1(left + pw + 28) + "\" cy=\"" + f1(y) + "\" r=\"5\" fill=\"" +
               col[groups[g]] + "\"/>\n";
        out += text(left + pw + 40, y + 4, groups[g], 12);
    }
    out += "</svg>\n";
    return out;
}

}  // namespace report
POLYGLOT_END_NAMESPACE
