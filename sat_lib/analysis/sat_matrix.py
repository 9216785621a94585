"""Analyses of a SAT matrix: ordering, spectral clusters, t-SNE, TF-IDF keywords, paper-vs-ours summaries."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import xarray as xr
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform
from scipy.stats import spearmanr
from sklearn.cluster import SpectralClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.manifold import TSNE

from sat_lib.analysis import sat_matrix_checks
from sat_lib.claims import scored_claims
from sat_lib.claims.verdict import Gate, chance_gate, claim_row, decisive_format
from sat_lib.stats import Estimate, bootstrap, interval, pairs_bootstrap


def symmetric(sat: xr.DataArray) -> np.ndarray:
    """(S + Sᵀ)/2 with NaN (pairs without common correct images) replaced by the matrix minimum."""
    a = np.asarray(sat, dtype=float)
    a = (a + a.T) / 2
    return np.where(np.isfinite(a), a, np.nanmin(a) if np.isfinite(a).any() else 0.0)


def distance(sat: xr.DataArray) -> np.ndarray:
    """A dissimilarity with a zero diagonal: max(SAT) − SAT, symmetrised."""
    s = symmetric(sat)
    d = s.max() - s
    np.fill_diagonal(d, 0.0)
    return np.clip(d, 0, None)


def hierarchical_order(sat: xr.DataArray) -> list[str]:
    """Model names in the leaf order of an average-linkage tree on ``distance`` (for heatmaps)."""
    names = list(sat["model"].values)
    if len(names) < 3:
        return names
    z = linkage(squareform(distance(sat), checks=False), method="average")
    return [names[i] for i in leaves_list(z)]


def spectral_clusters(sat: xr.DataArray, n_clusters: int = 10, seed: int = 0) -> pd.Series:
    """Spectral clustering as the paper's appendix B: normalised Laplacian of the similarity graph, K-means
    restarted 100 times. The graph's edge weights are max(SAT, 0): log-rates below 1 % count as no edge."""
    names = list(sat["model"].values)
    k = int(max(1, min(n_clusters, len(names) - 1)))
    affinity = np.clip(symmetric(sat), 0, None)
    labels = SpectralClustering(n_clusters=k, affinity="precomputed", n_init=100, random_state=seed,
                                assign_labels="kmeans").fit_predict(affinity)
    # number clusters by first appearance in the hierarchical order, so colours are stable across reruns
    order = hierarchical_order(sat)
    remap: dict[int, int] = {}
    for name in order:
        remap.setdefault(int(labels[names.index(name)]), len(remap) + 1)
    return pd.Series([remap[int(l)] for l in labels], index=pd.Index(names, name="model"), name="cluster")


def nearest_cluster(sat_row, clusters) -> int:
    """Appendix G's assignment of a new model: the cluster (``clusters``: one label per zoo model) whose members
    it is most similar to on average (mean SAT with them, NaN ignored). ``sat_row``: its SAT with each zoo model."""
    sat_row, clusters = np.asarray(sat_row, dtype=float), np.asarray(clusters)
    means = {c: np.nanmean(sat_row[clusters == c]) for c in np.unique(clusters)}
    return int(max(means, key=means.get))


def tsne_embedding(sat: xr.DataArray, seed: int = 0) -> pd.DataFrame:
    """2-D t-SNE of the models from the precomputed SAT distance (paper Fig. 1)."""
    names = list(sat["model"].values)
    perplexity = float(max(1.0, min(30.0, (len(names) - 1) / 3)))
    xy = TSNE(n_components=2, metric="precomputed", init="random", perplexity=perplexity,
              random_state=seed).fit_transform(distance(sat))
    return pd.DataFrame(xy, index=pd.Index(names, name="model"), columns=["tsne_1", "tsne_2"])


def card_documents(ds: xr.Dataset) -> pd.Series:
    """Each model's architecture card as a document of component=value words (the paper's TF-IDF setup)."""
    comps = [c for c in ds.coords if str(c).startswith("card_")]
    docs = []
    for i in range(ds.sizes["model"]):
        words = [f"{str(c)[5:]}={ds[c].values[i]}".replace(" ", "_") for c in comps if str(ds[c].values[i])]
        docs.append(" ".join(words))
    return pd.Series(docs, index=pd.Index(ds["model"].values, name="model"))


