"""A claimed gain traced over training: would a verdict change with more training? (issue 30)

Every record keeps the validation table of each epoch (``Record.history``: ``val_Mean``,
``val_Hard`` and one ``val_`` column per table column present, PCK over all annotated joints).
For a comparison A − B of :mod:`lib.paper` this module reads the same records the claims table
reads (:class:`lib.claims.RecordSource`) and traces, epoch by epoch, the difference of the
comparison's metric: the seed mean of A − B with a 95% t-interval over seeds
(:func:`gap_over_training`), then classifies the last half of training as widening, narrowing or
flat, with the slope's interval over seeds as replicates, and finds the epoch from which the final
verdict's sign holds (:func:`classify_trend`) and whether the answer was already clear at a quarter
or half of training (:func:`snapshot`).

What is traced, per metric of :class:`lib.paper.Comparison`:

* ``pck``: the stored column with exactly the claim's joints (``val_Mean``, ``val_Hard``,
  ``val_Wri.`` ...); else the claim's joints pooled from the stored table columns, weighted by
  each column's evaluated joints (constant over epochs, read from the record's ``.npz``): exact for
  unions of columns (upper body = Head, Sho., Elb., Wri.), and *approximate* where a joint is in no
  column (thorax, pelvis), which the curve says (``exact``, ``note``). The history stores no
  visibility split, so a selection of visible, invisible or occluded joints has **no per-epoch
  data** (:class:`NoHistory`) unless ``visibility_fallback`` asks for the all-joints curve,
  marked approximate.
* ``train_loss``: the epoch's mean training loss (the record's final ``train_loss`` is the last
  epoch's).
* ``convergence``: the claim's own measure truncated at each epoch, the running mean of
  ``val_Mean`` over epochs 1..t (KPTransfer Fig. 3; at the last epoch it is the claims table's).

Pairing: as :func:`lib.claims.measure_comparison`, so that the last epoch's band is the seed part
of the verdict's interval. PCK takes every seed of each side, Welch's t over the two sides' seeds
(``paired=True`` pairs them by seed instead, when both sides have the same seeds: with three
seeds that halves the degrees of freedom, and runs of two architectures sharing a seed share
little); losses and convergence pair on the seeds both sides have. **The band is over seeds
only**: per-epoch hits are not stored, so the image variance that the claims table's PCK
intervals add (:func:`lib.stats.config_diff`) is missing and a per-epoch band can be narrower
than the final verdict's interval.

Caveats a reader needs: the epoch-t value is the run's state at epoch t of a schedule planned for
all epochs (the learning rate drops at PBN's milestones, KPTransfer's plateau drops), not the
result of a shorter run; and the claims table measures KPTransfer at each run's selected (best)
epoch, so its estimate can differ from the last epoch's gap (:func:`trace_claims` takes the
table's estimate as the final sign when the traced column is exact).

For a chapter: :func:`trace_claims` (every comparison of the claims with records, or the reason it
has no curve), :func:`trend_table` (trend, slope, sign-holding epoch, and the answer at a quarter
and half of training), :func:`stability_text` (that answer in words), :func:`over_training_column`
(the claims table's ``over training`` column) and :func:`lib.figures.gap_panels` (one small panel
per comparison).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd

from lib import joints as J
from lib.claims import LEVEL, Measurement, RecordSource, common_joints, comparison_verdict, format_interval
from lib.paper import Claim, Comparison, Selection, profile_claims
from lib.results import Record
from lib.stats import MIN_SEEDS, Interval, seed_interval, welch_interval

#: Fractions of training at which :func:`trend_table` asks whether the answer was already clear.
FRACTIONS = (0.25, 0.5)
#: Classes of the last half of training (:class:`Trend`).
KINDS = ("widening", "narrowing", "flat", "no interval")


class NoHistory(ValueError):
    """The records hold no per-epoch value of what a comparison measures (e.g. invisible joints)."""


# ---- one comparison, epoch by epoch ------------------------------------------------------------


@dataclass(frozen=True)
class GapCurve:
    """A − B of one comparison at every epoch, from the records' histories.

    Attributes:
        comparison: what is compared (:class:`lib.paper.Comparison`).
        frame: one row per epoch: ``epoch``, ``images`` (training images seen), ``n_a``, ``n_b``
            (seeds at that epoch), ``mean_a``, ``mean_b``, ``gap`` (seed mean of A − B), ``low``,
            ``high`` (95% band over seeds; NaN with fewer than two), ``se``, ``df``.
        per_seed: one row per seed, side and epoch: ``side`` (``A``/``B``), ``seed``, ``epoch``, ``value``.
        column: what was read (``val_Hard``, ``val_Hip + val_Knee (pooled)``, ``train_loss`` ...).
        exact: whether that is what the claims table measures (else ``note`` says how it differs).
        paired: differences paired by seed (else Welch over the two sides' seeds).
        epochs: training length, the planned epochs (or the longest history, if longer).
        images_per_epoch: training images per epoch (A's schedule).
        claim: the claim it tests, when known; ``family``: its number of comparisons.
        paper: the paper's A − B for this comparison, when the claim gives a number.
        final: the difference whose sign is the verdict's (the claims table's estimate), if given.
        level: the band's confidence level.
    """

    comparison: Comparison
    frame: pd.DataFrame
    per_seed: pd.DataFrame
    column: str
    exact: bool
    note: str
    paired: bool
    epochs: int
    images_per_epoch: int
    claim: Claim | None = None
    family: int = 1
    paper: float | None = None
    final: float | None = None
    level: float = LEVEL

    @property
    def label(self) -> str:
        c = self.comparison
        return c.label or f"{c.a} − {c.b}"

    @property
    def title(self) -> str:
        """``claim-id`` (plus the comparison's label in a family), ``≈`` marking an approximate column."""
        head = self.claim.id if self.claim is not None else f"{self.comparison.a} − {self.comparison.b}"
        if self.claim is not None and self.family > 1:
            head += f": {self.label}"
        return ("≈ " if not self.exact else "") + head

    @property
    def unit(self) -> str:
        m = self.comparison.metric
        return {"pck": "PCK points", "train_loss": "training loss", "convergence": "points (running mean)"}[m]

    @property
    def pairing(self) -> str:
        return "paired by seed" if self.paired else "Welch over seeds"

    def final_gap(self) -> float:
        """The difference whose sign counts: :attr:`final` if given, else the last epoch's seed mean."""
        if self.final is not None and not math.isnan(self.final):
            return float(self.final)
        return float(self.frame["gap"].dropna().iloc[-1])

    def interval(self, epoch: int, level: float = LEVEL) -> Interval:
        """The band at ``epoch`` as an :class:`~lib.stats.Interval` (at ``level``)."""
        row = self.frame.loc[self.frame["epoch"] == epoch].iloc[0]
        n = int(min(row["n_a"], row["n_b"]))
        diff = Interval(float(row["gap"]), float(row["low"]), float(row["high"]), self.level, self.pairing, n,
                        int(row["n_a"]), int(row["n_b"]), se=float(row["se"]), df=float(row["df"]))
        return diff if level == self.level else diff.at(level)

    def measurement(self, epoch: int) -> Measurement:
        """The epoch's difference as :func:`lib.claims.comparison_verdict` takes it (seeds, side means)."""
        sub = self.per_seed[self.per_seed["epoch"] == epoch]
        sa = tuple(sorted(int(s) for s in sub.loc[sub["side"] == "A", "seed"]))
        sb = tuple(sorted(int(s) for s in sub.loc[sub["side"] == "B", "seed"]))
        if self.paired:
            sa = sb = tuple(s for s in sa if s in sb)
        row = self.frame.loc[self.frame["epoch"] == epoch].iloc[0]
        return Measurement(self.interval(epoch), sa, sb, float(row["mean_a"]), float(row["mean_b"]), self.paired)


def _stored_column(rec: Record, joints: Sequence[int], prefix: str = "val_") -> tuple[str, pd.Series, tuple[int, ...]]:
    """``(column, values by epoch, joints left out)`` for the pooled PCK of ``joints`` in ``rec``'s history.

    ``prefix`` picks the table: ``val_`` all joints, ``val_invisible_`` (``val_visible_``,
    ``val_self_occluded_``, ...) one visibility, in records written since the engine logs them.
    The one stored column with exactly these joints if there is one; else the stored table columns
    inside ``joints`` pooled by their evaluated counts (constant over epochs), leaving out joints
    in no column. :class:`NoHistory` when no stored column falls inside ``joints``.
    """
    hist = rec.history.set_index("epoch")
    ids = [int(j) for j in rec.data["joint_ids"]]
    have, target = set(ids), set(int(j) for j in joints)
    direct = {f"{prefix}Mean": have - set(J.MEAN_EXCLUDED), f"{prefix}Hard": have & set(J.HARD_JOINTS),
              **{f"{prefix}{c}": have & set(m) for c, m in J.TABLE_COLUMNS.items()}}
    for col, members in direct.items():
        if members == target and col in hist:
            return col, hist[col].astype(float), ()
    evaluated = rec.arrays()["evaluated"].astype(bool)
    parts, weights = [], []
    for c, m in J.TABLE_COLUMNS.items():
        members = have & set(m)
        if members and members <= target and f"{prefix}{c}" in hist:
            count = int(evaluated[:, [ids.index(j) for j in sorted(members)]].sum())
            if count:
                parts.append(c)
                weights.append(count)
    if not parts:
        raise NoHistory(f"no stored column of {rec.path.name} lies inside the selected joints")
    covered = set().union(*(have & set(J.TABLE_COLUMNS[c]) for c in parts))
    w = np.asarray(weights, np.float64)
    values = (hist[[f"{prefix}{c}" for c in parts]].astype(float) * w).sum(axis=1) / w.sum()
    return " + ".join(f"{prefix}{c}" for c in parts) + " (pooled)", values, tuple(sorted(target - covered))


def _values(rec: Record, comp: Comparison, joints: Sequence[int] | None,
            prefix: str = "val_") -> tuple[str, pd.Series, tuple[int, ...]]:
    """``(column, values indexed by epoch, joints left out)`` of ``comp``'s metric in one record."""
    hist = rec.history.set_index("epoch")
    if comp.metric == "train_loss":
        return "train_loss", hist["train_loss"].astype(float), ()
    if comp.metric == "convergence":
        return "running mean of val_Mean", hist["val_Mean"].astype(float).expanding().mean(), ()
    return _stored_column(rec, joints, prefix)


def _schedule(source: RecordSource, name: str, seed: int) -> tuple[int, int]:
    s = source.experiment(name, seed).schedule
    return int(s.epochs), int(s.iters_per_epoch * s.batch_size)


def _all_visible(runs: Sequence[Record]) -> bool:
    """Whether every evaluated joint of every run is visible (LSP Extended annotates visible joints only)."""
    for r in runs:
        a = r.arrays()
        if (a["evaluated"].astype(bool) & ~a["visible"].astype(bool)).any():
            return False
    return True


def gap_over_training(source: RecordSource, comparison: Comparison, *, paired: bool | None = None,
                      visibility_fallback: bool = False, level: float = LEVEL) -> GapCurve:
    """A − B of ``comparison`` at every epoch of the records of ``source`` (see the module docstring).

    ``source`` is the one the claims table reads the comparison from (for a claim,
    ``source.for_claim(claim)``). ``paired``: None = as the claims table (PCK: Welch over each
    side's seeds, the seed part of :func:`lib.stats.config_diff`; losses and convergence: paired by
    seed, :func:`lib.stats.seed_interval`); True pairs PCK by seed when both sides have the same
    seeds. Raises ``LookupError`` when a side has no record and :class:`NoHistory` when the
    histories cannot trace the selection (visibility-restricted joints, unless every evaluated
    joint is visible and the selection asks for visible ones, or ``visibility_fallback`` asks for
    the all-joints curve, marked approximate).
    """
    comp = comparison
    runs_a, runs_b = source.runs(comp.a), source.runs(comp.b)
    if not runs_a or not runs_b:
        raise LookupError(", ".join(source.missing([comp.a, comp.b])))
    notes, exact = [], True
    sel = comp.selection
    prefix = "val_"
    if comp.metric == "pck" and sel.visibility != "all":
        if all(f"val_{sel.visibility}_Mean" in r.data["history"][0] for r in runs_a + runs_b):
            prefix = f"val_{sel.visibility}_"  # the engine logs this visibility's table every epoch
        elif sel.visibility == "visible" and _all_visible(runs_a + runs_b):
            notes.append("every evaluated joint is visible, so all joints are the visible ones")
        elif not visibility_fallback:
            raise NoHistory("no per-epoch data: the history stores PCK over all joints, not "
                            f"{sel.visibility.replace('_', '-')} ones")
        else:
            notes.append(f"all joints, not only {sel.visibility.replace('_', '-')} ones (the history has no "
                         "visibility split)")
            exact = False
        sel = Selection(sel.label, sel.joints, "all")
    joints = common_joints(runs_a + runs_b, sel) if comp.metric == "pck" else None
    if comp.metric == "pck":
        paired = bool(paired) and {r.seed for r in runs_a} == {r.seed for r in runs_b}
    else:
        common = {r.seed for r in runs_a} & {r.seed for r in runs_b}
        if not common:
            raise LookupError(f"{comp.a} and {comp.b} have no seed in common")
        runs_a = [r for r in runs_a if r.seed in common]
        runs_b = [r for r in runs_b if r.seed in common]
        paired = True
    rows, columns, dropped = [], [], set()
    for side, runs in (("A", runs_a), ("B", runs_b)):
        for r in runs:
            col, values, left = _values(r, comp, joints, prefix)
            columns.append(col)
            dropped.update(left)
            rows += [{"side": side, "seed": r.seed, "epoch": int(e), "value": float(v)}
                     for e, v in values.items() if not math.isnan(v)]
    if dropped:
        exact = False
        notes.append("without " + ", ".join(J.MPII_JOINTS[j] for j in sorted(dropped)) + " (in no stored column)")
    per_seed = pd.DataFrame(rows, columns=["side", "seed", "epoch", "value"])
    planned, per_epoch = _schedule(source, comp.a, runs_a[0].seed)
    epochs = max(planned, int(per_seed["epoch"].max()))
    frame = _epoch_frame(per_seed, paired, level)
    frame.insert(1, "images", frame["epoch"] * per_epoch)
    column = " / ".join(dict.fromkeys(columns))
    return GapCurve(comp, frame, per_seed, column, exact, "; ".join(notes), paired, epochs, per_epoch, level=level)


def _epoch_frame(per_seed: pd.DataFrame, paired: bool, level: float) -> pd.DataFrame:
    wide = per_seed.pivot_table(index="epoch", columns=["side", "seed"], values="value")
    rows = []
    for epoch, row in wide.iterrows():
        a, b = row["A"].dropna(), row["B"].dropna()
        if a.empty or b.empty:
            continue
        if paired:
            seeds = sorted(set(a.index) & set(b.index))
            if not seeds:
                continue
            diff = seed_interval([a[s] - b[s] for s in seeds], level=level)
            a, b = a[seeds], b[seeds]
        else:
            diff = welch_interval(a.to_numpy(), b.to_numpy(), level=level)
        rows.append({"epoch": int(epoch), "n_a": len(a), "n_b": len(b), "mean_a": float(a.mean()),
                     "mean_b": float(b.mean()), "gap": diff.estimate, "low": diff.low, "high": diff.high,
                     "se": diff.se, "df": diff.df})
    return pd.DataFrame(rows, columns=["epoch", "n_a", "n_b", "mean_a", "mean_b", "gap", "low", "high", "se", "df"])


# ---- the last half of training ------------------------------------------------------------------


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
        fmt = "{:+.2e}" if self.metric == "train_loss" else "{:+.3f}"
        s = self.slope
        if math.isnan(s.estimate):
            return "no slope (fewer than two epochs in the last half)"
        if not s.defined:
            return f"{fmt.format(s.estimate)}/epoch ({s.n} seed{'s' * (s.n != 1)}: no interval)"
        return f"{fmt.format(s.estimate)}/epoch [{fmt.format(s.low)}, {fmt.format(s.high)}]"

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
    """The last half of training (epochs after half of :attr:`GapCurve.epochs`): slope, class, sign-holding epoch.

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
    ``verdict``: the claim's verdict by :func:`lib.claims.comparison_verdict` on the seeds-only band
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


# ---- every claim --------------------------------------------------------------------------------

_SIGNED = re.compile(r"(?<![\w.])([+−-]\d+\.\d+)")
_VERSUS = re.compile(r"(\d+(?:\.\d+)?(?:e[+−-]?\d+)?)\s*vs\.?\s*(\d+(?:\.\d+)?(?:e[+−-]?\d+)?)")


def _number(text: str) -> float:
    return float(text.replace("−", "-"))


def paper_differences(claim: Claim) -> list[float | None]:
    """The paper's A − B for each comparison of ``claim``, read from :attr:`Claim.paper_says` (None where it gives none).

    Signed numbers (``+0.30``, ``−16.4, −15.0, ...``) when there is one per comparison; else
    ``X vs Y`` for a single comparison (``84.2 vs 83.9`` → +0.3).
    """
    k = len(claim.comparisons)
    signed = _SIGNED.findall(claim.paper_says)
    if len(signed) == k:
        return [_number(s) for s in signed]
    versus = _VERSUS.findall(claim.paper_says)
    if k == 1 and len(versus) == 1:
        a, b = versus[0]
        return [_number(a) - _number(b)]
    return [None] * k


_SKIPPED = ["claim", "comparison", "family", "reason"]


@dataclass
class Traces:
    """The gap curves of every comparison of the ``records`` claims, and those that could not be traced.

    ``skipped``: one row per comparison without a curve: claim, comparison, family (the claim's
    number of comparisons), reason (``no record of ...``, ``no per-epoch data: ...``).
    """

    curves: list[GapCurve]
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_SKIPPED))

    def of(self, claim_id: str) -> list[GapCurve]:
        return [c for c in self.curves if c.claim is not None and c.claim.id == claim_id]


def _row_estimate(rows: pd.DataFrame | None, claim: Claim, comp: Comparison) -> float | None:
    if rows is None or rows.empty:
        return None
    hit = rows[(rows["claim"] == claim.id) & (rows["A"] == comp.a) & (rows["B"] == comp.b)
               & (rows["joints"] == comp.selection.label) & (rows["metric"] == comp.metric)]
    return None if hit.empty else float(hit["estimate"].iloc[0])


def trace_claims(source: RecordSource, claims: Sequence[Claim] | None = None, *, rows: pd.DataFrame | None = None,
                 paired: bool | None = None, visibility_fallback: bool = False) -> Traces:
    """:func:`gap_over_training` for every comparison of the ``records`` claims that has records.

    ``claims``: None = :func:`lib.paper.profile_claims` of the source's profile (the claims table's);
    ``rows``: :func:`lib.claims.comparison_rows` output, whose estimates give each exactly traced
    curve its final sign (else the last epoch's gap). Each claim is read from
    ``source.for_claim(claim)``, as the claims table reads it; ``paired`` and
    ``visibility_fallback`` are :func:`gap_over_training`'s.
    """
    claims = profile_claims(source.profile) if claims is None else claims
    curves, skipped = [], []
    for claim in claims:
        if claim.kind != "records":
            continue
        src = source.for_claim(claim)
        paper = paper_differences(claim)
        family = len(claim.comparisons)
        for comp, theirs in zip(claim.comparisons, paper):
            label = comp.label or f"{comp.a} − {comp.b}"
            try:
                curve = gap_over_training(src, comp, paired=paired, visibility_fallback=visibility_fallback)
            except LookupError:
                missing = [n for n in (comp.a, comp.b) if not src.runs(n)]
                reason = (f"no record of {' and '.join(missing)} on {src.dataset}" if missing
                          else f"{comp.a} and {comp.b} have no seed in common")
                skipped.append({"claim": claim.id, "comparison": label, "family": family, "reason": reason})
                continue
            except NoHistory as e:
                skipped.append({"claim": claim.id, "comparison": label, "family": family, "reason": str(e)})
                continue
            final = _row_estimate(rows, claim, comp) if curve.exact else None
            curves.append(replace(curve, claim=claim, family=family,
                                  paper=theirs if comp.metric == "pck" else None, final=final))
    return Traces(curves, pd.DataFrame(skipped, columns=_SKIPPED))


def trend_table(traces: Traces, fractions: Sequence[float] = FRACTIONS) -> pd.DataFrame:
    """One row per traced comparison: what was traced, the last half's trend, and the answer at ``fractions`` of training.

    Columns: claim, comparison, traced (column; ``exact``), pairing, seeds, trend, slope/epoch, low,
    high, slope per M images, sign from, band from, final gap, then per fraction f (``1/4``, ``1/2``):
    ``epoch@f``, ``gap@f`` (with its seeds-only band), ``clear@f``, ``verdict@f``; and note.
    """
    out = []
    for c in traces.curves:
        t = classify_trend(c)
        row = {"claim": c.claim.id if c.claim else "", "comparison": c.label, "traced": c.column, "exact": c.exact,
               "pairing": c.pairing, "seeds": int(c.frame[["n_a", "n_b"]].min(axis=1).iloc[-1]), "trend": t.kind,
               "slope/epoch": t.slope.estimate, "low": t.slope.low, "high": t.slope.high,
               "slope per M images": t.slope_per_million.estimate, "sign from": t.sign_from,
               "band from": t.band_from, "final gap": t.final}
        for f in fractions:
            s = snapshot(c, f)
            key = _fraction_label(f)
            row.update({f"epoch@{key}": s.epoch, f"gap@{key}": format_interval(s.diff, c.comparison.metric),
                        f"clear@{key}": s.clear, f"verdict@{key}": s.verdict})
        row["over training"] = t.text()
        row["note"] = c.note
        out.append(row)
    return pd.DataFrame(out)


def _fraction_label(f: float) -> str:
    from fractions import Fraction

    q = Fraction(f).limit_denominator(16)
    return f"{q.numerator}/{q.denominator}"


def over_training_column(source: RecordSource, rows: pd.DataFrame, *, traces: Traces | None = None) -> pd.Series:
    """The claims table's ``over training`` column: one text per ``records`` claim in ``rows``, indexed by claim id.

    ``rows`` is :func:`lib.claims.comparison_rows`' output for ``source`` (its estimates give the
    final signs); ``traces`` reuses :func:`trace_claims`' output. A single comparison gets
    :meth:`Trend.text` (``widening +0.120/epoch [+0.050, +0.190]; sign from epoch 6``); a family
    one :meth:`Trend.short` per comparison; a comparison without a curve its reason (``no record``: the
    ``why`` column names the runs; ``no per-epoch data: ...``); ``≈`` marks a
    curve read from the closest stored column. Map it onto the claim table with
    ``table["id"].map(column).fillna("")``.
    """
    traces = trace_claims(source, rows=rows) if traces is None else traces
    by_comparison: dict[tuple[str, str], str] = {}
    for c in traces.curves:
        t = classify_trend(c)
        mark = "" if c.exact else "≈ "
        by_comparison[(c.claim.id, c.label)] = mark + (t.text() if c.family == 1 else f"{c.label}: {t.short()}")
    for _, s in traces.skipped.iterrows():
        reason = "no record" if s["reason"].startswith("no record") else s["reason"]
        by_comparison[(s["claim"], s["comparison"])] = reason if s["family"] == 1 else f"{s['comparison']}: {reason}"
    ids = list(dict.fromkeys(rows["claim"])) if not rows.empty else []
    claims = {c.id: c for c in profile_claims(source.profile)}
    out = {}
    for cid in ids:
        labels = [x.label or f"{x.a} − {x.b}" for x in claims[cid].comparisons] if cid in claims else []
        out[cid] = "; ".join(by_comparison[(cid, lab)] for lab in labels if (cid, lab) in by_comparison)
    return pd.Series(out, name="over training", dtype=object)


def stability_text(table: pd.DataFrame, claim_id: str) -> str:
    """One sentence per comparison of ``claim_id`` from :func:`trend_table`: was the answer clear at 1/4 and 1/2?"""
    rows = table[table["claim"] == claim_id]
    if rows.empty:
        return f"{claim_id}: no per-epoch trace."
    parts = []
    for _, r in rows.iterrows():
        when = []
        for key in ("1/4", "1/2"):
            if f"clear@{key}" not in r:
                continue
            c = r[f"clear@{key}"]
            state = "no band" if c is None or (isinstance(c, float) and math.isnan(c)) else (
                "already clear" if c else "not yet clear")
            when.append(f"{state} at {key} of training (epoch {r[f'epoch@{key}']}: {r[f'gap@{key}']}, "
                        f"{r[f'verdict@{key}'] or 'no verdict'})")
        name = claim_id if len(rows) == 1 else f"{claim_id} ({r['comparison']})"
        parts.append(f"{name}: " + "; ".join(when) + f"; over the last half {r['over training']}.")
    return " ".join(parts)


def with_over_training(table: pd.DataFrame, source: RecordSource, rows: pd.DataFrame,
                       traces: Traces | None = None) -> pd.DataFrame:
    """``table`` (:func:`lib.claims.claim_table`) with the ``over training`` column after ``verdict``."""
    text = over_training_column(source, rows, traces=traces)
    text = text.where(~text.str.split("; ").map(lambda parts: all(p.endswith("no record") for p in parts)), "")
    column = table["id"].map(text).fillna("")
    out = table.copy()
    out.insert(list(out.columns).index("verdict") + 1 if "verdict" in out else len(out.columns), "over training", column)
    return out


def stability_phrases(table: pd.DataFrame) -> dict[str, str]:
    """Claim id → how stable its answer was over training, in a few words, from :func:`trend_table`.

    For the Findings page: whether the seeds-only band already excluded 0 with the final sign at a
    quarter and at half of training, and the last half's trend. Claims with several comparisons
    join their comparisons' phrases.
    """
    out: dict[str, list[str]] = {}
    for _, r in table.iterrows():
        states = []
        for key in ("1/4", "1/2"):
            c = r.get(f"clear@{key}")
            known = c is not None and not (isinstance(c, float) and math.isnan(c))
            states.append(("clear" if c else "not clear") + f" at {key}" if known else f"no band at {key}")
        n_comparisons = int((table["claim"] == r["claim"]).sum())
        name = f"{r['comparison']}: " if n_comparisons > 1 else ""
        out.setdefault(r["claim"], []).append(f"{name}{', '.join(states)} of training, {r['trend']} over the last half")
    return {k: "; ".join(v) for k, v in out.items()}


def trend_summary(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`trend_table` for reading: one row per comparison, the slope with its interval in one
    cell, whole epochs, and the gap with its band at a quarter and at half of training."""
    if table.empty:
        return pd.DataFrame()

    def epoch(x) -> str:
        return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else str(int(x))

    def slope(r) -> str:
        if pd.isna(r["slope/epoch"]):
            return "–"
        if pd.isna(r["low"]):
            return f"{r['slope/epoch']:+.3f} (no interval)"
        return f"{r['slope/epoch']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]"

    out = pd.DataFrame({
        "claim": table["claim"], "comparison": table["comparison"], "seeds": table["seeds"],
        "last half": table["trend"], "slope per epoch": table.apply(slope, axis=1),
        "sign from": table["sign from"].map(epoch), "band from": table["band from"].map(epoch),
    })
    for key in ("1/4", "1/2"):
        if f"gap@{key}" in table:
            out[f"gap at {key}"] = table[f"gap@{key}"]
    return out.set_index(["claim", "comparison"])


def untraced_text(traces: Traces) -> str:
    """The comparisons with records but no per-epoch curve, grouped by reason (``""`` when none)."""
    s = traces.skipped
    if s.empty:
        return ""
    s = s[~s["reason"].str.startswith("no record")]
    groups = s.groupby("reason", sort=False)["claim"].agg(lambda c: ", ".join(dict.fromkeys(c)))
    return " ".join(f"Not traced ({reason.removeprefix('no per-epoch data: ')}): {claims}."
                    for reason, claims in groups.items())
