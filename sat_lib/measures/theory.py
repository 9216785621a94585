"""Design-diversity theory: the Littlewood-Miller model (design-diversity paper, Sec. 3.1).

A methodology M is a distribution over programs (here: trained models); its difficulty function theta_M(x) is the
probability that a randomly drawn program fails on input x. For one program drawn from each of two methodologies A and
B, independently, the probability that both fail on a random input is

    P(both fail) = E[theta_A theta_B] = E[theta_A] E[theta_B] + Cov(theta_A, theta_B),

so diverse methodologies whose difficulty functions are negatively correlated fail together *less* often than
independent failures would.

``difficulty_functions`` and ``coincident_failure`` compute θ and this decomposition for one pair of
methodologies; ``LMStats`` computes the same quantities (and the LM prediction of every pair of models) for many
models in design groups at once, from one Gram matrix of their failure indicators, so that a bootstrap replicate
over inputs is one matrix product (numpy). Both give the same numbers (tested).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import _validation as V


def difficulty_functions(failures: Any) -> Tensor:
    """theta(x): share of a methodology's models that fail on each sample, bool (n_models, n_samples) -> float64 (n,).

    Call once per methodology; the models are samples from that methodology's distribution (e.g. seeds).
    """
    fn = "difficulty_functions"
    f = V.boolean(V.stack(failures, fn, "failures"), fn, "failures", ndim=2, what="(n_models, n_samples)")
    if f.shape[0] < 1 or f.shape[1] < 1:
        raise ValueError(f"{fn}: argument 'failures' has shape {tuple(f.shape)}; expected at least 1 model and sample")
    return f.to(torch.float64).mean(dim=0)


@dataclass(frozen=True)
class CoincidentFailure:
    """Littlewood-Miller decomposition; ``p_both == independent + covariance`` holds exactly (floats)."""

    p_both: float  # E[theta_A theta_B]: both drawn models fail on a random input
    independent: float  # E[theta_A] E[theta_B]: what independent failures would give
    covariance: float  # Cov(theta_A, theta_B) over inputs; < 0 = diversity pays off
    p_a: float  # E[theta_A]
    p_b: float  # E[theta_B]


def coincident_failure(theta_a: Any, theta_b: Any) -> CoincidentFailure:
    """Probability that one model of methodology A and one of B both fail, split into independence + covariance.

    ``theta_a``, ``theta_b``: difficulty functions (n,) in [0, 1] over the same samples (population moments, 1/n).
    The covariance is computed from centred values (accurate), ``independent`` as E[theta_A] E[theta_B], and
    ``p_both`` as their sum, so the identity is exact in floating point; ``p_both`` equals mean(theta_A theta_B) up
    to rounding.
    """
    fn = "coincident_failure"
    a = V.floating(theta_a, fn, "theta_a", ndim=1, what="an (n_samples,) difficulty function")
    b = V.floating(theta_b, fn, "theta_b", ndim=1, what="an (n_samples,) difficulty function")
    V.same_samples(fn, ("theta_a", a), ("theta_b", b))
    V.check_min_samples(a, fn, "theta_a", 1)
    for name, t in (("theta_a", a), ("theta_b", b)):
        if bool(((t < 0) | (t > 1)).any()):
            raise ValueError(f"{fn}: argument {name!r} has values outside [0, 1]; expected failure probabilities")
    a, b = a.to(torch.float64), b.to(torch.float64)
    p_a, p_b = a.mean(), b.mean()
    covariance = float(((a - p_a) * (b - p_b)).mean())
    independent = float(p_a) * float(p_b)
    return CoincidentFailure(
        p_both=independent + covariance,
        independent=independent,
        covariance=covariance,
        p_a=float(p_a),
        p_b=float(p_b),
    )


class LMStats:
    """The Littlewood–Miller quantities of one set of models in design groups on one image draw, all from the
    Gram matrix of their failure indicators and per-group and per-block failure counts (so a bootstrap replicate
    is one matrix product).

    ``excess_gap``: mean excess coincident failure P(both fail) − P_i P_j of model pairs from different groups
    minus that of pairs from one group (pp). ``cov_between``: mean Cov(θ_A, θ_B) over pairs of different groups
    (θ from all the group's models). For every pair of models (i, j) the coincident failure rate is predicted from
    the *other* models of their groups — the LM model, E[θ'_A θ'_B], and independence, E[θ'_A] E[θ'_B] — where
    for two models of one group A the expectation is taken over pairs of *other* models of A from different
    blocks (θ'_A² would count each model with itself and two members of one ensemble, which are no independent
    draws): ``lm_bias`` / ``independence_bias``: mean over pairs of observed − predicted (pp; the LM model is a
    statement about that expectation, so its signed error is its test); ``lm_error`` / ``independence_error``:
    mean |observed − predicted| (pp; a pair's own deviation from its methodologies' expectation and sampling noise
    both count, so it is biased upward and a percentile interval of it can miss its point estimate);
    ``prediction_gain``: ``independence_error − lm_error`` (pp; > 0: the LM model predicts each pair better).
    ``blocks``: pairs of models in one block are left out (members of one jointly trained ensemble are not two
    independent draws of their methodology); default: every model its own block.
    """

    def __init__(self, groups: Sequence[str], blocks: Sequence[str] | None = None) -> None:
        self.labels = list(dict.fromkeys(groups))
        g = np.array([self.labels.index(x) for x in groups])
        self.g, self.n_models = g, len(g)
        self.size = np.bincount(g, minlength=len(self.labels)).astype(float)
        blocks = [str(i) for i in range(len(g))] if blocks is None else list(blocks)
        if len(blocks) != len(g):
            raise ValueError(f"LMStats: {len(blocks)} blocks for {len(g)} models")
        self.block_labels = list(dict.fromkeys(blocks))
        b = np.array([self.block_labels.index(x) for x in blocks])
        block_group = np.zeros(len(self.block_labels), dtype=int)
        block_group[b] = g
        if (block_group[b] != g).any():
            raise ValueError("LMStats: a block holds models of different groups")
        self.b, self.block_group = b, block_group
        c = np.bincount(b, minlength=len(self.block_labels)).astype(float)
        pairs = [(i, j) for i, j in combinations(range(len(g)), 2) if b[i] != b[j]]
        self.i, self.j = (np.array(t, dtype=int) for t in zip(*pairs))
        self.same = g[self.i] == g[self.j]
        ga, gb = g[self.i], g[self.j]
        # held-out group sizes: both models out of a shared group, one out of each otherwise
        self.na = np.where(self.same, self.size[ga] - 2, self.size[ga] - 1)
        self.nb = np.where(self.same, self.size[gb] - 2, self.size[gb] - 1)
        # ordered pairs of held-out models of a shared group from different blocks: n'² − Σ_blocks (held-out size)²
        csq = np.bincount(block_group, weights=c ** 2, minlength=len(self.labels))
        held = csq[ga] - 2 * c[b[self.i]] + 1 - 2 * c[b[self.j]] + 1
        self.cross = np.where(self.same, self.na ** 2 - held, self.na * self.nb)
        self.predictable = (self.na > 0) & (self.nb > 0) & (self.cross > 0)
        pairs = [(a, b) for a, b in combinations(range(len(self.labels)), 2)]
        self.ga_pairs = np.array([a for a, _ in pairs], dtype=int)
        self.gb_pairs = np.array([b for _, b in pairs], dtype=int)

    def vectors(self, fails: np.ndarray) -> np.ndarray:
        """(models + groups + blocks + 1, images): failure indicators, per-group and per-block failure counts,
        ones."""
        f = fails.astype(float)
        groups = np.stack([f[self.g == k].sum(0) for k in range(len(self.labels))])
        blocks = np.stack([f[self.b == k].sum(0) for k in range(len(self.block_labels))])
        return np.concatenate([f, groups, blocks, np.ones((1, f.shape[1]))])

    def stats(self, v: np.ndarray) -> dict[str, float]:
        """The quantities on the images of ``v`` (``vectors``)."""
        return self.from_gram(v @ v.T / v.shape[1])

    def from_gram(self, gram: np.ndarray) -> dict[str, float]:
        """The quantities from the Gram matrix of ``vectors`` divided by the number of images."""
        m, k = self.n_models, len(self.labels)
        one = m + k + len(self.block_labels)
        fi, fj = self.i, self.j
        sa, sb = m + self.g[fi], m + self.g[fj]
        p = gram[:m, one]
        obs = gram[fi, fj]
        excess = obs - p[fi] * p[fj]
        out = {"excess_gap": 100 * (excess[~self.same].mean() - excess[self.same].mean())
               if self.same.any() and (~self.same).any() else math.nan}
        # Cov(θ_A, θ_B) between groups, θ_A = S_A / n_A
        if len(self.ga_pairs):
            a, b = m + self.ga_pairs, m + self.gb_pairs
            na, nb = self.size[self.ga_pairs], self.size[self.gb_pairs]
            cov = gram[a, b] / (na * nb) - gram[a, one] * gram[b, one] / (na * nb)
            out["cov_between"] = float(cov.mean())
        else:
            out["cov_between"] = math.nan
        keys = ("lm_bias", "independence_bias", "lm_error", "independence_error", "prediction_gain")
        q = self.predictable
        if not q.any():
            return {**out, **dict.fromkeys(keys, math.nan)}
        fi, fj, sa, sb, same, cross = fi[q], fj[q], sa[q], sb[q], self.same[q], self.cross[q]
        bi, bj = m + k + self.b[fi], m + k + self.b[fj]
        pi, pj = p[fi], p[fj]
        # another group: θ'_A = (S_A − f_i) / n'_A, θ'_B = (S_B − f_j) / n'_B, both from disjoint models
        apart = gram[sa, sb] - gram[sa, fj] - gram[fi, sb] + gram[fi, fj]  # <S_A − f_i, S_B − f_j>
        apart_ind = (gram[sa, one] - pi) * (gram[sb, one] - pj)
        # one group: Σ over ordered pairs of held-out models from different blocks = S'² − Σ_blocks B'²,
        # S' = S_A − f_i − f_j, B' the block counts less f_i (i's block) and f_j (j's block); f² = f
        shared = (gram[sa, sa] - 2 * gram[sa, fi] - 2 * gram[sa, fj] + gram[fi, fi] + gram[fj, fj]
                  + 2 * gram[fi, fj])  # <S', S'>
        blocks = m + k + np.arange(len(self.block_labels))
        bsq = np.bincount(self.block_group, weights=np.diagonal(gram)[blocks], minlength=k)
        b2 = bsq[self.g[fi]] - 2 * gram[bi, fi] + pi - 2 * gram[bj, fj] + pj  # Σ_blocks <B', B'>
        pb = gram[blocks, one]
        psq = np.bincount(self.block_group, weights=pb ** 2, minlength=k)
        p2 = psq[self.g[fi]] - gram[bi, one] ** 2 - gram[bj, one] ** 2 + (gram[bi, one] - pi) ** 2 \
            + (gram[bj, one] - pj) ** 2  # Σ_blocks (Σ of the block's held-out P)²
        s1 = gram[sa, one] - pi - pj
        lm = np.where(same, shared - b2, apart) / cross
        ind = np.where(same, s1 ** 2 - p2, apart_ind) / cross
        o = gram[fi, fj]
        out["lm_bias"] = 100 * float((o - lm).mean())
        out["independence_bias"] = 100 * float((o - ind).mean())
        out["lm_error"] = 100 * float(np.abs(o - lm).mean())
        out["independence_error"] = 100 * float(np.abs(o - ind).mean())
        out["prediction_gain"] = out["independence_error"] - out["lm_error"]
        return out

    def deviations(self, fails: np.ndarray) -> np.ndarray:
        """float32 (predictable pairs, images): per image, f_i f_j − the LM prediction θ'_A θ'_B (for two models of
        one group: the mean over pairs of its other models from different blocks) — the mean over images is
        observed − LM of ``from_gram``, and the prediction of each image is fixed whatever images are drawn, so a
        bootstrap replicate of every pair's error is one weighted mean."""
        f = fails.astype(np.float32)
        k = len(self.labels)
        s = np.stack([f[self.g == g].sum(0) for g in range(k)])
        b = np.stack([f[self.b == c].sum(0) for c in range(len(self.block_labels))])
        bb = np.stack([(b[self.block_group == g] ** 2).sum(0) for g in range(k)])
        q = self.predictable
        i, j, same, cross = self.i[q], self.j[q], self.same[q], self.cross[q].astype(np.float32)
        out = np.empty((len(i), f.shape[1]), np.float32)
        for lo in range(0, len(i), 256):
            sl = slice(lo, lo + 256)
            fi, fj, sa, sb = f[i[sl]], f[j[sl]], s[self.g[i[sl]]], s[self.g[j[sl]]]
            bi, bj = b[self.b[i[sl]]], b[self.b[j[sl]]]
            rest = sa - fi - fj
            b2 = bb[self.g[i[sl]]] - bi ** 2 - bj ** 2 + (bi - fi) ** 2 + (bj - fj) ** 2
            pred = np.where(same[sl, None], rest ** 2 - b2, (sa - fi) * (sb - fj)) / cross[sl, None]
            out[sl] = fi * fj - pred
        return out
