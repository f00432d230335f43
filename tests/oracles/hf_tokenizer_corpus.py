#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The multilingual test corpus of the Hugging Face tokenizer oracle test: translations from the
system's .mo files (scripts/mo_corpus.py; 24 languages, up to 160 strings each, evenly spaced
through each language's sorted strings) plus edge cases (emoji/ZWJ, combining marks, letters
added in Unicode 15.1/16.0, white-space runs with U+FEFF/U+0085/U+3000, special-token
look-alikes, very long words, invalid UTF-8).

  hf_tokenizer_corpus.py OUT.jsonl     one JSON object per line: {"text": ...} or, for bytes that
                                       are not valid UTF-8, {"hex": ...}
Deterministic for a given machine (the .mo files present).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import mo_corpus  # noqa: E402

LANGS = ["ar", "bn", "de", "el", "es", "fa", "fr", "he", "hi", "ja", "ka", "ko", "mr", "my",
         "pl", "ru", "ta", "te", "th", "tr", "uk", "vi", "zh_CN", "zh_TW"]
PER_LANG = 160

EDGE = [
    "", " ", "  ", "\n", "\n\n", "\r\n", "\t", "a", "Hello world", "Hello  world", " leading",
    "trailing ", "a \n\n b", "a\t\tb\n", "   \n   ", "x\u0085y", "x \u0085 y", "x\ufeffy",
    "\ufeffBOM at start", " \ufeff ", "a\u00a0b", "a\u2028b\u2029c", "a\u200bb", "a\u3000b",
    "\u3000全角\u3000\u3000空白\u3000", "a\u000bb\u000cc", "a\u1680b\u2007c\u202fd\u205fe",
    "\u0085\u0085", "end\n", "two\n\nlines\n\n\n", " \r\n \r\n",
    # emoji, ZWJ sequences, flags, skin tones, keycaps
    "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "👍🏽👍🏿", "🇩🇪🇫🇷🇯🇵", "1️⃣2️⃣#️⃣", "😀😃😄😁😆😅😂🤣",
    "I ❤️ NY", "👩🏽‍💻 codes", "🧑‍🤝‍🧑",
    # combining marks, decomposed forms, Indic/Thai/Arabic clusters
    "e\u0301", "Cafe\u0301 re\u0301sume\u0301", "a\u0301\u0302\u0303\u0304", "\u1100\u1161\u11a8",
    "क्षत्रिय", "ที่นี่", "مُحَمَّدٌ", "Việt Nam", "Vie\u0323\u0302t", "ǅemal", "ﬁnance ﬀ",
    "Å Å Å", "ḱṷṓn", "z̷̧̛a̶l̸g̵o̴",
    # letters added in Unicode 15.0 / 15.1 / 16.0 (Oniguruma in `tokenizers` knows them)
    "\U0002ebf0\U0002ebf1\U0002ebf2 CJK Ext I", "\U00010d4a\U00010d4b\U00010d50 Garay",
    "\U000105c0\U000105c1\U000105c2 Todhri", "\U00016d43\U00016d44 Kirat Rai",
    "\U0001e5d0\U0001e5d1 Ol Onal", "\U00011bc0\U00011bc1 Sunuwar", "\U00011380\U00011381 Tulu",
    "\U00016100\U00016101 Gurung Khema", "\ua7cb\ua7cc\ua7cd Latin", "\u1c89\u1c8a Cyrillic",
    "\U0001e4d0\U0001e4d1 Nag Mundari", "\U00011f04\U00011f05 Kawi", "x\U0002ebf0y 1\U00010d4a2",
    # special-token look-alikes
    "<end_of_turn>", "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nhi<|im_end|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<bos>text<eos>", "<s>[INST] hi [/INST]</s>", "<|endoftext|>", "[CLS] a [SEP] b [MASK]",
    "<unused12> <unused0>", "<mask> <pad> <unk>", "<｜begin▁of▁sentence｜>hi<｜end▁of▁sentence｜>",
    "<|start|>assistant<|channel|>final<|message|>ok<|end|>", "<think>\nhmm\n</think>",
    "<tool_call>{}</tool_call>", "x<end_of_turn>y", "  <end_of_turn>  ", "<end_of_turn<end_of_turn>>",
    "<|im_start|><|im_start|>", "<b> </b>", "a> </b", ">▁</ x",
    # Metaspace characters in the input
    "▁▁a", "a▁b", "▁", "▁ ▁",
    # contractions and apostrophes
    "I'm DON'T we'll they've she'd it's", "'S'T'RE'VE'M'LL'D", "ſ's 'ſ", "it’s", "rock'n'roll",
    # numbers
    "12345678901234567890", "3.14159 1,000,000", "١٢٣٤٥٦ ۱۲۳", "½ ¾ Ⅻ ⑳", "२०२४",
    # mixed scripts, bidi controls
    "English العربية 中文 русский", "\u200fRTL mark\u200e", "\u202ereversed\u202c", "Ελληνικά!",
    "ASCII-only: !@#$%^&*()_+-={}[]|\\:;\"'<>,.?/~`",
    # script changes (UnicodeScripts): Han/Hiragana/Katakana/U+30FC as one, leading spaces,
    # combining marks (Inherited), digits and punctuation (Common), code points whose script
    # changed after Unicode 9.0 (U+0589, U+061C, U+0953) or that 9.0 did not have
    "どこで生れ。Yes", "Apples are りんご 林檎", "東京タワーは2024年にできた。Yes!",
    "カタカナーひらがな漢字ABCабв١٢٣", "  leading spaces 漢字", "\u3000\u3000全角 Latin",
    "abcабвαβγ日本語العربية123!?🙂😀 mixed", "Москва-2024: 東京 vs القاهرة (emoji 🎉)",
    "Hello,世界!Привет,мир!مرحبا", "ーlong ー mark ｶﾀｶﾅ ﾊﾟﾝ Ｆｕｌｌ ＡＢＣ", "e\u0301\u0410\u0301x",
    "x\u0589y \u061c\u0632 \u0953\u0915 ab\u0860\u0861cd a\U00030000b 한국어Korean",
    "abc123def ١٢٣abc 42km², №5 ½", "Ελληνικά-English-עברית-हिन्दी-ไทย", " ",
    "日本語の文章です。English words, and 中文句子。", "Emoji 👍🏽 in 日本 and Россия 🇷🇺",
    # control characters
    "a\x00b", "\x01\x02\x03", "del\x7f", "\x1b[31mred\x1b[0m",
    # very long words
    "a" * 3000, "supercalifragilistic" * 150, "中文" * 1500, "9" * 1000, "—" * 400,
    "https://example.com/" + "path/" * 200, "ab " * 1500, " " * 500 + "x",
    "Donaudampfschifffahrtsgesellschaftskapitänswitwe" * 20,
]

