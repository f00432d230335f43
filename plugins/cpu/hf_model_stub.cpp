// SPDX-License-Identifier: Apache-2.0
// Built only when plugins/cpu/engine/ is absent: Hugging Face directories are refused clearly.
#include <polyglot/core/error.hpp>

#include "hf_model.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cpu {

std::unique_ptr<model> make_hf_model(const model_request& request) {
    throw unsupported_error("model directory '" + request.path.string() +
                            "': unsupported: native transformer engine not built");
}

void* hf_model_proc(const char*) { return nullptr; }

}  // namespace cpu
POLYGLOT_END_NAMESPACE
