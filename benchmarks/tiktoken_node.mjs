// Times npm tiktoken's `encode_ordinary` over every line of a file, single thread, in Node.
//   node benchmarks/tiktoken_node.mjs FILE [ENCODING=cl100k_base] [RUNS=3] [COUNTS_OUT]
// Needs the `tiktoken` package resolvable (NODE_PATH=<prefix>/node_modules). Lines are split on
// '\n' exactly as `polyglot tokenize` does (a final empty segment after a trailing '\n' is not a
// line). The file is read and split before timing; one untimed warm-up pass precedes RUNS timed
// passes. Prints one JSON object: {"encoding","lines","bytes","tokens","seconds":[...]}.
// With COUNTS_OUT, also writes the token count of every line (one per line) for a diff.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
const require = createRequire(import.meta.url);
const { get_encoding } = require("tiktoken");

const [file, encoding = "cl100k_base", runsArg = "3", countsOut] = process.argv.slice(2);
const data = readFileSync(file);
const text = data.toString("utf8");
const lines = text.split("\n");
if (lines.length && lines[lines.length - 1] === "") lines.pop();
const enc = get_encoding(encoding);

function pass(counts) {
  let tokens = 0;
  for (let i = 0; i < lines.length; ++i) {
    const n = enc.encode_ordinary(lines[i]).length;
    tokens += n;
    if (counts) counts[i] = n;
  }
  return tokens;
}

const counts = countsOut ? new Array(lines.length) : null;
const tokens = pass(counts);  // warm-up (JIT, WASM tier-up)
if (countsOut) writeFileSync(countsOut, counts.join("\n") + (counts.length ? "\n" : ""));
const seconds = [];
for (let r = 0; r < Number(runsArg); ++r) {
  const t0 = process.hrtime.bigint();
  const t = pass(null);
  seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  if (t !== tokens) throw new Error("token total changed between runs");
}
enc.free();
console.log(JSON.stringify({ encoding, lines: lines.length, bytes: data.length, tokens, seconds }));
