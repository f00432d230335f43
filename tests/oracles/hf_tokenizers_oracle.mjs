#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Oracle for the Hugging Face tokenizer tests: HF's Rust `tokenizers` 0.23.2 through its N-API
// binding (installed by scripts/fetch-test-assets under $DATA/test-assets/node).
//
//   node hf_tokenizers_oracle.mjs NODE_MODULES CORPUS.jsonl OUT.jsonl NAME=TOKENIZER.json...
//
// For every corpus line ({"text"} or {"hex"}: bytes read as a JS string, i.e. U+FFFD for invalid
// UTF-8) and every tokenizer, one output line:
//   {"tok", "line", "ids" (add_special_tokens=false), "ids_special" (true),
//    "dec" / "dec_skip" (decode of ids_special without / with skip_special_tokens),
//    "dec_plain" (decode of ids: the library's own round trip),
//    "ids_plain" (add_special_tokens=false with special added tokens not recognised: their
//                 contents renamed to text that never occurs, as split_special_tokens=True)}
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [nodeModules, corpusPath, outPath, ...specs] = process.argv.slice(2);
const require = createRequire(join(nodeModules, 'x.js'));
const { Tokenizer } = require('tokenizers');

const texts = readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length).map((l) => {
  const o = JSON.parse(l);
  return o.hex !== undefined ? Buffer.from(o.hex, 'hex').toString('utf8') : o.text;
});

const out = [];
for (const spec of specs) {
  const eq = spec.indexOf('=');
  const name = spec.slice(0, eq), path = spec.slice(eq + 1);
  const json = readFileSync(path, 'utf8');
  const tok = Tokenizer.fromString(json);
  const j = JSON.parse(json);
  let k = 0;
  for (const t of j.added_tokens || []) if (t.special) t.content = `\u0001\u0001SPECIAL${k++}\u0001`;
  const plain = Tokenizer.fromString(JSON.stringify(j));
  const ids = (await tok.encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds());
  const ids2 = (await tok.encodeBatch(texts, { addSpecialTokens: true })).map((e) => e.getIds());
  const ids3 = (await plain.encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds());
  const decPlain = await tok.decodeBatch(ids, false);
  const dec = await tok.decodeBatch(ids2, false);
  const decSkip = await tok.decodeBatch(ids2, true);
  for (let i = 0; i < texts.length; ++i)
    out.push(JSON.stringify({ tok: name, line: i, ids: ids[i], ids_special: ids2[i], dec: dec[i],
                              dec_skip: decSkip[i], ids_plain: ids3[i],
                              dec_plain: decPlain[i] }));
  process.stderr.write(`oracle: ${name} done\n`);
}
writeFileSync(outPath, out.join('\n') + '\n');
