// SPDX-License-Identifier: Apache-2.0
#pragma once
// Programmer errors (violated preconditions): active in debug builds, compiled out with NDEBUG.
#include <cassert>

#define POLYGLOT_ASSERT(cond) assert(cond)
