"""Would a verdict change with more training? How a claimed gain moved over the last half of training (issue 30).

A :class:`lib.gap_curves.GapCurve` traces a comparison A − B of :mod:`lib.paper` epoch by epoch,
the seed mean with a 95% band over seeds. :func:`classify_trend` classifies the last half of
training as widening, narrowing or flat, with the slope's interval over seeds as replicates, and
finds the epoch from which the final verdict's sign holds (:class:`Trend`); :func:`snapshot` says
whether the answer was already clear at a quarter or half of training: the band excluding 0 on the
final gap's side, and the claim's verdict (:func:`lib.verdicts.comparison_verdict`) on that band.

Caveats a reader needs: the epoch-t value is the run's state at epoch t of a schedule planned for
all epochs (the learning rate drops at PBN's milestones, KPTransfer's plateau drops), not the
result of a shorter run; and the band is over seeds only (:mod:`lib.gap_curves`), so a snapshot's
band can be narrower than the final verdict's interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from lib.gap_curves import GapCurve
from lib.stats import Interval, interval_text, seed_interval, welch_interval
from lib.verdicts import LEVEL, comparison_verdict


#: Classes of the last half of training (:class:`Trend`).
KINDS = ("widening", "narrowing", "flat", "no interval")


def slope_spec(metric: str) -> str:
    """The format of a gap's slope per epoch: a training loss moves by ~1e-5 an epoch, PCK by ~0.1 points."""
    return ".2e" if metric == "train_loss" else ".3f"


@dataclass(frozen=True)
class Trend:
    """How the gap moved over the last half of training, and since when its sign holds.

    Attributes:
        kind: ``widening`` (the slope's interval excludes 0 on the final gap's side: |gap| grows),
            ``narrowing`` (excludes 0 on the other side), ``flat`` (contains 0), ``no interval``
            (fewer than two seeds: a slope but no interval), or ``too short`` (runs stopped early:
            fewer than two epochs in the last half, no slope).
        slope: gap change per epoch over ``window``, seed mean with a t-interval over the seeds'
            own least-squares slopes (seeds as replicates; Welch's over the two sides' slopes when
            unpaired).
        per_million: factor from per epoch to per million training images.
        window: first and last epoch of the last half.
        final: the gap whose sign is the verdict's.
        sign_from: first epoch from which the seed-mean gap has the final sign at every later
            epoch (None: not even at the last epoch).
        band_from: the same for the band excluding 0 on that side (None: never, or no band).
        crosses: the seed-mean gap takes both signs within the window.
        unit: the gap's unit; ``metric``: the comparison's metric (for formatting).
    """

    kind: str
    slope: Interval
    per_million: float
    window: tuple[int, int]
    final: float
    sign_from: int | None
    band_from: int | None
    crosses: bool = False
    unit: str = "PCK points"
    metric: str = "pck"

    @property
    def slope_per_million(self) -> Interval:
        f = self.per_million
        s = self.slope
        return replace(s, estimate=s.estimate * f, low=s.low * f, high=s.high * f, se=s.se * f)

    def slope_text(self) -> str:
        spec = slope_spec(self.metric)
        s = self.slope
        if math.isnan(s.estimate):
            return "no slope (fewer than two epochs in the last half)"
        return interval_text(s.estimate, s.low, s.high, spec, "/epoch", f"{s.n} seed{'s' * (s.n != 1)}: no interval")

    def sign_text(self) -> str:
        if self.sign_from is None:
            return "final sign not held at the last epoch"
        band = "" if self.band_from is None else f", band clear of 0 from epoch {self.band_from}"
        return f"sign from epoch {self.sign_from}{band}"

    def text(self) -> str:
        """``widening +0.120/epoch [+0.050, +0.190]; sign from epoch 6, band clear of 0 from epoch 9``."""
        kind = {"no interval": "slope", "too short": "too short:"}.get(self.kind, self.kind)
        cross = " (the gap crosses 0 in the last half)" if self.crosses else ""
        return f"{kind} {self.slope_text()}{cross}; {self.sign_text()}"

    def short(self) -> str:
        """``widening, sign from 6`` (for a family's cell of the claims table)."""
        s = "sign not held" if self.sign_from is None else f"sign from {self.sign_from}"
        return f"{self.kind}{' (crossing 0)' if self.crosses else ''}, {s}"


def _sign_holds(ok: pd.Series) -> int | None:
    """First epoch from which ``ok`` (indexed by epoch) is True at every later epoch."""
    ok = ok.sort_index()
    if ok.empty or not bool(ok.iloc[-1]):
        return None
    bad = ok.index[~ok.to_numpy(bool)]
    later = ok.index[ok.index > bad.max()] if len(bad) else ok.index
    return int(later.min())


