// SPDX-License-Identifier: Apache-2.0
/// @file POLYGLOT_API marks a public declaration whose definition is compiled into the bottom
/// library polyglot_base (src/base/, hidden visibility so that the plugins linking it export
/// nothing of it): such a symbol must still be exported from libpolyglot, which links it.
#pragma once

#define POLYGLOT_API __attribute__((visibility("default")))
