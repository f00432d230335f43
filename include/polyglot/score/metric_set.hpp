// SPDX-License-Identifier: Apache-2.0
/// @file Type erasure over the metric concept, so the scoring driver can run a set of metrics
/// chosen at run time (`--metrics`). One virtual call per metric per record; the metric's own
/// kernels stay templates.
#pragma once

#include <memory>
#include <polyglot/core/record.hpp>
#include <polyglot/io/binary.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/metrics/metric.hpp>
#include <string_view>
#include <utility>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

/// A metric of any type. Immutable and shared by all threads; all mutation is in its states.
class any_metric {
  public:
    /// A state of the metric that made it (opaque).
    class state {
      public:
        virtual ~state() = default;
    };

    virtual ~any_metric() = default;
    [[nodiscard]] virtual std::string_view name() const = 0;
    [[nodiscard]] virtual std::unique_ptr<state> make_state() const = 0;
    virtual void accumulate(state& s, const record& r, instance_values& iv) const = 0;
    /// a = a ∪ b; @p b must come after @p a in input order.
    virtual void merge(state& a, const state& b) const = 0;
    /// Writes the members of the metric's report section.
    virtual void finalize(const state& s, io::json_writer& w) const = 0;
    /// Appends the state's bytes (metrics/metric.hpp `save`).
    virtual void save(const state& s, io::binary_writer& w) const = 0;
    /// Replaces @p s (a make_state() of this metric) with the state in @p r; throws
    /// format_error on bytes that cannot be one.
    virtual void load(state& s, io::binary_reader& r) const = 0;
};

namespace detail {
template <metrics::metric M>
class metric_model final : public any_metric {
  public:
    explicit metric_model(M m) : m_(std::move(m)) {}
    struct typed_state final : state {
        explicit typed_state(typename M::state v) : s(std::move(v)) {}
        typename M::state s;
    };
    [[nodiscard]] std::string_view name() const override { return M::name; }
    [[nodiscard]] std::unique_ptr<state> make_state() const override {
        return std::make_unique<typed_state>(m_.make_state());
    }
    void accumulate(state& s, const record& r, instance_values& iv) const override {
        m_.accumulate(static_cast<typed_state&>(s).s, r, iv);
    }
    void merge(state& a, const state& b) const override {
        m_.merge(static_cast<typed_state&>(a).s, static_cast<const typed_state&>(b).s);
    }
    void finalize(const state& s, io::json_writer& w) const override {
        m_.finalize(static_cast<const typed_state&>(s).s, w);
    }
    void save(const state& s, io::binary_writer& w) const override {
        m_.save(static_cast<const typed_state&>(s).s, w);
    }
    void load(state& s, io::binary_reader& r) const override {
        m_.load(static_cast<typed_state&>(s).s, r);
    }

  private:
    M m_;
};
}  // namespace detail

/// Wraps a metric value.
template <metrics::metric M>
std::unique_ptr<any_metric> erase(M m) {
    return std::make_unique<detail::metric_model<M>>(std::move(m));
}

}  // namespace score
POLYGLOT_END_NAMESPACE
