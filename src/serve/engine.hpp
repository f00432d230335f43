// SPDX-License-Identifier: Apache-2.0
// polyglot serve, internal: the engine. One thread takes every queued request of the same
// operation (up to max_batch sequences; greedy generations with equal parameters together)
// into one backend call, then calls each task's `done`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <polyglot/plugin/services.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace serve {

enum class op { tokenize, detokenize, score_ids, embed, generate };

struct task {
    op kind = op::tokenize;
    std::uint32_t flags = 0;                      // tokenize / detokenize flags
    std::vector<std::string> texts;               // tokenize, embed, generate (text/messages)
    std::vector<std::vector<std::int32_t>> seqs;  // detokenize, score_ids, generate (ids)
    prompt_kind kind_of_prompt = prompt_kind::text;
    generate_params gp;
    bool want_pieces = false;  // token texts of the ids involved
    // results
    std::vector<std::vector<std::int32_t>> ids;
    std::vector<std::string> out_texts;
    std::vector<std::vector<float>> lp;
    std::vector<std::vector<std::uint8_t>> greedy;
    std::vector<float> emb;
    std::vector<generation> gens;
    std::unordered_map<std::int32_t, std::string> pieces;
    std::string item_error;  // the first failed item's message
    int status = 200;
    std::string error;
    std::function<void(task&)> done;

    [[nodiscard]] std::size_t items() const {
        switch (kind) {
            case op::tokenize:
            case op::embed:
                return texts.size();
            case op::detokenize:
            case op::score_ids:
                return seqs.size();
            case op::generate:
                return kind_of_prompt == prompt_kind::ids ? seqs.size() : texts.size();
        }
        return 0;
    }
};
using task_ptr = std::shared_ptr<task>;

class engine {
  public:
    engine(model_services ms, double window_ms, std::size_t max_batch);
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;
    /// Queues @p t; its `done` runs on the engine thread once the call that carries it is over.
    void submit(task_ptr t);
    [[nodiscard]] plugin::model& model() const { return *ms_.model; }
    [[nodiscard]] generator* gen() const { return ms_.gen.get(); }
    std::atomic<std::uint64_t> calls{0}, items{0};

  private:
    void loop();
    void run(std::vector<task_ptr>& group);
    void run_call(std::vector<task_ptr>& group, const call_hooks& hooks);
    /// Token texts (vLLM's decoded_token) of every id the tasks' replies list, from a cache.
    template <class Ids>
    void fill_pieces(std::vector<task_ptr>& group, Ids ids_of);

    model_services ms_;
    double window_;
    std::size_t max_batch_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<task_ptr> queue_;
    bool stop_ = false;
    std::unordered_map<std::int32_t, std::string> piece_cache_;
    std::thread thread_;
};

}  // namespace serve
POLYGLOT_END_NAMESPACE
