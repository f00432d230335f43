// SPDX-License-Identifier: Apache-2.0
// Times Hugging Face's Rust `tokenizers` (npm tokenizers@0.23.2, N-API) over every line of a file
// in encodeBatch mode (add_special_tokens=false), the way its users batch: batches of BATCH lines.
//   node benchmarks/hf_tokenizers_node.mjs NODE_MODULES TOKENIZER.json FILE [RUNS=3] [COUNTS_OUT]
// Threads: RAYON_NUM_THREADS (set by the caller). Lines are split on '\n' as `polyglot tokenize`
// splits them. The file is read and split before timing; one untimed warm-up pass precedes RUNS
// timed passes, each timed with wall clock and process CPU time. Prints one JSON object:
// {"lines","bytes","tokens","seconds":[...],"cpu_seconds":[...]}; with COUNTS_OUT, the token
// count of every line (one per line).
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [nodeModules, tokFile, file, runsArg = '3', countsOut] = process.argv.slice(2);
const require = createRequire(join(nodeModules, 'x.js'));
const { Tokenizer } = require('tokenizers');
const BATCH = Number(process.env.BATCH || 4096);

const data = readFileSync(file);
const lines = data.toString('utf8').split('\n');
if (lines.length && lines[lines.length - 1] === '') lines.pop();
const tok = Tokenizer.fromFile(tokFile);

async function pass(counts) {
  let tokens = 0;
  for (let b = 0; b < lines.length; b += BATCH) {
    const enc = await tok.encodeBatch(lines.slice(b, b + BATCH), { addSpecialTokens: false });
    for (let i = 0; i < enc.length; ++i) {
      const n = enc[i].getLength();
      tokens += n;
      if (counts) counts[b + i] = n;
    }
  }
  return tokens;
}

const counts = countsOut ? new Array(lines.length) : null;
const tokens = await pass(counts);
if (countsOut) writeFileSync(countsOut, counts.join('\n') + (counts.length ? '\n' : ''));
const seconds = [], cpu = [];
for (let r = 0; r < Number(runsArg); ++r) {
  const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
  const t = await pass(null);
  const c = process.cpuUsage(c0);
  seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  cpu.push((c.user + c.system) / 1e6);
  if (t !== tokens) throw new Error('token total changed between runs');
}
console.log(JSON.stringify({ lines: lines.length, bytes: data.length, tokens, seconds, cpu_seconds: cpu }));
