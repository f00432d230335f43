#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Golden numbers for the analysis tests, computed with scikit-learn / scipy.

Writes (deterministically, from fixed seeds) under tests/data/analysis/:
  pca_full.csv, pca_rank_deficient.csv, pca_constant.csv   test tables (teacher × language rows)
  golden/pca_*.json        StandardScaler + PCA + the four regressions, in-sample and LOO
  golden/spearman.json     scipy.stats.spearmanr (+ exact permutation p for n <= 10)
  golden/zscore.json       the reference's z-score of the example reports
  reports/*.json           example intrinsic reports (ours and the reference's layout)

Run from the project root with Debian's interpreter (python3-sklearn, python3-scipy):
    /usr/bin/python3 tests/oracles/analysis_oracle.py
The tests compare against the committed outputs, so CI never needs this script.

Conventions mirrored from polyglot (docs/analysis.md):
  * PCA sign: each component is flipped so its largest |loading| is positive (sklearn >= 1.5's
    svd_flip(u_based_decision=False); this Debian sklearn 1.2 flips by U, so we flip here).
  * Components past the numerical rank (numpy.linalg.matrix_rank's tolerance on the standardized
    data) are left out of the regressions: PCA(n_components=rank).
"""
import json
import os
import sys

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.linear_model import Lasso, LinearRegression, Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import LeaveOneOut, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "analysis")
GOLD = os.path.join(ROOT, "golden")
FEATURES = ["prompts_distinct_ri", "responses_distinct_ri", "average_perplexity",
            "average_rubric_score", "prompts_average_length", "responses_average_length"]
TEACHERS = ["gemma-3-27b-it", "aya-expanse-32b", "gemma-3-12b-it", "cohere-command-a",
            "gemma-3-4b-it", "gpt-4o-mini", "granite-4.0-1b", "granite-4.0-micro",
            "Llama-3.1-70B", "Llama-3.1-8B"]
LANGS = ["ar", "cs", "de", "es", "id", "ja"]


def make_table(rng, n_teachers, langs):
    rows = []
    for t in TEACHERS[:n_teachers]:
        q = rng.normal()  # teacher quality
        for lang in langs:
            l = rng.normal(scale=0.5)
            pdr = 0.55 + 0.05 * q + 0.03 * rng.normal()
            rdr = 0.45 + 0.06 * q + 0.02 * l + 0.03 * rng.normal()
            ppl = float(np.exp(1.6 - 0.3 * q + 0.4 * l + 0.2 * rng.normal()))
            rub = float(np.clip(3.6 + 0.5 * q - 0.2 * l + 0.3 * rng.normal(), 1, 5))
            plen = 120 + 25 * rng.normal() + 10 * l
            rlen = 480 + 90 * q + 60 * rng.normal()
            result = 0.40 + 0.02 * q + 0.01 * rng.normal() + 0.005 * l
            pg_like = 0.6 * q + 0.5 * rng.normal() + 0.3 * l  # PG-Score-like spread (SD ~ 0.8)
            rows.append(dict(teacher_model=t, target_lang=lang, prompts_distinct_ri=pdr,
                             responses_distinct_ri=rdr, average_perplexity=ppl,
                             average_rubric_score=rub, prompts_average_length=plen,
                             responses_average_length=rlen, result=result, pg_like=pg_like))
    return rows


def write_csv(path, rows):
    cols = list(rows[0].keys())
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for r in rows:
            f.write(",".join(r[c] if isinstance(r[c], str) else repr(float(r[c])) for c in cols) + "\n")


def flip(components):
    idx = np.argmax(np.abs(components), axis=1)
    return np.sign(components[np.arange(components.shape[0]), idx])


def pca_case(rows, target="result"):
    X = np.array([[r[f] for f in FEATURES] for r in rows], dtype=float)
    y = np.array([r[target] for r in rows], dtype=float)
    scaler = StandardScaler().fit(X)
    Xs = scaler.transform(X)
    rank = int(np.linalg.matrix_rank(Xs))
    full = PCA().fit(Xs)
    pca = PCA(n_components=rank).fit(Xs)
    signs = flip(pca.components_)
    comps = pca.components_ * signs[:, None]
    Z = pca.transform(Xs) * signs[None, :]
    models = {
        "linear": (lambda: LinearRegression(), False),
        "ridge": (lambda: Ridge(alpha=1.0), False),
        "lasso": (lambda: Lasso(alpha=0.1), False),
        "quadratic": (lambda: LinearRegression(), True),
    }
    out = dict(n=len(rows), rank=rank, feature_names=FEATURES,
               scaler_mean=scaler.mean_.tolist(), scaler_scale=scaler.scale_.tolist(),
               standardized=Xs.tolist(),
               explained_variance_ratio=full.explained_variance_ratio_.tolist(),
               components=comps.tolist(), scores=Z.tolist(), models={})
    for name, (make, quad) in models.items():
        D = PolynomialFeatures(2, include_bias=False).fit_transform(Z) if quad else Z
        m = make().fit(D, y)
        pred = m.predict(D)
        steps = [StandardScaler(), PCA(n_components=rank)]
        if quad:
            steps.append(PolynomialFeatures(2, include_bias=False))
        steps.append(make())
        loo = cross_val_predict(make_pipeline(*steps), X, y, cv=LeaveOneOut())
        out["models"][name] = dict(
            coefficients=np.asarray(m.coef_).tolist(), intercept=float(m.intercept_),
            r2=float(r2_score(y, pred)), rmse=float(np.sqrt(mean_squared_error(y, pred))),
            fitted=pred.tolist(), loo=loo.tolist(), loo_r2=float(r2_score(y, loo)),
            loo_rmse=float(np.sqrt(mean_squared_error(y, loo))))
    return out


def spearman_case(name, x, y):
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    res = stats.spearmanr(x, y)
    case = dict(name=name, x=x.tolist(), y=y.tolist(), rho=float(res.correlation),
                p=float(res.pvalue), ranks_x=stats.rankdata(x).tolist())
    if len(x) <= 10:
        rx, ry = stats.rankdata(x), stats.rankdata(y)

        def stat(a, axis=-1):
            a = a - a.mean(axis=axis, keepdims=True)
            b = ry - ry.mean()
            return (a * b).sum(axis=axis) / np.sqrt((a * a).sum(axis=axis) * (b * b).sum())

        pt = stats.permutation_test((rx,), stat, permutation_type="pairings", vectorized=True,
                                    n_resamples=np.inf, alternative="two-sided")
        case["p_exact"] = float(pt.pvalue)
    return case


def teacher_means(path, langs):
    acc = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                if r["target_lang"] in langs:
                    acc.setdefault(r["teacher_model"], []).append(r["pg_score"])
    return {t: float(np.mean(v)) for t, v in acc.items()}


def reports(rng):
    """Example reports: reference layout (file name gives teacher/lang) and ours (metadata)."""
    os.makedirs(os.path.join(ROOT, "reports"), exist_ok=True)
    made = []
    for i, (org, model) in enumerate([("google", "gemma-3-27b-it"), ("CohereLabs", "aya-expanse-32b"),
                                      ("ibm-granite", "granite-4.0-1b")]):
        for lang in ["de", "ja"]:
            vals = dict(prompts_distinct_ri=0.5 + 0.05 * rng.normal(),
                        responses_distinct_ri=0.4 + 0.05 * rng.normal(),
                        average_perplexity=float(np.exp(1.5 + 0.4 * rng.normal())),
                        average_rubric_score=3.5 + 0.6 * rng.normal(),
                        prompts_average_length=100 + 20 * rng.normal(),
                        responses_average_length=400 + 80 * rng.normal())
            if i < 2:  # reference layout
                doc = {"metadata": {"input_dataset": f"ljvmiranda921/msde-S1-{lang}",
                                    "num_samples": 10000, "filter": {"model": f"{org}/{model}"}},
                       "distinct_ri": {"prompts_distinct_ri": vals["prompts_distinct_ri"],
                                       "responses_distinct_ri": vals["responses_distinct_ri"],
                                       "metadata": {"embedding_model": "nvidia/llama-embed-nemotron-8b"}},
                       "perplexity": {"average_perplexity": vals["average_perplexity"],
                                      "per_instance_perplexity": [{"instruction": "a", "response": "b", "perplexity": 3.0}],
                                      "metadata": {"base_model": "google/gemma-3-4b-pt", "batch_size": 8}},
                       "reward_model": {"average_rubric_score": vals["average_rubric_score"],
                                        "per_instance_rubric_scores": [],
                                        "metadata": {"language": lang}},
                       "length": {"prompts_average_length": vals["prompts_average_length"],
                                  "responses_average_length": vals["responses_average_length"],
                                  "metadata": {"tokenizer": "allenai/Olmo-3-1025-7B"}}}
                fname = f"msde-S1-{lang}_{org}__{model}_intrinsic_metrics.json"
            else:  # ours (product.md §3)
                doc = {"length": {"prompts_average_length": vals["prompts_average_length"],
                                  "responses_average_length": vals["responses_average_length"]},
                       "lexical": {"prompts_distinct_1": 0.3, "responses_distinct_1": 0.2},
                       "language": {"responses_target_lang_rate": 0.97},
                       "distinct_ri": {"prompts_distinct_ri": vals["prompts_distinct_ri"],
                                       "responses_distinct_ri": vals["responses_distinct_ri"]},
                       "perplexity": {"average_perplexity": vals["average_perplexity"],
                                      "corpus_perplexity": 4.0},
                       "reward_model": {"average_rubric_score": vals["average_rubric_score"]},
                       "metadata": {"teacher": model, "target_lang": lang,
                                    "input": [f"{model}_{lang}.jsonl"], "num_samples": 200}}
                fname = f"ours_{model}_{lang}.json"
            with open(os.path.join(ROOT, "reports", fname), "w") as f:
                json.dump(doc, f, indent=1)
            made.append(dict(file=fname, teacher=model, lang=lang, **vals))
    X = np.array([[m["prompts_distinct_ri"], m["responses_distinct_ri"], m["average_rubric_score"],
                   -np.log1p(m["average_perplexity"])] for m in made])
    z_global = StandardScaler().fit_transform(X).mean(axis=1)
    z_lang = np.zeros(len(made))
    for lang in ["de", "ja"]:
        idx = [i for i, m in enumerate(made) if m["lang"] == lang]
        z_lang[idx] = StandardScaler().fit_transform(X[idx]).mean(axis=1)
    w = np.array([1.0, 1.0, 2.0, 2.0]) / 6.0
    z_weighted = StandardScaler().fit_transform(X) @ w
    # a fixed pool: fit on the first 4 reports, apply to all
    sc = StandardScaler().fit(X[:4])
    z_fixed = sc.transform(X).mean(axis=1)
    return dict(reports=made, z_global=z_global.tolist(), z_per_language=z_lang.tolist(),
                z_weighted_1_1_2_2=z_weighted.tolist(), z_pool_first4=z_fixed.tolist())


def main():
    os.makedirs(GOLD, exist_ok=True)
    rng = np.random.default_rng(20260423)
    full = make_table(rng, 10, LANGS)
    write_csv(os.path.join(ROOT, "pca_full.csv"), full)
    deficient = make_table(rng, 4, ["ar", "de", "es", "ja", "id"])
    for r in deficient:  # exact linear dependency → rank 5
        r["responses_average_length"] = 2.0 * r["prompts_average_length"] + 3.0
    write_csv(os.path.join(ROOT, "pca_rank_deficient.csv"), deficient)
    constant = make_table(rng, 5, ["ar", "de", "ja"])
    for r in constant:
        r["average_rubric_score"] = 4.0
    write_csv(os.path.join(ROOT, "pca_constant.csv"), constant)
    meta = dict(sklearn=sklearn.__version__, scipy=scipy.__version__, numpy=np.__version__,
                python=sys.version.split()[0])
    for name, rows, target in [("full", full, "result"), ("full_pg", full, "pg_like"),
                               ("rank_deficient", deficient, "pg_like"),
                               ("constant", constant, "pg_like")]:
        case = pca_case(rows, target)
        case["versions"] = meta
        case["target"] = target
        with open(os.path.join(GOLD, f"pca_{name}.json"), "w") as f:
            json.dump(case, f, indent=1)
    # lasso on correlated (non-orthogonal) columns: exercises several coordinate-descent passes
    X = StandardScaler().fit_transform(np.array([[r[f] for f in FEATURES] for r in full]))
    y = np.array([r["pg_like"] for r in full])
    lasso = []
    for alpha in [0.005, 0.05, 0.2]:
        m = Lasso(alpha=alpha).fit(X, y)
        lasso.append(dict(alpha=alpha, coefficients=m.coef_.tolist(), intercept=float(m.intercept_),
                          n_iter=int(m.n_iter_), dual_gap=float(m.dual_gap_)))
    with open(os.path.join(GOLD, "lasso_direct.json"), "w") as f:
        json.dump(dict(versions=meta, X=X.tolist(), y=y.tolist(), fits=lasso), f, indent=1)

    ref = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "reference")
    cases = []
    langs = ["ar", "id", "de"]
    fams = {"olmo3": "pg_scores_base_olmo3.jsonl", "gemma3-4b": "pg_scores_base_gemma3-4b.jsonl",
            "qwen3-8b": "pg_scores_base_qwen3-8b.jsonl", "llama3-8b": "pg_scores_base_llama3-8b.jsonl"}
    if os.path.isdir(ref):
        means = {k: teacher_means(os.path.join(ref, v), langs) for k, v in fams.items()}
        keys = list(fams)
        for i in range(len(keys)):
            for j in range(i + 1, len(keys)):
                a, b = means[keys[i]], means[keys[j]]
                common = sorted(set(a) & set(b))
                cases.append(spearman_case(f"{keys[i]}|{keys[j]}", [a[t] for t in common],
                                           [b[t] for t in common]))
    r2 = np.random.default_rng(7)
    cases.append(spearman_case("ties_n7", [1, 2, 2, 3, 5, 5, 5], [3, 1, 4, 1, 5, 9, 2]))
    cases.append(spearman_case("random_n10", r2.normal(size=10), r2.normal(size=10)))
    cases.append(spearman_case("random_n12", r2.normal(size=12), r2.normal(size=12)))
    cases.append(spearman_case("perfect_n5", [1, 2, 3, 4, 5], [2, 4, 6, 8, 10]))
    cases.append(spearman_case("negative_n8", [8, 7, 6, 5, 4, 3, 1, 2], [1, 2, 3, 4, 5, 6, 7, 8]))
    cases.append(spearman_case("ties_both_n6", [1, 1, 2, 2, 3, 3], [1, 2, 1, 2, 3, 3]))
    x40 = r2.normal(size=40)
    cases.append(spearman_case("corr_n40", x40, x40 + r2.normal(size=40)))
    with open(os.path.join(GOLD, "spearman.json"), "w") as f:
        json.dump(dict(versions=meta, cases=cases), f, indent=1)

    z = reports(np.random.default_rng(11))
    z["versions"] = meta
    with open(os.path.join(GOLD, "zscore.json"), "w") as f:
        json.dump(z, f, indent=1)


if __name__ == "__main__":
    main()
