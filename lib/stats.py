"""Confidence intervals for differences in PCK between configurations, and the book's verdicts.

The papers' ablation gains are small (PBN Sec. 4.3: 0.3 points for negative transfer, 0.09 for
shared vs specific fusion, ~1-2 for branches; KPTransfer Tables 2-5: 0-0.5 points between
transfer learning and random initialisation), so a single number per configuration cannot
support or refute them. Two sources of noise matter:

* **images**: the validation set is a sample; runs evaluated on the *same* images are compared
  with a *paired* bootstrap (resample image indices once, recompute both runs' metric);
* **seeds**: training noise; several seeds per configuration give a t-interval.

:func:`bootstrap_diff` combines both (images resampled jointly for every run, seeds resampled
within each configuration). The metric everywhere is the pooled PCK over the chosen joints,
sum(hits) / sum(evaluated), which is how the official MPII evaluation averages joints (per-joint
PCKh weighted by the number of annotated instances).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as _sps

#: One evaluated run: ``(hits, evaluated)``, both ``N×J`` bool over the same N validation images.
Hits = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided confidence interval, in PCK points (0-100).

    ``method`` says how it was obtained (``"paired bootstrap"``, ``"t over seeds"``,
    ``"bootstrap images+seeds"``); ``n`` is the number of images or seeds behind it.
    """

    estimate: float
    low: float
    high: float
    level: float
    method: str
    n: int

    def __str__(self) -> str:
        return f"{self.estimate:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"


def _per_image_counts(run: Hits, joints: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray]:
    hits, evaluated = (np.asarray(a, dtype=bool) for a in run)
    if hits.shape != evaluated.shape or hits.ndim != 2:
        raise ValueError(f"hits {hits.shape} and evaluated {evaluated.shape} must be the same N×J shape")
    if joints is not None:
        cols = list(joints)
        if any(not 0 <= c < hits.shape[1] for c in cols):
            raise ValueError(f"joint columns {cols} out of range for {hits.shape[1]} joints")
        hits, evaluated = hits[:, cols], evaluated[:, cols]
    return (hits & evaluated).sum(1).astype(np.float64), evaluated.sum(1).astype(np.float64)


def pooled_pck(run: Hits, joints: Sequence[int] | None = None) -> float:
    """PCK in points over ``joints`` (columns; all when None): 100 · sum(hits) / sum(evaluated)."""
    h, e = _per_image_counts(run, joints)
    if e.sum() == 0:
        raise ValueError("no evaluated joints in the chosen columns; check the joint columns")
    return float(100.0 * h.sum() / e.sum())


def _check_same_images(runs: Sequence[Hits]) -> int:
    n = {np.asarray(r[0]).shape[0] for r in runs}
    if len(n) != 1:
        raise ValueError(f"runs were evaluated on different numbers of images {sorted(n)}; a paired "
                         "comparison needs the same validation images in the same order")
    return n.pop()


def _image_weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot×n`` multiplicities of each image in a resample with replacement."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def paired_bootstrap(a: Hits, b: Hits, joints: Sequence[int] | None = None, *, n_boot: int = 2000,
                     level: float = 0.95, seed: int = 0) -> Interval:
    """Difference PCK(a) − PCK(b) over the same validation images, with a percentile interval.

    Every resample draws N image indices with replacement and recomputes both runs' pooled PCK
    on them, so the noise shared by the two runs (easy and hard images) cancels.
    """
    n = _check_same_images([a, b])
    (ha, ea), (hb, eb) = _per_image_counts(a, joints), _per_image_counts(b, joints)
    w = _image_weights(n, n_boot, np.random.default_rng(seed))
    diffs = 100.0 * (w @ ha / (w @ ea) - w @ hb / (w @ eb))
    est = pooled_pck(a, joints) - pooled_pck(b, joints)
    lo, hi = np.percentile(diffs, [50 * (1 - level), 50 * (1 + level)])
    return Interval(est, float(lo), float(hi), level, "paired bootstrap", n)


