// SPDX-License-Identifier: Apache-2.0
/// @file Where polyglot keeps its assets (lid.176.ftz, tiktoken tables).
#pragma once

#include <polyglot/version.hpp>

#include <filesystem>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE

/// $POLYGLOT_DATA_DIR, else $XDG_CACHE_HOME/polyglot, else $HOME/.cache/polyglot.
std::filesystem::path data_dir();

/// Resolves an asset: an existing path is returned as is; otherwise @p name is looked up in
/// data_dir(). Throws io_error saying where it looked and that `scripts/bootstrap` fetches it.
std::filesystem::path resolve_asset(std::string_view name_or_path);

POLYGLOT_END_NAMESPACE