def cluster_keywords(ds: xr.Dataset, clusters: pd.Series, top: int = 5) -> pd.DataFrame:
    """Top TF-IDF keywords per cluster (paper Table 3): components as words, architectures as documents."""
    docs = card_documents(ds).loc[clusters.index]
    vec = TfidfVectorizer(token_pattern=r"\S+", lowercase=False)
    tfidf = pd.DataFrame(vec.fit_transform(docs).toarray(), index=docs.index, columns=vec.get_feature_names_out())
    rows = []
    for c, members in clusters.groupby(clusters):
        mean = tfidf.loc[members.index].mean().sort_values(ascending=False)
        rows.append({"cluster": c, "models": ", ".join(members.index),
                     "top keywords": ", ".join(mean.index[:top])})
    return pd.DataFrame(rows).set_index("cluster")


def off_diagonal(sat: xr.DataArray) -> np.ndarray:
    a = np.asarray(sat, dtype=float)
    return a[~np.eye(a.shape[0], dtype=bool)]


def family_means(ds: xr.Dataset) -> pd.DataFrame:
    """Mean SAT between base-architecture families (rows: source family, columns: target family)."""
    fam = ds["family"].values
    a = np.asarray(ds["sat"], dtype=float)
    mask = ~np.eye(len(fam), dtype=bool)
    fams = list(dict.fromkeys(fam))
    out = pd.DataFrame(index=fams, columns=fams, dtype=float)
    for f in fams:
        for g in fams:
            sel = np.outer(fam == f, fam == g) & mask & np.isfinite(a)
            out.loc[f, g] = a[sel].mean() if sel.any() else np.nan
    return out


def accuracy_band(ds: xr.Dataset, floor: float = 0.60) -> pd.DataFrame:
    """The zoo's clean-accuracy band, over all models and per family: min, median, max (percent) and how many
    models fall below ``floor``."""
    df = pd.DataFrame({"family": ds["family"].values, "accuracy": 100 * ds["accuracy"].values})
    rows = {"all": df["accuracy"], **{f: g["accuracy"] for f, g in df.groupby("family", sort=False)}}
    out = pd.DataFrame({name: {"models": len(a), "min (%)": a.min(), "median (%)": a.median(),
                               "max (%)": a.max(), f"below {100 * floor:.0f} %": int((a < 100 * floor).sum())}
                        for name, a in rows.items()}).T
    out.index.name = "family"
    return out


def training_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per model: family, parameters, epochs, the measured precision/layout, training and attack seconds, and
    clean accuracy — what each model cost and what it reached, sorted by accuracy."""
    cols = {"family": ds["family"].values,
            "parameters (M)": ds["n_params"].values / 1e6 if "n_params" in ds else np.nan,
            "epochs": ds["train_epochs"].values if "train_epochs" in ds else np.nan,
            "layout": ds["layout"].values if "layout" in ds else "",
            "train (s)": ds["train_seconds"].values, "PGD (s)": ds["attack_seconds"].values,
            "accuracy (%)": 100 * ds["accuracy"].values}
    df = pd.DataFrame(cols, index=pd.Index(ds["model"].values, name="model"))
    return df.sort_values("accuracy (%)", ascending=False)


def cost_table(ds: xr.Dataset) -> pd.DataFrame:
    """Minutes of computation behind the result on the machine in its provenance: every model's training and
    PGD (as measured when the model and its attack were made, whether this run made them or read them from the
    cache), the evaluation of every model on every model's examples, and the total."""
    rows = {"training": float(ds["train_seconds"].sum()), "PGD": float(ds["attack_seconds"].sum()),
            "evaluation (all pairs)": float(ds.attrs.get("evaluate_seconds", np.nan))}
    rows["total"] = sum(rows.values())
    out = pd.DataFrame({"minutes": {k: v / 60 for k, v in rows.items()}})
    out["models per hour"] = np.where(out.index == "total", ds.sizes["model"] / (out["minutes"] / 60), np.nan)
    return out


