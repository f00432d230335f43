#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Goldens of the `polyglot eval` tests, written from lighteval's documented rules.

Independent of the C++ code: the rules below are transcribed from lighteval's own files
(huggingface/lighteval, read at 3fd15266; the paper's fork ljvmiranda921/lighteval for the
M-RewardBench weighted accuracy; the paper's scripts/lighteval_tasks.py for the task prompts):

  * tasks/templates/multichoice.py          MULTI_CHOICE_QA_QUERY, get_mcq_prompt_function
  * tasks/templates/utils/formulation.py    build_choices / build_answers (MCF, Letters)
  * tasks/templates/utils/formatting_utils  capitalize, fix_ending_punct
  * tasks/templates/utils/translation_literals.py   read here, with `ast`, from lighteval's file
  * tasks/prompt_manager.py                 plain-text few-shot joining ("\n\n", query + " " + gold)
  * models/abstract_model.py::tok_encode_pair   trailing whitespace moved to the continuation
  * metrics/metrics_sample.py::LoglikelihoodAcc, metrics/normalizations.py   acc, acc_norm, acc_norm_token
  * metrics/utils/stderr.py::mean_stderr    sample SD (ddof 1) / sqrt(n)
  * logging/info_loggers.py::MetricsLogger.aggregate   "task:_average|k" groups and "all"
  * fork metrics_corpus.py::MRewardBenchWeightedAccuracy   weighted_acc (EXAMPLE_COUNTS, 4 categories)
  * metrics/utils/stderr.py::bootstrap_stderr   1000 resamples random.Random(0).choices(pop, k=n);
    polyglot reports their sample SD (the bootstrap standard error); lighteval further divides
    it by sqrt(1000) (docs/eval.md says why we do not).

polyglot's own rules that are not lighteval's (docs/eval.md), mirrored here:
  * mrewardbench_mcf orders chosen/rejected by a per-row seeded coin instead of an unseeded
    random.shuffle: x = splitmix64(fnv1a64(f"{seed}\\x1f{prompt}\\x1f{chosen}\\x1f{rejected}")),
    chosen is choice A iff x >> 63 == 0.
  * The fake language model of the unit tests: tokens = [1] (BOS, with specials) +
    [3 + byte for each UTF-8 byte]; log p(ids[p] | ids[:p]) = float32(-(h % 100003) / 10000 - 0.001)
    with h = fnv1a64 over ids[0..p] (each as 4 little-endian bytes).

Writes tests/data/eval/golden/{literals,templates,metrics,fake_model}.json. Run from the project
root (needs lighteval's translation_literals.py, e.g. from a git checkout):
    git -C LIGHTEVAL show HEAD:src/lighteval/tasks/templates/utils/translation_literals.py > /tmp/tl.py
    /usr/bin/python3 tests/oracles/eval_oracle.py /tmp/tl.py
The tests compare against the committed outputs, so CI never needs this script.
"""
import ast
import csv
import json
import math
import os
import random
import string
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "eval")
GOLD = os.path.join(DATA, "golden")

LANGUAGE_NAMES = {
    "ar": "ARABIC", "cs": "CZECH", "de": "GERMAN", "es": "SPANISH", "id": "INDONESIAN",
    "ja": "JAPANESE", "en": "ENGLISH", "tl": "TAGALOG", "fr": "FRENCH", "it": "ITALIAN",
    "pt": "PORTUGUESE", "ru": "RUSSIAN", "zh": "CHINESE", "th": "THAI", "sw": "SWAHILI",
    "bn": "BENGALI", "te": "TELUGU", "hi": "HINDI", "tr": "TURKISH", "vi": "VIETNAMESE",
    "nl": "DUTCH", "pl": "POLISH", "uk": "UKRAINIAN",
}
DEFAULTS = {"full_stop": ".", "comma": ",", "question_mark": "?", "exclamation_mark": "!",
            "word_space": " ", "sentence_space": " ", "colon": ":", "semicolon": ";"}
FIELDS = ["question_word", "answer"] + list(DEFAULTS)

# The paper's scripts/lighteval_tasks.py
MGSM_INSTRUCTIONS = {
    "en": "Answer with only the number.", "de": "Antworte nur mit der Zahl.",
    "es": "Responde solo con el número.", "ja": "数字のみで答えてください。",
    "ar": "أجب بالرقم فقط.", "id": "Jawab hanya dengan angka.",
}
MRB_PROMPT = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the user question displayed below. "
    "The question provided is in {src_lang}. "
    "You should choose the assistant that follows the user's instructions and answers the user's question better. "
    "Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of their responses. "
    "Also, make sure that the assistant responses are in {tgt_lang}. "
    "Begin your evaluation by comparing the two responses. "
    "Avoid any position biases and ensure that the order in which the responses were presented does not influence your decision. "
    "Do not allow the length of the responses to influence your evaluation. "
    "Do not favor certain names of the assistants. "
    "Be as objective as possible. "
    "After providing your explanation, output your final verdict by strictly following this format: "
    '"A" if assistant A is better, "B" if assistant B is better.'
    "Don't put any quotation marks around your final verdict. "
    "Here is the user question: {question} "
)
SUBSET_MAPPING = {
    "Chat": ["alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy",
             "mt-bench-med"],
    "Chat Hard": ["mt-bench-hard", "llmbar-natural", "llmbar-adver-neighbor",
                  "llmbar-adver-GPTInst", "llmbar-adver-GPTOut", "llmbar-adver-manual"],
    "Safety": ["refusals-dangerous", "refusals-offensive", "xstest-should-refuse",
               "xstest-should-respond", "donotanswer"],
    "Reasoning": ["math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python",
                  "hep-rust"],
}
EXAMPLE_COUNTS = {
    "alpacaeval-easy": 79, "alpacaeval-length": 79, "alpacaeval-hard": 76, "mt-bench-easy": 24,
    "mt-bench-med": 38, "mt-bench-hard": 35, "math-prm": 983, "refusals-dangerous": 100,
    "refusals-offensive": 100, "llmbar-natural": 76, "llmbar-adver-neighbor": 124,
    "llmbar-adver-GPTInst": 87, "llmbar-adver-GPTOut": 42, "llmbar-adver-manual": 43,
    "xstest-should-refuse": 154, "xstest-should-respond": 247, "donotanswer": 135,
    "hep-cpp": 164, "hep-go": 164, "hep-java": 164, "hep-js": 164, "hep-python": 163,
    "hep-rust": 164,
}
CATEGORY_KEYS = {"Chat": "chat", "Chat Hard": "chat_hard", "Safety": "safety",
                 "Reasoning": "reasoning"}
M64 = (1 << 64) - 1


# ---------------------------------------------------------------- literals (lighteval's file)

def read_literals(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    table = None
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "TRANSLATION_LITERALS":
            table = node.value
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "TRANSLATION_LITERALS"
                                                  for t in node.targets):
            table = node.value
    assert isinstance(table, ast.Dict), "TRANSLATION_LITERALS not found"
    out = {}
    wanted = {v: k for k, v in LANGUAGE_NAMES.items()}
    for key, call in zip(table.keys, table.values):
        name = key.attr
        if name not in wanted:
            continue
        lit = dict(DEFAULTS)
        for kw in call.keywords:
            if kw.arg in FIELDS:
                lit[kw.arg] = ast.literal_eval(kw.value)
        out[wanted[name]] = lit
    missing = set(LANGUAGE_NAMES) - set(out)
    assert not missing, f"languages missing from {path}: {missing}"
    return out


# ---------------------------------------------------------------- lighteval's template rules

def capitalize(word):
    return word if len(word) == 0 else word[0].upper() + word[1:]


def fix_ending_punct(ctx, lit):
    ctx = ctx.rstrip()
    if len(ctx) == 0:
        return ctx
    if ctx.endswith("?"):
        ctx = ctx[:-1] + lit["question_mark"]
    elif ctx.endswith("."):
        ctx = ctx[:-1] + lit["full_stop"]
    elif ctx.endswith(","):
        ctx = ctx[:-1] + lit["comma"]
    elif ctx.endswith(":"):
        ctx = ctx[:-1] + lit["colon"]
    return ctx


def mcf_prompt(lit, question, choices, instruction=None, context=None):
    """get_mcq_prompt_function(language, adapter, MCFFormulation()) -> (query, choices)."""
    instruction = f"{instruction}\n" if instruction else ""
    context = f"{capitalize(fix_ending_punct(context, lit))}\n" if context else ""
    question = capitalize(fix_ending_punct(question, lit))
    answers = [capitalize(fix_ending_punct(str(a), lit)) for a in choices]
    space = lit["sentence_space"]
    letters = string.ascii_uppercase
    options = "\n".join(f"{space}{letters[i]}{lit['full_stop']}{space}{c}"
                        for i, c in enumerate(answers))
    options = f"{options}\n" if options else ""
    conts = [f"{space}{letters[i]}" for i in range(len(answers))]
    query = (f"{instruction}{context}{capitalize(lit['question_word'])}{lit['colon']}{space}"
             f"{question}\n{options}{capitalize(lit['answer'])}{lit['colon']}")
    return query, conts


def plain_text_prompt(query, fewshots):
    """PromptManager._prepare_plain_text without system prompt or instruction."""
    parts = [q + " " + gold.strip() for q, gold in fewshots]
    parts.append(query)
    return "\n\n".join(parts)


def encode_pair_text(context, continuations):
    """tok_encode_pair's whitespace move (the string part)."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuations = [context[-n_spaces:] + c for c in continuations]
        context = context[:-n_spaces]
    return context, continuations


# ---------------------------------------------------------------- polyglot's seeded order

def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def chosen_first(seed, prompt, chosen, rejected):
    key = f"{seed}\x1f{prompt}\x1f{chosen}\x1f{rejected}".encode("utf-8")
    return (splitmix64(fnv1a64(key)) >> 63) == 0


# ---------------------------------------------------------------- data

def read_rows(path):
    if path.endswith(".csv"):
        with open(path, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def data_file(task, lang, split="test"):
    for ext in ("jsonl", "csv"):
        p = os.path.join(DATA, task, lang, f"{split}.{ext}")
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{task}/{lang}/{split}")


def number_text(v):
    # str() of the dataset's answer_number (int in the HF export; JSON may give a float)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def mmlu_items(lits, lang):
    items = []
    for i, row in enumerate(read_rows(data_file("global_mmlu_lite", lang))):
        q, conts = mcf_prompt(lits[lang], row["question"],
                              [row["option_a"], row["option_b"], row["option_c"], row["option_d"]])
        items.append({"line": i + 2 if data_file("global_mmlu_lite", lang).endswith(".csv") else i + 1,
                      "context": q, "choices": conts,
                      "gold": [string.ascii_uppercase.index(row["answer"])]})
    return items


def mrb_items(lits, lang, seed):
    items = []
    for i, row in enumerate(read_rows(data_file("mrewardbench", lang))):
        first = chosen_first(seed, row["prompt"], row["chosen"], row["rejected"])
        choices = [row["chosen"], row["rejected"]] if first else [row["rejected"], row["chosen"]]
        question = MRB_PROMPT.format(src_lang=row["language"], tgt_lang=row["language"],
                                     question=row["prompt"])
        q, conts = mcf_prompt(lits[lang], question, choices)
        items.append({"line": i + 1, "context": q, "choices": conts, "gold": [0 if first else 1],
                      "source": row["source"]})
    return items


def mgsm_query(row, lang):
    inst = MGSM_INSTRUCTIONS.get(lang, MGSM_INSTRUCTIONS["en"])
    return f"{row['question']}\n\n{inst}\nAnswer:"


def mgsm_items(lang, shots):
    train = read_rows(data_file("mgsm", lang, "train"))
    # few_shots_select="sequential", seed 0: the first items of the train split
    fewshots = [(mgsm_query(r, lang), number_text(r["answer_number"])) for r in train[:shots]]
    items = []
    for i, row in enumerate(read_rows(data_file("mgsm", lang))):
        items.append({"line": i + 1,
                      "context": plain_text_prompt(mgsm_query(row, lang), fewshots),
                      "gold": number_text(row["answer_number"])})
    return items


def task_file_items():
    items = []
    for i, row in enumerate(read_rows(os.path.join(DATA, "task_file.jsonl"))):
        gold = row["gold"] if isinstance(row["gold"], list) else [row["gold"]]
        fs = []
        for ex in row.get("fewshot", []):
            g = ex["gold"] if isinstance(ex["gold"], list) else [ex["gold"]]
            fs.append((ex["query"], ex["choices"][g[0]]))
        items.append({"line": i + 1, "context": plain_text_prompt(row["query"], fs),
                      "choices": row["choices"], "gold": gold})
    return items


def with_split(items):
    """Adds tok_encode_pair's strings where they differ from the context and choices."""
    for it in items:
        if "choices" in it:
            ctx, conts = encode_pair_text(it["context"], it["choices"])
            if ctx != it["context"]:
                it["split_context"], it["continuations"] = ctx, conts
    return items


# ---------------------------------------------------------------- metrics

def argmax(xs):
    return int(np.argmax(xs))  # first maximum, as numpy


def mean_stderr(arr):
    mu = np.mean(arr)
    return math.sqrt(sum((x - mu) ** 2 for x in arr) / (len(arr) - 1)) / math.sqrt(len(arr))


def item_metrics(it):
    lp, nt, ch, gold = it["logprobs"], it["tokens"], it["choices"], it["gold"]
    return {
        "acc": int(argmax(lp) in gold),
        "acc_norm": int(argmax([lp[i] / len(ch[i]) for i in range(len(ch))]) in gold),
        "acc_norm_token": int(argmax([lp[i] / nt[i] for i in range(len(ch))]) in gold),
    }


def weighted(pairs):
    """MRewardBenchWeightedAccuracy.compute_corpus on (source, gold, pred) triples, and the
    per-category values (None where a category has no subset present)."""
    subset_items = {}
    for source, gold, pred in pairs:
        subset_items.setdefault(source, []).append((gold, pred))
    subset_acc = {s: sum(1 for g, p in v if g == p) / len(v) for s, v in subset_items.items()}
    cats = {}
    present = {}
    for cat, subsets in SUBSET_MAPPING.items():
        ws, tot = 0.0, 0
        for s in subsets:
            if s in subset_acc:
                c = EXAMPLE_COUNTS.get(s, 0)
                ws += subset_acc[s] * c
                tot += c
        cats[cat] = ws / tot if tot > 0 else 0.0
        present[cat] = tot > 0
    return sum(cats.values()) / len(cats), cats, present


def corpus_metrics(items, mrb):
    per = [item_metrics(it) for it in items]
    out = {}
    for m in ("acc", "acc_norm", "acc_norm_token"):
        vals = [p[m] for p in per]
        out[m] = float(np.mean(vals))
        if len(vals) > 1:
            out[m + "_stderr"] = mean_stderr(vals)
    if mrb:
        pop = [(it["source"], it["gold"][0], argmax(it["logprobs"])) for it in items]
        w, cats, present = weighted(pop)
        rnd = random.Random()
        rnd.seed(0)
        samples = [rnd.choices(pop, k=len(pop)) for _ in range(1000)]
        boots = [weighted(s) for s in samples]

        def sd(xs):
            mu = np.mean(xs)
            return math.sqrt(sum((x - mu) ** 2 for x in xs) / (len(xs) - 1))

        out["weighted_acc"] = w
        out["weighted_acc_stderr"] = sd([b[0] for b in boots])
        for cat, key in CATEGORY_KEYS.items():
            if present[cat]:
                out["weighted_acc_" + key] = cats[cat]
                out["weighted_acc_" + key + "_stderr"] = sd([b[1][cat] for b in boots])
    return per, out


def metric_cases():
    rng = np.random.default_rng(7)
    cases = []
    letters = [" A", " B", " C", " D"]
    # 4 choices, one gold, ties on purpose (rounded log-likelihoods), token counts 1..3
    items = []
    for i in range(57):
        lp = [float(np.round(-rng.gamma(2.0, 1.5), 1)) for _ in range(4)]
        items.append({"choices": [letters[j] + "x" * int(rng.integers(0, 3)) for j in range(4)],
                      "logprobs": lp, "tokens": [int(rng.integers(1, 4)) for _ in range(4)],
                      "gold": [int(rng.integers(0, 4))]})
    cases.append({"name": "four_choices_ties", "mrb": False, "items": items})
    # several golds, varying numbers of choices, unicode choice texts
    items = []
    for i in range(31):
        k = int(rng.integers(2, 6))
        items.append({"choices": [" " + "日本語テキスト"[: int(rng.integers(1, 7))] for _ in range(k)],
                      "logprobs": [float(-rng.exponential(3.0)) for _ in range(k)],
                      "tokens": [int(rng.integers(1, 9)) for _ in range(k)],
                      "gold": sorted(set(int(x) for x in rng.integers(0, k, size=2)))})
    cases.append({"name": "multi_gold", "mrb": False, "items": items})
    # M-RewardBench-like: every subset, an unknown one; two categories absent in the second case
    subsets = [s for v in SUBSET_MAPPING.values() for s in v] + ["unknown-subset"]
    for name, pool in (("mrb_all_subsets", subsets),
                       ("mrb_two_categories", SUBSET_MAPPING["Chat"] + SUBSET_MAPPING["Reasoning"])):
        items = []
        for i in range(240):
            items.append({"choices": [" A", " B"],
                          "logprobs": [float(-rng.exponential(2.0)) for _ in range(2)],
                          "tokens": [1, 1], "gold": [int(rng.integers(0, 2))],
                          "source": pool[int(rng.integers(0, len(pool)))]})
        cases.append({"name": name, "mrb": True, "items": items})
    for c in cases:
        per, out = corpus_metrics(c["items"], c["mrb"])
        for it, p in zip(c["items"], per):
            it["expected"] = p
        c["expected"] = out
    return cases


# ---------------------------------------------------------------- the fake language model

def fake_tokenize(text, add_special):
    return ([1] if add_special else []) + [3 + b for b in text.encode("utf-8")]


def fake_logprob(ids, p):
    data = b"".join(int(x).to_bytes(4, "little", signed=True) for x in ids[: p + 1])
    h = fnv1a64(data)
    return float(np.float32(-(h % 100003) / 10000.0 - 0.001))


def fake_item(context, choices):
    """tok_encode_pair (not pairwise) + summed continuation log-probs under the fake model."""
    ctx, conts = encode_pair_text(context, choices)
    ctx_enc = fake_tokenize(ctx, True)
    lps, ntok = [], []
    for c in conts:
        whole = fake_tokenize(ctx + c, True)
        n = len(ctx_enc)
        if n == len(whole):
            n -= 1
        lps.append(sum(fake_logprob(whole, p) for p in range(n, len(whole))))
        ntok.append(len(whole) - n)
    return lps, ntok


def aggregate_results(task_results):
    """MetricsLogger.aggregate's groups ("task:_average|k") and "all"."""
    out = dict(task_results)
    groups = {}
    suite = {}
    for k, metrics in task_results.items():
        task, fewshot = k.split("|")
        groups.setdefault(f"{task.split(':')[0]}:_average|{fewshot}", []).append(k)
        for m, v in metrics.items():
            suite.setdefault(m, []).append(v)
    for avg, subs in groups.items():
        if len(subs) > 1:
            out[avg] = {m: sum(task_results[s][m] for s in subs) / len(subs)
                        for m in task_results[subs[0]]}
    out["all"] = {m: sum(v) / len(v) for m, v in suite.items()}
    return out


def fake_model_results(lits, seed):
    results = {}
    details = {}
    tasks = [(f"global_mmlu_lite:{l}|0", mmlu_items(lits, l), False)
             for l in ("ar", "cs", "de", "es", "id", "ja", "en", "tl")]
    tasks += [(f"mrewardbench_mcf:{l}|0", mrb_items(lits, l, seed), True)
              for l in ("ar", "cs", "de", "es", "id", "ja")]
    for key, items, mrb in tasks:
        for it in items:
            it["logprobs"], it["tokens"] = fake_item(it["context"], it["choices"])
        per, out = corpus_metrics(items, mrb)
        if key.startswith("global_mmlu_lite"):
            out = {k: v for k, v in out.items() if k.split("_stderr")[0] == "acc"}
        if mrb:
            out = {k: v for k, v in out.items() if not k.startswith("acc_norm") or
                   k.startswith("acc_norm_token")}
        results[key] = out
        details[key] = [{"logprobs": it["logprobs"], "tokens": it["tokens"],
                         "prediction": argmax(it["logprobs"])} for it in items]
    return aggregate_results(results), details


# ---------------------------------------------------------------- numeric extractive match

def expr_regexes(lang, lits):
    """lighteval's lazy_expr_regex(ExprExtractionConfig(try_extract_without_anchor=True), lang)."""
    import re
    lit = lits[lang]
    number_re = (
        r"(?:"
        r"(?P<integer1>-?\d{1,3}(?:[ ,]\d{3})+)(?P<decimal1>\.\d+)?|"
        r"(?P<integer2>-?\d+)(?P<decimal2>[.,]\d+)|"
        r"(?P<decimal3>\.\d+)|"
        r"(?P<integer3>-?\d+)"
        r")(?P<percent>\s*(?:%|[Pp]ercent|\s*[Pp]ercentage|\s*[Pp]ct))?"
    )
    operators = [r"\+", r"\-", r"\*", r"\×", r"\/", r"\^", r"\(", r"\)", r"\÷"]
    operators_re = "".join(operators)
    all_expr_chars = r"[\d\.\s" + operators_re + r"]"
    expr_re = rf"(?P<expr>-?\(?-?\d{all_expr_chars}*[{operators_re}]{all_expr_chars}+\)?)"
    full_stop_re = rf"[{re.escape(lit['full_stop'])}\.]"
    comma_re = rf"[{re.escape(lit['comma'])}\,]"
    colon_re = rf"[{re.escape(lit['colon'])}\:]"
    space_re = rf"(?:\s|{re.escape(lit['sentence_space'])})"
    currency_units = re.escape("$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₴₵₶₷₸₹₺₻₼₽₾₿")
    expr_prefix_re = rf"(?:^|{space_re}|\=)(?:\*\*)?"
    expr_suffix_re = rf"(?:\*\*)?(?:{full_stop_re}|{comma_re}|\s?{colon_re}|{space_re}|\)|\$|$)"
    expr_with_anchors = rf"(?:{expr_prefix_re}{expr_re}{expr_suffix_re})"
    number_with_anchors = rf"(?:{expr_prefix_re}[{currency_units}]?{number_re})"
    expr_or_number = rf"(?:{expr_with_anchors}|{number_with_anchors})"
    regexes = []
    if lang == "en":
        regexes.append((rf"(?i:final answer is)\:?\s*{expr_or_number}\.?\s?I hope", 0))
        regexes.append((rf"(?i:final answer.{{0,100}}?)\s+is\:?{expr_or_number}", 50))
    answer_prefix_re = rf"(?i:{lit['answer']})"
    regexes.append((rf"{answer_prefix_re}\s?{colon_re}(?:.{{0,100}}=\s*|.{{0,50}}?){expr_or_number}(?!\s*=)", 100))
    regexes.append((rf"{answer_prefix_re}(?:.{{0,100}}=\s*|.{{0,50}}?){expr_or_number}(?!\s*=)", 200))
    regexes.append((expr_with_anchors, 300))
    regexes.append((number_with_anchors, 300))
    return [(re.compile(p), prio) for p, prio in regexes]


def extract_expr(match):
    """extract_expr without sympy: numbers as lighteval normalises them; expressions evaluated
    with Python's arithmetic on the same characters sympy's parse_expr accepts."""
    groups = match.groupdict()
    expr = groups.get("expr", "")
    integer = next((v for n, v in groups.items() if n.startswith("integer") and v), "")
    decimal = next((v for n, v in groups.items() if n.startswith("decimal") and v), "")
    pct = bool(groups.get("percent", None))
    if integer or decimal:
        integer = integer.translate(str.maketrans("", "", ", ")).lstrip("0") or "0"
        decimal = decimal.replace(",", ".")
        text = f"{integer}{decimal}"
        value = float(text)
        inexact = bool(decimal)
        if pct:
            value, inexact = value / 100, True
        return {"found": True, "value": value, "inexact": inexact, "text": text}
    if expr:
        e = expr.replace("\n", " ").replace("^", "**")
        ok = all(c in "0123456789.+-*/() \t\r" for c in e)
        try:
            value = float(eval(e, {"__builtins__": {}})) if ok else None
        except Exception:
            value = None
        if value is not None and math.isfinite(value):
            return {"found": True, "value": value, "inexact": False, "text": expr}
    return {"found": False, "value": 0.0, "inexact": False, "text": expr}


def extract_first_match(pred, regexes):
    """extract_target_from_pred(..., extraction_mode="first_match"): the first priority with
    any match; in it the match ending last (then starting first), and only it."""
    from itertools import groupby
    for _, group in groupby(sorted(regexes, key=lambda x: x[1]), key=lambda x: x[1]):
        matches = [(m, m.start(), m.end()) for p, _ in group for m in p.finditer(pred)]
        if matches:
            m = sorted(matches, key=lambda x: (x[2], -x[1]), reverse=True)[0][0]
            return extract_expr(m)
    return {"found": False, "value": 0.0, "inexact": False, "text": ""}


EXTRACTION_CASES = {
    "en": [" 42", " 1,234", " 1 234 567", " 12.5", "12,5", " .5", " -7", " $100", " 25%",
           " 50 percent", " 3 + 4", " 27 + 108 = 135", "The answer is 18.", "Answer: 12",
           "answer: x = 19", "So the final answer is 7. I hope it is correct", "final answer: it is 3",
           " 2^3", " 10 / 4", " 27 × 4", " (3 + 4) * 2", " nothing here", "", " 0012",
           " 1,2345", " 42 = 6 * 7", "Answer 5, not 6", " 3.14.15", " 4 - 1)", "$5.50 each"],
    "de": [" 42", "Antwort: 17", " Die Antwort ist 1.234", " 12,5 Euro", " 3 + 4 = 7", "antwort 9"],
    "es": [" 42", "Respuesta: 8", " 1.500,5", " cien"],
    "ja": ["42", "答えは42です", "回答：135", " 12。", "３４"],
    "ar": [" 42", "إجابة: 7", " ٤٢"],
}


def extraction_golden(lits):
    out = []
    for lang, cases in EXTRACTION_CASES.items():
        regexes = expr_regexes(lang, lits)
        for c in cases:
            out.append({"lang": lang, "text": c, "expected": extract_first_match(c, regexes)})
    return out


# ---------------------------------------------------------------- python random

def python_random_golden():
    rnd = random.Random()
    rnd.seed(0)
    first = [rnd.random() for _ in range(5)]
    rnd.seed(0)
    picks = [int(x) for x in rnd.choices(range(37), k=12)]
    rnd.seed(12345)
    big = [rnd.random() for _ in range(3)]
    return {"seed0_random": first, "seed0_choices37": picks, "seed12345_random": big}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lits = read_literals(sys.argv[1])
    os.makedirs(GOLD, exist_ok=True)
    with open(os.path.join(GOLD, "literals.json"), "w", encoding="utf-8") as f:
        json.dump(lits, f, ensure_ascii=False, indent=1, sort_keys=True)
    seed = 1234
    tasks = {}
    for l in ("ar", "cs", "de", "es", "id", "ja", "en", "tl"):
        tasks[f"global_mmlu_lite:{l}|0"] = with_split(mmlu_items(lits, l))
    for l in ("ar", "cs", "de", "es", "id", "ja"):
        tasks[f"mrewardbench_mcf:{l}|0"] = with_split(mrb_items(lits, l, seed))
    for l in ("de", "es", "ja", "en"):
        tasks[f"mgsm:{l}|5"] = mgsm_items(l, 5)
    tasks["task_file"] = with_split(task_file_items())
    with open(os.path.join(GOLD, "templates.json"), "w", encoding="utf-8") as f:
        json.dump({"seed": seed, "tasks": tasks}, f, ensure_ascii=False, indent=1)
    with open(os.path.join(GOLD, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": metric_cases(), "python_random": python_random_golden(),
                   "extraction": extraction_golden(lits)}, f, ensure_ascii=False, indent=1)
    res, det = fake_model_results(lits, seed)
    with open(os.path.join(GOLD, "fake_model.json"), "w", encoding="utf-8") as f:
        json.dump({"seed": seed, "results": res, "details": det}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
