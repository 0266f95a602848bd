"""Confidence intervals for PCK and its differences between configurations, and the book's verdicts.

The papers' ablation gains are small (PBN Sec. 4.3: 0.3 points for negative transfer, 0.09 for
shared vs specific fusion, ~1-2 for branches; KPTransfer Tables 2-5: 0-0.5 points between
transfer learning and random initialisation), so a single number per configuration can neither
support nor refute them. Two sources of noise matter, and an interval must carry both:

* **seeds**: training noise. Each configuration is trained with several seeds; the seed-to-seed
  spread of its PCK is estimated from those few values, so the interval uses Student's t (Welch's
  for two configurations, with Welch-Satterthwaite degrees of freedom). A bootstrap over 3 seeds
  has variance (n−1)/n · s²/n and normal cut-offs, which makes the seed part of an interval about
  2.7× too narrow at n = 3 and zero at n = 1; this module therefore does not resample seeds.
* **images**: the validation set is a finite sample of people. For a ratio such as pooled PCK,
  sum(hits) / sum(evaluated), the delta method gives each image an influence
  u_i = N (h_i − p e_i) / E on the run's PCK, and Var(PCK) ≈ S²(u) / N (the analytic limit of
  the paired bootstrap). The part of a seed-averaged difference's image variance that is *shared
  by different runs* (cross-run covariances: images that are hard for every seed) is not in the
  seed spread and is added to it; the part private to each run (its own misses) is already in the
  seed spread, so it is not counted twice.

:func:`config_diff` (two configurations) and :func:`config_mean` (one) return
estimate ± t_ν · sqrt(seed variance + shared image variance), with ν from Welch-Satterthwaite,
and never narrower than either single-source interval (Welch's over seeds alone, the paired one
over images alone). Everything is analytic: no Monte-Carlo
noise, so a verdict cannot flip with the number of bootstrap replicates. Fewer than two seeds on
a side gives an undefined interval (NaN), which :func:`verdict` reads as inconclusive.

The metric everywhere is the pooled PCK over the chosen joints, sum(hits) / sum(evaluated), which
is how the official MPII evaluation averages joints (per-joint PCKh weighted by the number of
annotated instances).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from scipy import stats as _sps

#: One evaluated run: ``(hits, evaluated)``, both ``N×J`` bool over the same N validation images.
Hits = tuple[np.ndarray, np.ndarray]

#: Fewest seeds per configuration behind a defined interval: one run says nothing about seed noise.
MIN_SEEDS = 2
#: How an undefined interval (one seed on a side) is written everywhere, never as ``[nan, nan]``.
NO_INTERVAL = "one seed: no interval"


def signed(x: float, spec: str = ".2f") -> str:
    """``x`` with its sign always written, as the book prints differences: ``+1.26``, ``−0.44``.

    The minus is U+2212, the sign the papers print (and the book's ``A − B`` labels use), so a
    negative difference reads the same in a sentence as the paper's number beside it.
    """
    return format(x, "+" + spec).replace("-", "−")


def interval_text(estimate: float, low: float, high: float, spec: str = ".2f", unit: str = "",
                  undefined: str = NO_INTERVAL) -> str:
    """``+1.15 [+0.47, +1.84]``, or ``+1.15 (one seed: no interval)`` when a bound is NaN.

    ``unit`` follows the estimate (``+0.120/epoch [+0.050, +0.190]``); ``undefined`` says why
    there is no interval. Every signed interval the book writes goes through here.
    """
    head = signed(estimate, spec) + unit
    if math.isnan(low) or math.isnan(high):
        return f"{head} ({undefined})"
    return f"{head} [{signed(low, spec)}, {signed(high, spec)}]"


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided confidence interval, in PCK points (0-100) or the metric's unit.

    ``method`` says how it was obtained; ``n`` is the number of images (paired bootstrap) or the
    fewest seeds on a side; ``n_a`` and ``n_b`` the seeds of each side (0 when not applicable).
    Analytic intervals keep their standard error ``se`` with ``df`` degrees of freedom (``inf``:
    normal), and the two single-source intervals they are never narrower than: seeds only
    (``se_seeds``, ``df_seeds``; Welch) and images only (``se_images``, normal). :meth:`at`
    recomputes them at another level (a Bonferroni-corrected one).
    """

    estimate: float
    low: float
    high: float
    level: float
    method: str
    n: int
    n_a: int = 0
    n_b: int = 0
    se: float = math.nan
    df: float = math.inf
    se_images: float = 0.0
    se_seeds: float = 0.0
    df_seeds: float = math.inf

    def __str__(self) -> str:
        return interval_text(self.estimate, self.low, self.high)

    @property
    def defined(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    def at(self, level: float) -> "Interval":
        """The same interval at confidence ``level`` (only for analytic intervals, those with ``se``)."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        if math.isnan(self.se):
            if self.defined:
                raise ValueError(f"a {self.method!r} interval keeps no standard error; it cannot change level")
            return replace(self, level=level)
        half = _half_width(self.se, self.df, self.se_images, level, self.se_seeds, self.df_seeds)
        return replace(self, low=self.estimate - half, high=self.estimate + half, level=level)


def _t(q: float, df: float) -> float:
    return float(_sps.t.ppf(q, df)) if math.isfinite(df) else float(_sps.norm.ppf(q))


def _half_width(se: float, df: float, se_images: float, level: float, se_seeds: float = 0.0,
                df_seeds: float = math.inf) -> float:
    """The widest of: both sources (t_df · se), seeds alone (t_df_seeds · se_seeds), images alone (z · se_images).

    Welch-Satterthwaite can give the combined variance more degrees of freedom than its seed
    part has, when the well-estimated image part dominates; taking the widest keeps the interval
    at least as wide as each single-source interval, so neither source can be argued away.
    """
    q = 0.5 * (1 + level)
    return max(_t(q, df) * se, _t(q, df_seeds) * se_seeds, _t(q, math.inf) * se_images)


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
    """Difference PCK(a) − PCK(b) of two single runs over the same images, with a percentile interval.

    Every resample draws N image indices with replacement and recomputes both runs' pooled PCK
    on them, so the noise shared by the two runs (easy and hard images) cancels. This is image
    noise only: it says nothing about seeds, so the book's verdicts use :func:`config_diff`.
    """
    n = _check_same_images([a, b])
    (ha, ea), (hb, eb) = _per_image_counts(a, joints), _per_image_counts(b, joints)
    w = _image_weights(n, n_boot, np.random.default_rng(seed))
    diffs = 100.0 * (w @ ha / (w @ ea) - w @ hb / (w @ eb))
    est = pooled_pck(a, joints) - pooled_pck(b, joints)
    lo, hi = np.percentile(diffs, [50 * (1 - level), 50 * (1 + level)])
    return Interval(est, float(lo), float(hi), level, "paired bootstrap", n)


def welch_interval(values_a: Sequence[float], values_b: Sequence[float], *, level: float = 0.95) -> Interval:
    """mean(A) − mean(B) of two sets of per-seed values ± Welch's t (Welch-Satterthwaite df); NaN under two seeds a side.

    :func:`config_diff` without its image part, for values that have no hits (an epoch's
    stored PCK, a per-seed slope).
    """
    a, b = np.asarray(values_a, np.float64), np.asarray(values_b, np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("each side needs at least one value (one per seed)")
    est = float(a.mean() - b.mean())
    n = int(min(a.size, b.size))
    if n < MIN_SEEDS:
        return Interval(est, math.nan, math.nan, level, "Welch t over seeds", n, int(a.size), int(b.size))
    pa, pb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    var = float(pa + pb)
    denom = pa**2 / (a.size - 1) + pb**2 / (b.size - 1)
    df = var**2 / denom if denom > 0 else math.inf
    se = math.sqrt(var)
    half = _t(0.5 * (1 + level), df) * se
    return Interval(est, est - half, est + half, level, "Welch t over seeds", n, int(a.size), int(b.size),
                    se=se, df=df)


def seed_interval(values: Sequence[float], *, level: float = 0.95) -> Interval:
    """Mean of per-seed values (a metric, or a difference paired by seed) ± Student-t interval.

    With one seed the interval is undefined (``nan``): one run says nothing about seed noise.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no values; pass one metric (or difference) per seed")
    mean = float(v.mean())
    if v.size < MIN_SEEDS:
        return Interval(mean, math.nan, math.nan, level, "t over seeds", int(v.size), int(v.size))
    se = float(v.std(ddof=1) / math.sqrt(v.size))
    half = _half_width(se, v.size - 1, 0.0, level)
    return Interval(mean, mean - half, mean + half, level, "t over seeds", int(v.size), int(v.size), se=se,
                    df=float(v.size - 1))


def _influences(run: Hits, joints: Sequence[int] | None) -> tuple[float, np.ndarray]:
    """A run's pooled PCK (points) and each image's influence on it, ``100 · N (h_i − p e_i) / E``.

    The delta method for a ratio estimator: PCK ≈ p + mean(u); its image-sampling variance is
    S²(u) / N (what a paired bootstrap over images estimates, without Monte-Carlo noise).
    """
    h, e = _per_image_counts(run, joints)
    total = e.sum()
    if total == 0:
        raise ValueError("no evaluated joints in the chosen columns; check the joint columns")
    p = h.sum() / total
    return float(100.0 * p), 100.0 * len(h) * (h - p * e) / total


def _combined(runs: Sequence[tuple[Hits, float]], groups: Sequence[Sequence[float]], joints: Sequence[int] | None,
              level: float, method: str, n_a: int, n_b: int) -> Interval:
    """``Σ w_r PCK_r`` with the seed variance of ``groups`` (Welch) plus the image variance shared across runs."""
    n_img = _check_same_images([r for r, _ in runs])
    pcks, infl = zip(*(_influences(r, joints) for r, _ in runs))
    w = np.array([wt for _, wt in runs])
    estimate = float(np.dot(w, pcks))
    n_seeds = min(len(g) for g in groups)
    if n_seeds < MIN_SEEDS:
        return Interval(estimate, math.nan, math.nan, level, f"{method}; fewer than {MIN_SEEDS} seeds", n_seeds,
                        n_a, n_b)
    u = np.stack(infl)                                        # runs × images
    total = np.var(w @ u, ddof=1) / n_img                     # image variance of the weighted sum
    private = float(np.sum(w**2 * np.var(u, axis=1, ddof=1)) / n_img)  # each run's own misses: in the seed spread
    shared = max(float(total) - private, 0.0)
    parts = [np.var(g, ddof=1) / len(g) for g in groups]      # Welch: s² / n per configuration
    seed_var = float(sum(parts))
    var = seed_var + shared
    denom = sum(p**2 / (len(g) - 1) for p, g in zip(parts, groups)) + (shared**2 / (n_img - 1) if n_img > 1 else 0.0)
    df = var**2 / denom if denom > 0 else math.inf          # Welch-Satterthwaite
    seed_df = seed_var**2 / sum(p**2 / (len(g) - 1) for p, g in zip(parts, groups)) if seed_var > 0 else math.inf
    se, se_images, se_seeds = math.sqrt(var), math.sqrt(float(total)), math.sqrt(seed_var)
    half = _half_width(se, df, se_images, level, se_seeds, seed_df)
    return Interval(estimate, estimate - half, estimate + half, level, method, n_seeds, n_a, n_b, se=se, df=df,
                    se_images=se_images, se_seeds=se_seeds, df_seeds=seed_df)


def config_diff(runs_a: Sequence[Hits], runs_b: Sequence[Hits], joints: Sequence[int] | None = None, *,
                level: float = 0.95) -> Interval:
    """Seed-mean PCK of configuration A − configuration B (one run per seed, same images), with its interval.

    Seeds: Welch's t over the per-seed PCKs (A's seeds and B's need not be the same). Images: the
    variance of the difference over validation images that is shared across runs (cross-run
    covariances of the delta-method influences). The half-width is t_ν · sqrt(seed + shared
    image variance), ν by Welch-Satterthwaite, and never less than Welch's interval over seeds
    alone or the paired image-only interval. With fewer than :data:`MIN_SEEDS` seeds on a side the interval is NaN.
    """
    if not runs_a or not runs_b:
        raise ValueError("each configuration needs at least one run (one per seed)")
    pa = [pooled_pck(r, joints) for r in runs_a]
    pb = [pooled_pck(r, joints) for r in runs_b]
    weighted = [(r, 1.0 / len(runs_a)) for r in runs_a] + [(r, -1.0 / len(runs_b)) for r in runs_b]
    return _combined(weighted, [pa, pb], joints, level, "Welch t over seeds + shared image variance",
                     len(runs_a), len(runs_b))


def config_mean(runs: Sequence[Hits], joints: Sequence[int] | None = None, *, level: float = 0.95) -> Interval:
    """Seed-mean PCK of one configuration with the interval of :func:`config_diff` (t over seeds + images).

    What the book's figures draw as error bars and its tables print as a configuration's interval,
    cut to [0, 100] where PCK lies (so :meth:`Interval.at` does not apply to it).
    """
    if not runs:
        raise ValueError("a configuration needs at least one run (one per seed)")
    p = [pooled_pck(r, joints) for r in runs]
    ci = _combined([(r, 1.0 / len(runs)) for r in runs], [p], joints, level,
                   "t over seeds + shared image variance", len(runs), 0)
    if not ci.defined:
        return ci
    return replace(ci, low=max(ci.low, 0.0), high=min(ci.high, 100.0))  # PCK lies in [0, 100]


def bonferroni_level(level: float, comparisons: int) -> float:
    """The per-comparison level that keeps a family of ``comparisons`` at ``level`` (Bonferroni)."""
    if comparisons < 1:
        raise ValueError(f"comparisons must be at least 1, got {comparisons}")
    return 1.0 - (1.0 - level) / comparisons


def verdict(diff: Interval, claimed_sign: int, *, margin: float = 0.0) -> str:
    """Whether a measured difference supports a paper's claim; the rule the book applies.

    ``claimed_sign`` is +1 (the paper says A beats B), −1 (A is worse) or 0 (no difference,
    e.g. PBN's "overlapping groups do not improve"; needs ``margin`` > 0, the largest
    difference in points still counted as none).

    * ±1: **confirmed** when the whole interval lies strictly on the claimed side of 0, **not
      confirmed** when it lies strictly on the other side, else **inconclusive**: an interval that
      touches 0 shows no direction.
    * 0: **confirmed** when the interval lies strictly inside (−margin, margin), **not confirmed**
      when it lies strictly outside [−margin, margin], else **inconclusive**.
    * An undefined interval (``nan``: fewer than two seeds) is **inconclusive**.

    With a 95% interval each one-sided conclusion has a 2.5% error rate.
    """
    if claimed_sign not in (-1, 0, 1):
        raise ValueError(f"claimed_sign must be -1, 0 or +1, got {claimed_sign!r}")
    if claimed_sign == 0 and margin <= 0:
        raise ValueError("a 'no difference' claim needs margin > 0 (points counted as no difference)")
    if not diff.defined:
        return "inconclusive"
    lo, hi = diff.low, diff.high
    if claimed_sign == 0:
        if -margin < lo and hi < margin:
            return "confirmed"
        if lo > margin or hi < -margin:
            return "not confirmed"
        return "inconclusive"
    lo, hi = sorted((claimed_sign * lo, claimed_sign * hi))
    if lo > 0:
        return "confirmed"
    if hi < 0:
        return "not confirmed"
    return "inconclusive"