def pair_frame(ds: xr.Dataset) -> pd.DataFrame:
    """One row per unordered pair of different models: symmetric SAT, the pair's mean and lower accuracy,
    and whether both share a base-architecture family."""
    names = list(ds["model"].values)
    sat = symmetric(ds["sat"])
    acc = 100 * ds["accuracy"].values
    fam = ds["family"].values
    i, j = np.triu_indices(len(names), k=1)
    return pd.DataFrame({"model": np.array(names)[i], "model_b": np.array(names)[j], "i": i, "j": j,
                         "sat": sat[i, j], "mean_accuracy": (acc[i] + acc[j]) / 2,
                         "min_accuracy": np.minimum(acc[i], acc[j]), "same_family": fam[i] == fam[j]})


def model_bootstrap(ds: xr.Dataset, stat, n_boot: int = 2000, seed: int = 0) -> np.ndarray:
    """``stat(pair_frame(ds))`` on bootstrap resamples of the zoo's models (``pairs_bootstrap``)."""
    return pairs_bootstrap(pair_frame(ds), ds.sizes["model"], stat, n_boot=n_boot, seed=seed)


def accuracy_effect(ds: xr.Dataset, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Does a pair's SAT follow its accuracy? Spearman ρ between pair SAT and the pair's mean (and lower)
    accuracy, with a 95 % bootstrap interval over models. A check of a confound, not a claim of the paper: ``the
    interval shows`` says which side of 0 the whole interval lies on (no verdict is issued here)."""
    pairs = pair_frame(ds)
    rows = []
    for col, label in (("mean_accuracy", "mean accuracy of the pair"), ("min_accuracy", "lower accuracy of the pair")):
        stat = lambda p, c=col: spearmanr(p["sat"], p[c]).statistic  # noqa: E731
        boot = model_bootstrap(ds, stat, n_boot=n_boot, seed=seed)
        lo, hi = np.nanpercentile(boot, [2.5, 97.5])
        reading = "SAT rises with accuracy" if lo > 0 else "SAT falls with accuracy" if hi < 0 else \
            "no detectable dependence"
        rows.append({"SAT against": label, "Spearman ρ": stat(pairs), "95 % CI low": lo, "95 % CI high": hi,
                     "pairs": len(pairs), "the interval shows": reading})
    return pd.DataFrame(rows).set_index("SAT against")


def stability_table(ds: xr.Dataset) -> pd.DataFrame:
    """Std (and mean) of the stability pair's percent score over random subsets, beside the paper's Table 1."""
    claims = scored_claims("sat-matrix")["stability_std"]["by_size"]
    rate = ds["stability_rate"]
    pool = json.loads(ds.attrs.get("params_json", "{}")).get("stability_pool")
    rows = []
    for size in ds["size"].values:
        vals = rate.sel(size=size).values
        vals = vals[np.isfinite(vals)]
        if pool is not None and size >= pool:  # every subset is the whole pool: a std of 0 by construction
            vals = vals[:0]
        rows.append({"images": int(size),
                     "ours: std (pp)": float(np.std(vals, ddof=1)) if len(vals) > 1 else np.nan,
                     "ours: mean (%)": float(np.mean(vals)) if len(vals) else np.nan,
                     "paper: std (pp)": claims.get(int(size), np.nan)})
    return pd.DataFrame(rows).set_index("images")


def pair_estimate(ds: xr.Dataset, stat, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """``stat(pair_frame)`` with a 95 % interval from resampling *models* (``model_bootstrap``)."""
    boot = model_bootstrap(ds, stat, n_boot=n_boot, seed=seed)
    return interval(boot, stat(pair_frame(ds)), "models", ds.sizes["model"])


def _within_minus_between(pairs: pd.DataFrame) -> float:
    same = pairs["same_family"].to_numpy(bool)
    if not same.any() or same.all():
        return np.nan
    return float(pairs["sat"][same].mean() - pairs["sat"][~same].mean())


# ------------------------------------------------------------------------------------- gates of the SAT chapters

TOKENS_NEEDED = 16  # 4 × 4: fewer and self-attention mixes a handful of positions, not an image's patches
STEM_STRIDE = {"levit_128s_32": 16}  # architectures whose stem downsamples by this factor before any attention


def tokens_seen(arch: str, img_size: int = 32) -> int | None:
    """How many tokens an attention stand-in's first attention layer sees at ``img_size`` (None: not a
    stand-in whose stem is known to downsample before attention)."""
    stride = STEM_STRIDE.get(arch)
    return None if stride is None else max(1, img_size // stride) ** 2


def token_gate(arch: str, img_size: int = 32, claims=(), stands_for: str = "ViT-S") -> Gate:
    """The attention stand-in sees enough tokens to stand for ``stands_for`` (failed: its rows read not tested)."""
    n = tokens_seen(arch, img_size)
    side = int(round(math.sqrt(n))) if n else 0
    return Gate(f"stand-in sees enough tokens ({arch} for {stands_for})", None if n is None else n >= TOKENS_NEEDED,
                f"{arch} on {img_size} px sees {side}×{side} = {n} tokens after its ×{STEM_STRIDE.get(arch)} stem "
                f"(needed: {TOKENS_NEEDED}; {stands_for} on ImageNet sees 14×14); a stand-in that sees enough "
                "tokens (e.g. the zoo's ViT at patch 4: 8×8) would have to be trained" if n is not None else
                f"{arch}: no stem stride on record", tuple(claims))


def gates_for(gates: list[Gate], arch: str | None) -> list[Gate]:
    """The gates of one row: every gate that names no architecture, and the stand-in gate of ``arch``'s own (a
    row of another architecture is not blocked by a stand-in it does not use)."""
    return [g for g in gates if "stand-in" not in g.name or (arch is not None and f"({arch} " in g.name)]


def attack_gates(claims=(), check: xr.Dataset | None = None, spread: float | None = None) -> list[Gate]:
    """The attack checks of a chapter that reuses the zoo's PGD: the sat-matrix chapter's attack-check section
    (``check``: fp32 and twice the steps against the chapter's attack; ``sat_lib.analysis.sat_matrix_checks``),
    not computed where it is not stored."""
    return sat_matrix_checks.gates(check, claims, spread=spread)


def checks(ds: xr.Dataset, check: xr.Dataset | None = None) -> list[Gate]:
    """The chapter's Checks: what its claims rest on, from the stored result and its attack-check section."""
    return [chance_gate(dict(zip(map(str, ds["model"].values), ds["accuracy"].values)), ds.sizes.get("class", 10)),
            *attack_gates(check=check, spread=sat_matrix_checks.pair_spread(ds))]


def claims_table(ds: xr.Dataset, n_boot: int = 2000, gates: list[Gate] | None = None,
                 check: xr.Dataset | None = None) -> pd.DataFrame:
    """The paper's claims beside ours, each decided by its kind (``sat_lib.claims.verdict.claim_row``): the
    diagonal as an equivalence ("close to 4.6"), the zoo's mean and Table 1's stds as context (another zoo,
    another task), the family direction. Diagonal: models resampled; pair statistics: models resampled (pairs
    share models); stability: the random subsets resampled. ``gates``: ``checks(ds)`` when not given."""
    claims = scored_claims("sat-matrix")
    gates = checks(ds, check) if gates is None else gates
    rows = []
    c = claims["diagonal"]
    est = bootstrap(np.diag(ds["sat"].values), np.mean, unit="models", n_resamples=n_boot)
    rows.append(claim_row("SAT of a model with itself (mean diagonal)", c, est, key="diagonal", gates=gates,
                          paper=f"{c['value']:.3f} ('close to 4.6')", fmt=decisive_format(c["value"], est, 3)))
    c = claims["mean_off_diagonal"]
    est = pair_estimate(ds, lambda p: float(p["sat"].mean()), n_boot=n_boot)
    rows.append(claim_row("mean SAT between different architectures", c, est, key="mean_off_diagonal",
                          gates=gates, paper=f"{c['value']:.2f} (69 ImageNet models)"))
    c = claims["base_architecture"]
    est = pair_estimate(ds, _within_minus_between, n_boot=n_boot)
    rows.append(claim_row("SAT within a base-architecture family minus between families", c, est,
                          key="base_architecture", gates=gates))
    c = claims["stability_std"]
    pool = json.loads(ds.attrs.get("params_json", "{}")).get("stability_pool")
    for size in ds["size"].values:
        paper = c["by_size"].get(int(size))
        if paper is None or (pool is not None and size >= pool):
            continue
        vals = ds["stability_rate"].sel(size=size).values
        est = bootstrap(vals, lambda v: np.std(v, ddof=1), unit="subsets", n_resamples=n_boot)
        rows.append(claim_row(f"std of the stability pair's score at {int(size)} images (pp)", c, est,
                              key="stability_std", gates=gates, value=paper,
                              paper=f"{paper:.2f} (ConvNeXt-T vs Swin-T, ImageNet)"))
    return pd.DataFrame(rows)


def discussion(ds: xr.Dataset, table: pd.DataFrame | None = None) -> str:
    """A short Markdown reading of the result against the paper, every number and verdict computed from ``ds``
    (``table``: ``claims_table(ds)``, computed when not given)."""
    claims = scored_claims("sat-matrix")
    table = claims_table(ds) if table is None else table
    table = table.set_index("claim") if "claim" in table.columns else table
    params = json.loads(ds.attrs["params_json"])
    acc = 100 * ds["accuracy"].values
    white_box = float(np.nanmean(np.diag(ds["transfer_rate"].values)))
    row = table.iloc
    lines = [
        f"* **Diagonal.** Our models' SAT with themselves is **{row[0]['ours [95 % CI]']}** (mean over models, "
        f"95 % interval) against the paper's \"close to 4.6\" (log 100; decided against "
        f"{row[0]['decided against'].split(':')[0]}): "
        f"**{row[0]['verdict']}**. A {params['steps']}-step PGD at ε = {params['eps']:.4f} fools the attacked "
        f"model on {white_box:.1f} % of the images it classified correctly (arithmetic mean over models).",
        f"* **Between architectures.** The mean SAT between different models is **{row[1]['ours [95 % CI]']}** "
        f"beside the paper's {claims['mean_off_diagonal']['value']:.2f} over 69 ImageNet models (shown, not "
        f"judged: a zoo's mean depends on which architectures it holds and on the task). The settings differ: our models are small and trained for "
        f"{_epochs_text(ds, params)} epochs on {params['train_size'] or 'all'} CIFAR-10 images (test accuracy "
        f"{acc.min():.0f}–{acc.max():.0f} %), with 10 classes instead of 1 000.",
        f"* **Within families.** SAT within a base-architecture family minus SAT between families is "
        f"**{row[2]['ours [95 % CI]']}** (models resampled): **{row[2]['verdict']}** with the paper's finding "
        "that models of one base architecture are more alike than models of different ones — the "
        "precondition of its \"base architecture contributes most\"; whether it contributes *most* (Fig. 3's "
        "ranking) is the sat-components chapter's claim.",
    ]
    st = stability_table(ds).dropna(subset=["ours: std (pp)"])
    if len(st):
        first, last = st.iloc[0], st.iloc[-1]
        lines.append(f"* **Stability.** The std of the pair's percent score falls from {first['ours: std (pp)']:.2f} "
                     f"pp at {st.index[0]} images to {last['ours: std (pp)']:.2f} pp at {st.index[-1]} "
                     f"(paper, Table 1: {_paper_std_range()}). Subsets are drawn from a pool "
                     f"of {params['stability_pool']} test images, so large subsets overlap and their std is "
                     "biased low relative to independent draws.")
    return "\n".join(lines)


def _epochs_text(ds: xr.Dataset, params: dict) -> str:
    if "train_epochs" not in ds:
        return str(params["epochs"])
    lo, hi = int(ds["train_epochs"].min()), int(ds["train_epochs"].max())
    return str(lo) if lo == hi else f"{lo}–{hi}"


def _paper_std_range() -> str:
    by = scored_claims("sat-matrix")["stability_std"]["by_size"]
    lo, hi = min(by), max(by)
    return f"{by[lo]} → {by[hi]} pp from {lo} to {hi} images"


