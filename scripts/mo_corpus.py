#!/usr/bin/env python3
"""Real multilingual text from the gettext translations every Debian machine has
(/usr/share/locale/<lang>/LC_MESSAGES/*.mo): msgid (English) -> msgstr (translation).

  mo_corpus.py lines [--langs ar,de,...]            one translated string per line (newlines
                                                    folded to spaces), for tokenizer benchmarks
  mo_corpus.py jsonl --records N [--langs ...]      SFT-shaped JSONL records
        {"id", "prompt", "response", "language"}; cycles over the strings (with a counter
        suffix after the first pass) until N records are written
Output goes to stdout. Deterministic: files and entries are visited in sorted order.
"""
import argparse
import glob
import json
import os
import struct
import sys


def read_mo(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 28:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0x950412DE:
        end = "<"
    elif magic == 0xDE120495:
        end = ">"
    else:
        return []
    _, n, orig_off, trans_off = struct.unpack(end + "4I", data[4:20])
    out = []
    for i in range(n):
        ol, oo = struct.unpack(end + "2I", data[orig_off + 8 * i: orig_off + 8 * i + 8])
        tl, to = struct.unpack(end + "2I", data[trans_off + 8 * i: trans_off + 8 * i + 8])
        msgid = data[oo: oo + ol]
        msgstr = data[to: to + tl]
        if not msgid:  # header entry
            continue
        if b"\x04" in msgid:  # drop the context
            msgid = msgid.split(b"\x04", 1)[1]
        msgid = msgid.split(b"\x00")[0]
        msgstr = msgstr.split(b"\x00")[0]
        try:
            out.append((msgid.decode("utf-8"), msgstr.decode("utf-8")))
        except UnicodeDecodeError:
            continue
    return out


def pairs(langs):
    for lang in langs:
        for path in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
            for msgid, msgstr in read_mo(path):
                if msgstr.strip() and msgid.strip():
                    yield lang, msgid, msgstr


def available_langs():
    return sorted(os.path.basename(os.path.dirname(p))
                  for p in glob.glob("/usr/share/locale/*/LC_MESSAGES"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["lines", "jsonl"])
    ap.add_argument("--langs", default="")
    ap.add_argument("--records", type=int, default=100000)
    a = ap.parse_args()
    langs = a.langs.split(",") if a.langs else available_langs()
    out = sys.stdout
    if a.mode == "lines":
        for _, _, s in pairs(langs):
            out.write(" ".join(s.split("\n")) + "\n")
        return
    items = list(pairs(langs))
    if not items:
        sys.exit("mo_corpus.py: no .mo translations found for " + ",".join(langs))
    written, rnd = 0, 0
    while written < a.records:
        for lang, msgid, msgstr in items:
            if written >= a.records:
                break
            suffix = "" if rnd == 0 else f" ({rnd})"
            out.write(json.dumps({"id": f"r{written}", "prompt": msgid + suffix,
                                  "response": msgstr + suffix, "language": lang},
                                 ensure_ascii=False) + "\n")
            written += 1
        rnd += 1


if __name__ == "__main__":
    main()
