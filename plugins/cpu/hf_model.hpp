// SPDX-License-Identifier: Apache-2.0
/// @file Factory of the native transformer engine (Hugging Face model directories). See the
/// contract in plugins/cpu/model.hpp. Implemented by plugins/cpu/engine/ when it is built,
/// otherwise by plugins/cpu/hf_model_stub.cpp.
#pragma once

#include <memory>

#include "model.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cpu {

/// Loads the Hugging Face model directory @p request.path. Throws io_error / format_error /
/// unsupported_error naming the file.
std::unique_ptr<model> make_hf_model(const model_request& request);

/// The plugin's get_proc_address extensions that come with the engine (POLYGLOT_SELF_TEST_PROC:
/// the engine's known-answer self-test verdict, run on first request); NULL for other names.
void* hf_model_proc(const char* name);

}  // namespace cpu
POLYGLOT_END_NAMESPACE