INVALID_HEX = ["ff", "c3", "e4b8", "f09f98", "80", "61ff62", "eda080", "c0af", "f4908080",
               "e4b8ade696", "41c3284142", "fffe", "e282ac80"]


def main():
    out = open(sys.argv[1], "w", encoding="utf-8")
    n = 0
    for lang in LANGS:
        lines = [" ".join(s.split("\n")) for _, _, s in mo_corpus.pairs([lang])]
        if not lines:
            sys.exit(f"hf_tokenizer_corpus.py: no .mo translations for {lang}")
        step = max(1, len(lines) // PER_LANG)
        for s in lines[::step][:PER_LANG]:
            out.write(json.dumps({"text": s}, ensure_ascii=False) + "\n")
            n += 1
    # a few raw translations with their newlines
    for _, _, s in list(mo_corpus.pairs(["de", "ru"]))[:400:20]:
        out.write(json.dumps({"text": s}, ensure_ascii=False) + "\n")
        n += 1
    for s in EDGE:
        out.write(json.dumps({"text": s}, ensure_ascii=False) + "\n")
        n += 1
    for h in INVALID_HEX:
        out.write(json.dumps({"hex": h}) + "\n")
        n += 1
    out.close()
    print(f"hf_tokenizer_corpus.py: {n} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