def _on_side(curve: GapCurve, sign: float) -> tuple[pd.Series, pd.Series]:
    f = curve.frame.set_index("epoch")
    if sign == 0:
        return f["gap"] == 0, pd.Series(False, index=f.index)
    mean_ok = np.sign(f["gap"]) == sign
    band_ok = (f["low"] > 0) if sign > 0 else (f["high"] < 0)
    return mean_ok, band_ok.fillna(False)


def _slopes(values: pd.DataFrame, window: tuple[int, int]) -> dict[int, float]:
    """Least-squares slope per seed of ``value`` against ``epoch`` inside ``window`` (two epochs at least)."""
    out = {}
    w = values[(values["epoch"] >= window[0]) & (values["epoch"] <= window[1])]
    for seed, d in w.groupby("seed"):
        if d["epoch"].nunique() >= 2:
            out[int(seed)] = float(np.polyfit(d["epoch"].to_numpy(float), d["value"].to_numpy(float), 1)[0])
    return out


def classify_trend(curve: GapCurve, *, level: float = LEVEL) -> Trend:
    """The last half of training (epochs after half of :attr:`lib.gap_curves.GapCurve.epochs`): slope, class,
    sign-holding epoch.

    Seeds are the replicates: each seed's gap (paired) or each side's seed curve (unpaired) gets
    its own least-squares slope, and the interval is Student's t over the paired seeds' slopes
    (:func:`lib.stats.seed_interval`), or Welch's over the two sides' (:func:`welch_interval`).
    """
    if curve.frame.empty:
        raise ValueError(f"{curve.title}: no epoch with both sides; nothing to classify")
    window = (curve.epochs // 2 + 1, curve.epochs)
    ps = curve.per_seed
    if curve.paired:
        wide = ps.pivot_table(index=["seed", "epoch"], columns="side", values="value").dropna().reset_index()
        wide["value"] = wide["A"] - wide["B"]
        slopes = _slopes(wide, window)
        slope = seed_interval(list(slopes.values()), level=level) if slopes else None
    else:
        sa, sb = _slopes(ps[ps["side"] == "A"], window), _slopes(ps[ps["side"] == "B"], window)
        slope = welch_interval(list(sa.values()), list(sb.values()), level=level) if sa and sb else None
    if slope is None:  # runs stopped early: fewer than two epochs of some seed in the last half
        slope = Interval(math.nan, math.nan, math.nan, level, "too few epochs in the last half", 0)
    final = curve.final_gap()
    sign = float(np.sign(final))
    if math.isnan(slope.estimate):
        kind = "too short"
    elif not slope.defined:
        kind = "no interval"
    elif slope.low > 0 or slope.high < 0:
        kind = "widening" if sign != 0 and np.sign(slope.estimate) == sign else "narrowing"
    else:
        kind = "flat"
    mean_ok, band_ok = _on_side(curve, sign)
    gaps = curve.frame.loc[curve.frame["epoch"].between(*window), "gap"]
    crosses = bool((gaps > 0).any() and (gaps < 0).any())
    return Trend(kind, slope, 1e6 / curve.images_per_epoch, window, final, _sign_holds(mean_ok),
                 _sign_holds(band_ok), crosses, curve.unit, curve.comparison.metric)


@dataclass(frozen=True)
class Snapshot:
    """The gap at a fraction of training: ``epoch``, the band (``diff``), and whether it was clear.

    ``clear``: the band excludes 0 on the final gap's side (None: no band, fewer than two seeds);
    ``verdict``: the claim's verdict by :func:`lib.verdicts.comparison_verdict` on the seeds-only band
    (empty without a claim).
    """

    fraction: float
    epoch: int
    diff: Interval
    clear: bool | None
    verdict: str = ""


def snapshot(curve: GapCurve, fraction: float, *, level: float | None = None) -> Snapshot:
    """The gap at ``fraction`` of training (epoch ⌈fraction · epochs⌉, or the last one reached before it)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    target = max(1, math.ceil(fraction * curve.epochs - 1e-9))
    reached = curve.frame.loc[curve.frame["epoch"] <= target, "epoch"]
    if reached.empty:
        raise ValueError(f"{curve.title}: no epoch at or before {target}")
    epoch = int(reached.max())
    diff = curve.interval(epoch, curve.level if level is None else level)
    sign = np.sign(curve.final_gap())
    clear = None if not diff.defined else bool(diff.low > 0 if sign > 0 else diff.high < 0 if sign < 0 else False)
    verdict = ""
    if curve.claim is not None:
        verdict = comparison_verdict(curve.measurement(epoch), curve.claim, curve.comparison.metric, curve.family)[0]
    return Snapshot(fraction, epoch, diff, clear, verdict)


def clear_at(curve: GapCurve, fraction: float) -> bool | None:
    """Whether the band already excluded 0 with the final sign at ``fraction`` of training (None: no band)."""
    return snapshot(curve, fraction).clear
