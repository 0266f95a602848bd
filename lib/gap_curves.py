"""A claimed gain traced over training: A − B of one comparison at every epoch, from the histories (issue 30).

Every record keeps the validation table of each epoch (``Record.history``: ``val_Mean``,
``val_Hard`` and one ``val_`` column per table column present, PCK over all annotated joints;
and, in records written since the engine logs them, the same columns per visibility:
``val_visible_*``, ``val_invisible_*``, ``val_self_occluded_*``, ``val_other_occluded_*``).
For a comparison A − B of :mod:`lib.paper` this module reads the same records the claims table
reads (:class:`lib.record_source.RecordSource`) and traces, epoch by epoch, the difference of the
comparison's metric: the seed mean of A − B with a 95% t-interval over seeds
(:func:`gap_over_training`, a :class:`GapCurve`). :mod:`lib.trends` then classifies the last half
of training as widening, narrowing or flat and finds whether the answer was already clear at a
quarter or half of training; :mod:`lib.trend_tables` does so for every claim of a chapter.

What is traced, per metric of :class:`lib.paper.Comparison`:

* ``pck``: the stored column with exactly the claim's joints (``val_Mean``, ``val_Hard``,
  ``val_Wri.`` ...); else the claim's joints pooled from the stored table columns, weighted by
  each column's evaluated joints (constant over epochs, read from the record's ``.npz``): exact for
  unions of columns (upper body = Head, Sho., Elb., Wri.), and *approximate* where a joint is in no
  column (thorax, pelvis), which the curve says (``exact``, ``note``). A selection of visible,
  invisible or occluded joints reads the same columns of that visibility's table
  (``val_invisible_Mean``, ``val_self_occluded_Hard`` ...: :func:`_stored_column`'s ``prefix``).
  Records written before the engine logged them lack those columns: when some seeds of each side
  have them, the curve is traced over those seeds only and marked approximate (its ``note`` names
  the seeds); when no seed of a side has them, such a selection has **no per-epoch data**
  (:class:`NoHistory`) unless every evaluated joint is visible and the selection asks for visible
  ones (LSP Extended), or ``visibility_fallback`` asks for the all-joints curve, marked approximate.
* ``train_loss``: the epoch's mean training loss (the record's final ``train_loss`` is the last
  epoch's).
* ``convergence``: the claim's own measure truncated at each epoch, the running mean of
  ``val_Mean`` over epochs 1..t (KPTransfer Fig. 3; at the last epoch it is the claims table's).

Pairing: as :func:`lib.verdicts.measure_comparison`, so that the last epoch's band is the seed part
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
epoch, so its estimate can differ from the last epoch's gap (:func:`lib.trend_tables.trace_claims`
takes the table's estimate as the final sign when the traced column is exact: :attr:`GapCurve.final`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from lib import joints as J
from lib.paper import Claim, Comparison, Selection
from lib.record_source import RecordSource, common_joints, seeds_text
from lib.results import Record
from lib.stats import Interval, seed_interval, welch_interval
from lib.verdicts import LEVEL, Measurement


class NoHistory(ValueError):
    """The records hold no per-epoch value of what a comparison measures (e.g. invisible joints in a record
    written before the engine logged each visibility's table)."""


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
        """The epoch's difference as :func:`lib.verdicts.comparison_verdict` takes it (seeds, side means)."""
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
    seeds. A visibility-restricted selection reads the seeds whose histories log that visibility
    (all of them when every record does). Raises ``LookupError`` when a side has no record and
    :class:`NoHistory` when the histories cannot trace the selection (no record of a side logs the
    visibility, unless every evaluated joint is visible and the selection asks for visible ones,
    or ``visibility_fallback`` asks for the all-joints curve, marked approximate).
    """
    comp = comparison
    runs_a, runs_b = source.runs(comp.a), source.runs(comp.b)
    if not runs_a or not runs_b:
        raise LookupError(", ".join(source.missing([comp.a, comp.b])))
    notes, exact = [], True
    sel = comp.selection
    prefix = "val_"
    if comp.metric == "pck" and sel.visibility != "all":
        logged = f"val_{sel.visibility}_Mean"
        with_split_a = [r for r in runs_a if logged in r.data["history"][0]]
        with_split_b = [r for r in runs_b if logged in r.data["history"][0]]
        if with_split_a and with_split_b:
            prefix = f"val_{sel.visibility}_"  # the engine logs this visibility's table every epoch
            if len(with_split_a) < len(runs_a) or len(with_split_b) < len(runs_b):
                runs_a, runs_b, exact = with_split_a, with_split_b, False
                notes.append(f"seeds {seeds_text(sorted(r.seed for r in runs_a))} vs "
                             f"{seeds_text(sorted(r.seed for r in runs_b))} only: older records have no "
                             "per-epoch visibility split")
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