def seed_interval(values: Sequence[float], *, level: float = 0.95) -> Interval:
    """Mean of per-seed values (a metric, or a paired difference) ± Student-t interval.

    With one seed the interval is unbounded (``nan``): one run says nothing about seed noise.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no values; pass one metric (or difference) per seed")
    mean = float(v.mean())
    if v.size < 2:
        return Interval(mean, math.nan, math.nan, level, "t over seeds", 1)
    half = float(_sps.t.ppf(0.5 * (1 + level), v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return Interval(mean, mean - half, mean + half, level, "t over seeds", int(v.size))


def bootstrap_diff(runs_a: Sequence[Hits], runs_b: Sequence[Hits], joints: Sequence[int] | None = None, *,
                   n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Interval:
    """Difference of seed-averaged PCK, configuration A − B, resampling images and seeds.

    Each replicate draws one image resample (shared by every run: all are evaluated on the same
    images) and, independently for A and B, a resample of their seeds; the statistic is
    mean-over-seeds PCK(A) − mean-over-seeds PCK(B). With one seed per side this is exactly
    :func:`paired_bootstrap`. With 2-3 seeds the seed resampling understates seed noise (a
    bootstrap over three values is coarse); read it beside :func:`seed_interval`.
    """
    if not runs_a or not runs_b:
        raise ValueError("each configuration needs at least one run (one per seed)")
    n = _check_same_images(list(runs_a) + list(runs_b))
    rng = np.random.default_rng(seed)
    w = _image_weights(n, n_boot, rng)

    def per_seed(runs: Sequence[Hits]) -> tuple[np.ndarray, float]:
        counts = [_per_image_counts(r, joints) for r in runs]
        pck = np.stack([100.0 * (w @ h) / (w @ e) for h, e in counts], axis=1)  # n_boot × seeds
        pick = rng.integers(0, len(runs), size=pck.shape) if len(runs) > 1 else np.zeros(pck.shape, int)
        point = float(np.mean([pooled_pck(r, joints) for r in runs]))
        return np.take_along_axis(pck, pick, axis=1).mean(1), point

    boot_a, est_a = per_seed(runs_a)
    boot_b, est_b = per_seed(runs_b)
    lo, hi = np.percentile(boot_a - boot_b, [50 * (1 - level), 50 * (1 + level)])
    return Interval(est_a - est_b, float(lo), float(hi), level, "bootstrap images+seeds",
                    min(len(runs_a), len(runs_b)))


def verdict(diff: Interval, claimed_sign: int, *, margin: float = 0.0) -> str:
    """Whether a measured difference supports a paper's claim; the rule the book applies.

    ``claimed_sign`` is +1 (the paper says A beats B), −1 (A is worse) or 0 (no difference,
    e.g. PBN's "overlapping groups do not improve"; needs ``margin`` > 0, the largest
    difference in points still counted as none).

    * ±1: **confirmed** when the whole interval lies on the claimed side of 0, **not confirmed**
      when it lies wholly on the other side (or touches 0 from it), else **inconclusive**.
    * 0: **confirmed** when the interval lies inside [−margin, margin], **not confirmed** when it
      lies wholly outside it, else **inconclusive**.
    * An undefined interval (``nan``: one seed in a seed interval) is **inconclusive**.
    """
    if claimed_sign not in (-1, 0, 1):
        raise ValueError(f"claimed_sign must be -1, 0 or +1, got {claimed_sign!r}")
    lo, hi = diff.low, diff.high
    if math.isnan(lo) or math.isnan(hi):
        return "inconclusive"
    if claimed_sign == 0:
        if margin <= 0:
            raise ValueError("a 'no difference' claim needs margin > 0 (points counted as no difference)")
        if -margin <= lo and hi <= margin:
            return "confirmed"
        if lo > margin or hi < -margin:
            return "not confirmed"
        return "inconclusive"
    lo, hi = sorted((claimed_sign * lo, claimed_sign * hi))
    if lo > 0:
        return "confirmed"
    if hi <= 0:
        return "not confirmed"
    return "inconclusive"
