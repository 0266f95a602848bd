"""One comparison of a claim measured on the records, and the rules that turn it into a verdict.

A claim is tested by one or more comparisons A − B of two experiments (:class:`lib.paper.Comparison`),
measured on the records a :class:`lib.record_source.RecordSource` reads (:func:`measure_comparison`).
The verdict comes from :mod:`lib.stats`: PCK differences from Welch's t over the
configurations' per-seed PCKs plus the image variance shared across runs
(:func:`lib.stats.config_diff`), training losses and convergence from a t-interval over
differences paired by seed (:func:`lib.stats.seed_interval`), then :func:`lib.stats.verdict`.
Every comparison needs at least two seeds on each side, else it is ``inconclusive (n seeds)``
and its interval reads ``one seed: no interval``. A source built without explicit seeds reads every
seed that has a record of today's config (the profile's seeds and any beyond them, e.g. seeds 3-5
of the central pair): a comparison rests on all the seeds each side has
(:meth:`lib.record_source.RecordSource.seeds_of`).

Several comparisons ("D = 2 is worse for every width") form one family: the claim is
**confirmed** when every comparison's 95% interval is on the claimed side (an intersection-union
test: the family's one-sided error rate stays at 2.5% without correction), **not confirmed** when
some comparison's Bonferroni interval (level 1 − 0.05/k for k comparisons) lies on the other side
(family-wise 2.5%), and **inconclusive** otherwise (:func:`comparison_verdict`, :func:`aggregate`).
A no-difference claim (``A ≈ B``, ``A ≤ B``, ``A ≥ B``) between two configurations that both score
below :data:`FLOOR_PCK` is inconclusive: models that have learned nothing agree without saying
anything about the architectures.

Directions are :data:`lib.paper.DIRECTIONS` (:func:`direction_verdict`). Claims about the data
rather than trained models (the mutual-information groups of PBN Sec. 3.1, the parameter counts of
Table 6) are checked by :func:`lib.claims.structural_verdicts`; the benchmark comparisons with other
published methods (PBN Tables 1-5) cannot be tested here and are listed as ``not tested`` with the
reason.

Verdict values (:data:`VERDICTS`): ``confirmed``, ``not confirmed``, ``inconclusive``
(``inconclusive (n seeds)`` when a side has too few seeds), ``no record`` (no comparison of the claim
has records in ``results/``), ``not measurable`` (the records cannot answer it, e.g. a record
without occlusion labels, or every run at 0%), ``not applicable`` (a claim about visible against
invisible joints read from a dataset without invisible joints: LSP Extended annotates only visible
joints, so there "visible" would repeat the overall number), ``no data`` (needs ``POSE_DATA``),
``not tested``. Verdicts computed from ``smoke`` records are labelled as such: tiny CPU models
trained for seconds exercise the code, they are not evidence.

**Partial coverage.** A claim over several cells ("for every width", "in every split") whose cells
have records only in part gets its verdict from the cells that have them, labelled with what it
covers: ``inconclusive (W = 64 only: 1 of 4 widths)``, ``confirmed (splits c, d only: 2 of 4
splits)`` (:func:`coverage_text`). Such a label never stands for the whole claim; only a claim
without any cell measured is ``no record``. :func:`base_verdict` strips every qualifier.

**Runs at the epoch cap.** KPTransfer's recipe (Sec. 3.3) trains until validation stops improving:
a plateau schedule with early stopping after ``early_stop`` epochs without a better score, the best
epoch's model kept. A run of such a schedule *stopped at the epoch cap without converging* when it
ran all ``schedule.epochs`` epochs and early stopping never fired (``epochs_run`` = the cap and not
``stopped_early``): its best epoch is then among the last ``early_stop`` ones, validation was still
improving when the cap cut it off, and a gap between two such configurations mixes a head start with
a better end point. A PCK comparison with such runs says so in its ``note`` and the claim's ``why``
(:func:`epoch_cap_note`). PBN's recipe (Sec. 4.1) is a fixed step schedule that keeps the last
epoch's model, ours too: ending at the cap is the recipe, not a cut, so PBN runs get no such note
(the scale columns say how much shorter our schedule is). Convergence comparisons (the mean over
the epochs both runs have) measure speed, not the end point, and get none either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np

from lib.paper import DIRECTIONS, Claim, Comparison
from lib.record_source import (NotApplicable, RecordSource, common_joints, has_invisible_joints, no_invisible_reason,
                               seeds_text, selected_hits)
from lib.results import Record
from lib.stats import (MIN_SEEDS, NO_INTERVAL, Interval, bonferroni_level, config_diff, pooled_pck, seed_interval,
                       signed, verdict)


#: Confidence level of every interval; each one-sided conclusion errs at (1 − LEVEL) / 2 = 2.5%.
LEVEL = 0.95
#: PCK (points) below which a configuration counts as "at the floor": a no-difference claim between
#: two such configurations is inconclusive. Chance for an argmax heat-map decoder is under 1 point;
#: a model below 10 has learned too little for its agreement with another to mean anything.
FLOOR_PCK = 10.0
VERDICTS = ("confirmed", "not confirmed", "inconclusive", "no record", "not measurable", "not applicable", "no data",
            "not tested")


@dataclass(frozen=True)
class Measurement:
    """A − B of a :class:`Comparison`: the interval, the seeds on each side and each side's seed mean.

    For ``train_loss`` and ``convergence`` the seeds are those both sides have (differences are
    paired by seed) and ``paired`` is True.
    """

    diff: Interval
    seeds_a: tuple[int, ...]
    seeds_b: tuple[int, ...]
    mean_a: float
    mean_b: float
    paired: bool = False

    @property
    def fewest_seeds(self) -> int:
        return min(len(self.seeds_a), len(self.seeds_b))

    def seeds(self) -> str:
        """The seeds the interval rests on: ``0-2 vs 0-2``, or ``0-2 (paired)``."""
        if self.paired:
            return f"{seeds_text(self.seeds_a)} (paired)"
        return f"{seeds_text(self.seeds_a)} vs {seeds_text(self.seeds_b)}"


def at_epoch_cap(rec: Record) -> bool:
    """Whether ``rec`` stopped at the epoch cap without converging (the module docstring's rule).

    Only a schedule that stops on convergence (``plateau`` with ``early_stop`` > 0: KPTransfer's)
    can be cut short by its cap: the run ran all ``schedule.epochs`` epochs and early stopping never
    fired, so its best epoch is among the last ``early_stop`` and validation was still improving.
    A fixed step schedule (PBN's) ends at its cap by design: False. A record without its schedule: False.
    """
    sched = rec.data.get("config", {}).get("schedule") or {}
    if sched.get("kind") != "plateau" or not sched.get("early_stop"):
        return False
    ran = rec.data.get("epochs_run", len(rec.data.get("history", ())))
    return not rec.data.get("stopped_early", False) and ran >= int(sched["epochs"])


def epoch_cap_note(runs: Iterable[Record]) -> str:
    """``runs at the epoch cap ...`` when any of ``runs`` (each once) stopped there without converging, else ``""``."""
    runs = list({(r.experiment, r.seed, r.data.get("dataset")): r for r in runs}.values())
    capped = [r for r in runs if at_epoch_cap(r)]
    if not capped:
        return ""
    caps = sorted({int(r.data["config"]["schedule"]["epochs"]) for r in capped})
    best = sorted({int(r.data["selected_epoch"]) for r in capped if r.data.get("selected_epoch")})
    when = f", best epochs {best[0]}-{best[-1]}" if len(best) > 1 else (f", best epoch {best[0]}" if best else "")
    return (f"runs at the epoch cap: {len(capped)} of {len(runs)} ran all {'/'.join(map(str, caps))} epochs without "
            f"early stopping{when}: a head start and a better end point are mixed")


def _curve_score(rec: Record, epochs: int) -> float:
    """Mean validation ``Mean`` over the first ``epochs`` epochs (KPTransfer Fig. 3's curves)."""
    hist = rec.history
    return float(hist["val_Mean"].iloc[:epochs].mean())


def measure_comparison(source: RecordSource, comp: Comparison, *, level: float = LEVEL) -> Measurement:
    """A − B of ``comp`` with its interval at ``level``, from the records of ``source``.

    Raises ``LookupError`` when a side has no record, :class:`lib.record_source.NotApplicable` when the selection
    splits joints by visibility and no run has an invisible one among them (LSP Extended), and
    ``ValueError`` when the selection cannot be measured otherwise (no joint evaluated, no
    occlusion labels, every run at 0% or 100%).
    """
    runs_a, runs_b = source.runs(comp.a), source.runs(comp.b)
    if not runs_a or not runs_b:
        raise LookupError(", ".join(source.missing([comp.a, comp.b])))
    if comp.metric == "pck":
        joints = common_joints(runs_a + runs_b, comp.selection)
        vis = comp.selection.visibility
        if vis != "all" and not has_invisible_joints(runs_a + runs_b, joints):
            raise NotApplicable(no_invisible_reason(source.dataset))
        ha = [selected_hits(r, joints, vis) for r in runs_a]
        hb = [selected_hits(r, joints, vis) for r in runs_b]
        if any(e.sum() == 0 for _, e in ha + hb):
            raise ValueError(f"no {comp.selection.label} evaluated in the validation set")
        pa, pb = [pooled_pck(h) for h in ha], [pooled_pck(h) for h in hb]
        scores = {round(p, 9) for p in pa + pb}
        if scores <= {0.0} or scores <= {100.0}:
            raise ValueError(f"every run scores {scores.pop():g}% on {comp.selection.label}: no difference can show")
        return Measurement(config_diff(ha, hb, level=level), tuple(r.seed for r in runs_a),
                           tuple(r.seed for r in runs_b), float(np.mean(pa)), float(np.mean(pb)))
    by_seed_a, by_seed_b = {r.seed: r for r in runs_a}, {r.seed: r for r in runs_b}
    seeds = tuple(sorted(set(by_seed_a) & set(by_seed_b)))
    if not seeds:
        raise LookupError(f"{comp.a} and {comp.b} have no seed in common")
    if comp.metric == "train_loss":
        va = [by_seed_a[s].metrics["train_loss"] for s in seeds]
        vb = [by_seed_b[s].metrics["train_loss"] for s in seeds]
    else:
        va, vb = [], []
        for s in seeds:
            e = min(len(by_seed_a[s].history), len(by_seed_b[s].history))
            va.append(_curve_score(by_seed_a[s], e))
            vb.append(_curve_score(by_seed_b[s], e))
    diff = seed_interval([a - b for a, b in zip(va, vb)], level=level)
    return Measurement(diff, seeds, seeds, float(np.mean(va)), float(np.mean(vb)), paired=True)


def direction_verdict(diff: Interval, direction: str, margin: float = 0.0) -> str:
    """:func:`lib.stats.verdict` for a direction of :data:`DIRECTIONS`.

    The one-sided forms shift the interval by the margin: ``A ≤ B`` is confirmed when the upper
    end is below ``margin`` and not confirmed when the lower end is above it; ``A ≥ B``
    mirrors it. An end exactly on a boundary confirms nothing (inconclusive).
    """
    if direction == "A > B":
        return verdict(diff, +1)
    if direction == "A < B":
        return verdict(diff, -1)
    if direction == "A ≈ B":
        return verdict(diff, 0, margin=margin)
    if direction == "A ≤ B":
        return verdict(replace(diff, estimate=diff.estimate - margin, low=diff.low - margin, high=diff.high - margin), -1)
    if direction == "A ≥ B":
        return verdict(replace(diff, estimate=diff.estimate + margin, low=diff.low + margin, high=diff.high + margin), +1)
    raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")


def base_verdict(v: str) -> str:
    """A verdict without its qualifiers: ``inconclusive (1 seed) (smoke)`` → ``inconclusive``."""
    return str(v).split(" (")[0]


def few_seeds(n: int) -> str:
    """The verdict of a comparison with only ``n`` seeds on a side."""
    return f"inconclusive ({n} seed{'s' * (n != 1)})"


NO_DIFFERENCE = ("A ≈ B", "A ≤ B", "A ≥ B")


def comparison_verdict(m: Measurement, claim: Claim, metric: str, family: int = 1) -> tuple[str, str]:
    """``(verdict, reason)`` of one comparison of ``claim``, a family of ``family`` comparisons.

    The rules of the module docstring: at least :data:`lib.stats.MIN_SEEDS` seeds a side; no
    no-difference verdict at the floor; ``confirmed`` at :data:`LEVEL`; ``not confirmed`` only when
    the Bonferroni interval (level 1 − (1 − LEVEL)/family) also lies on the other side.
    """
    diff = m.diff
    reason = format_interval(diff, metric)
    if m.fewest_seeds < MIN_SEEDS:
        return few_seeds(m.fewest_seeds), f"{reason}; seeds {m.seeds()}: needs {MIN_SEEDS} per side"
    if metric == "pck" and claim.direction in NO_DIFFERENCE and max(m.mean_a, m.mean_b) < FLOOR_PCK:
        return "inconclusive", (f"{reason}; both at the floor ({m.mean_a:.1f}% and {m.mean_b:.1f}% < "
                                f"{FLOOR_PCK:g}%): agreement says nothing")
    v = direction_verdict(diff, claim.direction, claim.margin)
    if v == "not confirmed" and family > 1:
        wide = diff.at(bonferroni_level(diff.level, family))
        if direction_verdict(wide, claim.direction, claim.margin) != "not confirmed":
            return "inconclusive", (f"{reason}; its Bonferroni {100 * wide.level:.2f}% interval "
                                    f"{format_interval(wide, metric)} is not wholly on the other side")
        reason += f"; Bonferroni {100 * wide.level:.2f}%: {format_interval(wide, metric)}"
    return v, reason


def fmt(x: float, metric: str) -> str:
    """``+0.12``, ``−0.12`` (points), ``+1.20e−03`` for losses, ``nan``."""
    if math.isnan(x):
        return "nan"
    return signed(x, ".2e" if metric == "train_loss" else ".2f")


def format_interval(diff: Interval, metric: str = "pck") -> str:
    """``+0.12 [−0.30, +0.55]`` (points), or in scientific notation for losses; ``+0.12 (one seed: no
    interval)`` when a side has a single seed (never ``[nan, nan]``)."""
    if not diff.defined:
        return f"{fmt(diff.estimate, metric)} ({NO_INTERVAL})"
    return f"{fmt(diff.estimate, metric)} [{fmt(diff.low, metric)}, {fmt(diff.high, metric)}]"


def coverage_text(labels: Sequence[str], total: int) -> str:
    """What a partly measured claim covers: ``W = 64 only: 1 of 4 widths``, ``splits c, d only: 2 of 4 splits``.

    ``labels`` are the measured comparisons' labels (:class:`lib.paper.Comparison`; the width and
    split families of :mod:`lib.paper` label them ``W=64`` and ``split (c)``), ``total`` the claim's
    comparisons. Other labels are listed as they are, counted as comparisons.
    """
    import re

    labels = [str(x) for x in labels]
    n = len(labels)
    widths = [re.fullmatch(r"W=(\d+)", x) for x in labels]
    splits = [re.fullmatch(r"split \((\w)\)", x) for x in labels]
    if labels and all(widths):
        what, unit = "W = " + ", ".join(m.group(1) for m in widths), "widths"
    elif labels and all(splits):
        what, unit = ("split " if n == 1 else "splits ") + ", ".join(m.group(1) for m in splits), "splits"
    else:
        what, unit = ", ".join(x for x in labels if x), "comparisons"
    return f"{what + ' only: ' if what else ''}{n} of {total} {unit}"


def aggregate(verdicts: Sequence[str], labels: Sequence[str] | None = None) -> str:
    """A claim's verdict from its comparisons' (see the module docstring).

    ``no record`` only when no comparison has records; otherwise the verdict of those that have,
    labelled with their coverage when some have none (:func:`coverage_text` of ``labels``, the
    comparisons' labels in the same order). Among those, ``not measurable`` and then ``not
    applicable`` win; then ``not confirmed`` if any comparison is (each was already tested at the
    family's Bonferroni level); ``confirmed`` if all are; a comparison with too few seeds makes the
    claim ``inconclusive (n seeds)``; else ``inconclusive``.
    """
    vs = list(verdicts)
    labels = list(labels) if labels is not None else [""] * len(vs)
    if len(labels) != len(vs):
        raise ValueError(f"{len(labels)} labels for {len(vs)} verdicts; give one label per comparison")
    covered = [i for i, v in enumerate(vs) if v != "no record"]
    if not covered:
        return "no record"
    v = aggregate_measured([vs[i] for i in covered])
    if len(covered) < len(vs):
        v += f" ({coverage_text([labels[i] for i in covered], len(vs))})"
    return v


def aggregate_measured(vs: Sequence[str]) -> str:
    """The verdict of comparisons that all have records: :func:`aggregate` without the coverage label."""
    for special in ("not measurable", "not applicable"):
        if special in vs:
            return special
    base = [base_verdict(v) for v in vs]
    if "not confirmed" in base:
        return "not confirmed"
    if base and all(v == "confirmed" for v in base):
        return "confirmed"
    seeds = [v for v in vs if v.startswith("inconclusive (")]
    return min(seeds, key=lambda v: int(v.split("(")[1].split()[0])) if seeds else "inconclusive"
