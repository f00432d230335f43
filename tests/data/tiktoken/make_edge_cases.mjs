// Regenerates edge_cases.jsonl: what npm tiktoken@1.0.22 `encode_ordinary` returns for texts the
// shared fixtures do not cover (white space, \r\n mixtures, digits, contractions, emoji/ZWJ,
// combining marks, CJK, RTL, and very long single pieces).
//   npm install --prefix /tmp/tt tiktoken@1.0.22
//   NODE_PATH=/tmp/tt/node_modules node tests/data/tiktoken/make_edge_cases.mjs \
//       > tests/data/tiktoken/edge_cases.jsonl
// Short texts are stored with their ids; long ones ("unit" repeated "repeat" times) with the
// id count and the FNV-1a 64 hash of the ids (each id as 4 little-endian bytes).
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { get_encoding } = require("tiktoken");

const texts = [
  "", " ", "   ", "\t\t  \t", "\n", "\r\n", "\r\n\r\n", " \r\n ", "a \r\n b", "x\r\ny\n\rz",
  "\r\r\n\n  \n\t\n", "trailing spaces   ", "   leading", "a  b   c    d", "a\t\tb", "\n\nx",
  "line1\nline2\r\nline3\rline4", "  \n  ", "!!!\n\n", "foo!/\n/bar", "a/b/c//d", "ok.\r\n/x",
  "1234567890123", "12,345.6789", "x1y22z333w4444", "٣٤٥٦٧٨", "①②③④", "x²³ ½", "Ⅻ ⅻ", "  42",
  "I'm you're they've he'll we'd it's", "Don'T WE'LL SHE'D", "'s", "'S'T'RE'VE'M'LL'D",
  "it'ſ", "can’t", "'hello", "rock'n'roll", "O'Neil's",
  "👍🏽", "👨‍👩‍👧‍👦 family", "🇺🇸🇩🇪", "❤️ love", "a👍b", " 🙂🙂",
  "e\u0301 cafe\u0301 a\u0308\u0304", "\u0301\u0301abc", "ABC\u0301DEF", " \u0301x", "!\u0301",
  "क्षत्रिय ब्राह्मण", "สวัสดีครับ", "ภาษาไทย",
  "日本語のテキストです。", "中文分词测试，标点！", "한국어 텍스트", "カタカナ ひらがな",
  "مرحبا بالعالم", "שלום עולם", "abc مرحبا 123", "العَرَبِيَّة",
  "HELLOworld", "helloWORLD", "ǅemal ǈubljana", "ʰello ʼapostrophe", "İstanbul ıi", "ΑΒΓ αβγ",
  "McDonald's", "XMLHttpRequest", "ABCs", "iPhone", "ÆØÅ æøå", "STRASSE straße",
  "<|endoftext|>", "...   ...", " ?!", "$$$ 100", "a\u00a0b\u00a0 c", "\u2028line\u2029",
  "\u3000全角", "\u0085nel", "\u001c\u001d\u001e\u001f x", "\u0000\u0001\u0002",
  "𝐀𝐁𝐂 𝑎𝑏𝑐", "𠀀𠀁 𠀂", "𐍈𐍉", "\u200b\u200czero\u200dwidth", "tab\there",
];
const long = [
  ["a", 100000], ["1", 100000], [" ", 50000], ["ab", 50000], ["é", 30000], ["日", 30000],
  ["!", 100000], ["\n", 30000], [" \n", 20000], ["aB", 40000], ["\u0301", 20000],
  ["👍", 20000], ["\r\n", 20000], ["abc ", 25000], ["Ab1 ", 25000],
];

function fnv(ids) {
  let h = 0xcbf29ce484222325n;
  const p = 0x100000001b3n, m = (1n << 64n) - 1n;
  for (const id of ids)
    for (let k = 0; k < 4; ++k) {
      h ^= BigInt((id >>> (8 * k)) & 0xff);
      h = (h * p) & m;
    }
  return h.toString(16).padStart(16, "0");
}

for (const name of ["cl100k_base", "o200k_base"]) {
  const enc = get_encoding(name);
  for (const text of texts)
    process.stdout.write(JSON.stringify({ encoding: name, text, ids: Array.from(enc.encode_ordinary(text)) }) + "\n");
  for (const [unit, repeat] of long) {
    const ids = enc.encode_ordinary(unit.repeat(repeat));
    process.stdout.write(JSON.stringify({ encoding: name, unit, repeat, count: ids.length, fnv: fnv(ids) }) + "\n");
  }
  enc.free();
}
