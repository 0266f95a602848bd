"""Our verdict on every claim of both papers (:mod:`lib.paper`) from the records of one profile.

A claim is tested by one or more comparisons A − B of two experiments (:class:`lib.paper.Comparison`),
measured on the records a :class:`RecordSource` reads. The verdict comes from :mod:`lib.stats`: PCK differences from Welch's t over the
configurations' per-seed PCKs plus the image variance shared across runs
(:func:`lib.stats.config_diff`), training losses and convergence from a t-interval over
differences paired by seed (:func:`lib.stats.seed_interval`), then :func:`lib.stats.verdict`.
Every comparison needs at least two seeds on each side, else it is ``inconclusive (n seeds)``
and its interval reads ``one seed: no interval``. A source built without explicit seeds reads every
seed that has a record of today's config (the profile's seeds and any beyond them, e.g. seeds 3-5
of the central pair): a comparison rests on all the seeds each side has (:meth:`RecordSource.seeds_of`).

Several comparisons ("D = 2 is worse for every width") form one family: the claim is
**confirmed** when every comparison's 95% interval is on the claimed side (an intersection-union
test: the family's one-sided error rate stays at 2.5% without correction), **not confirmed** when
some comparison's Bonferroni interval (level 1 − 0.05/k for k comparisons) lies on the other side
(family-wise 2.5%), and **inconclusive** otherwise. A no-difference claim (``A ≈ B``, ``A ≤ B``,
``A ≥ B``) between two configurations that both score below :data:`FLOOR_PCK` is inconclusive:
models that have learned nothing agree without saying anything about the architectures.

Directions are :data:`lib.paper.DIRECTIONS`. Claims about the data rather than trained models
(the mutual-information groups of PBN Sec. 3.1, the parameter counts of Table 6) are checked by
:func:`structural_verdicts`; the benchmark comparisons with other published methods (PBN
Tables 1-5) cannot be tested here and are listed as ``not tested`` with the reason.

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

This module reads records and never trains: runs without a record are trained beforehand by
:func:`lib.runner.ensure_records` (from :func:`claim_experiments` or :meth:`RecordSource.experiments`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from lib import joints as J
from lib.experiments import Experiment, get_profile, make_experiment
from lib.results import Record, find_record, record_path
from lib.paper import (CLAIMS_BY_ID, CONVERGENCE_MARGIN, DIRECTIONS, NO_DIFFERENCE_MARGIN, OCCLUSION_CODES, Claim,
                       Comparison, Selection, profile_claims)
from lib.stats import (MIN_SEEDS, NO_INTERVAL, Interval, bonferroni_level, config_diff, pooled_pck, seed_interval,
                       verdict)

#: Confidence level of every interval; each one-sided conclusion errs at (1 − LEVEL) / 2 = 2.5%.
LEVEL = 0.95
#: PCK (points) below which a configuration counts as "at the floor": a no-difference claim between
#: two such configurations is inconclusive. Chance for an argmax heat-map decoder is under 1 point;
#: a model below 10 has learned too little for its agreement with another to mean anything.
FLOOR_PCK = 10.0
VERDICTS = ("confirmed", "not confirmed", "inconclusive", "no record", "not measurable", "not applicable", "no data",
            "not tested")
#: Why a dataset answers no claim about visible against invisible joints (the ``not applicable`` reason).
NO_INVISIBLE = {"lspet": "LSP Extended annotates only visible joints"}

#: Datasets rendered with visibility and occlusion labels (``lib.data.synthetic``), preferred first.
OCCLUSION_DATASETS = ("synthetic-mpii", "synthetic")


@dataclass(kw_only=True)
class RecordSource:
    """The records one chapter reads: a profile, a dataset and seeds. It only reads: the runs a chapter
    needs that have no record are trained beforehand by :func:`lib.runner.ensure_records`
    (the notebooks' ``train_missing``), from the configs of :meth:`experiments` and
    :func:`claim_experiments`.

    Attributes:
        profile: ``smoke``, ``book`` or ``paper`` (:data:`lib.experiments.PROFILES`).
        dataset: ``synthetic``, ``lspet`` or ``mpii``; None = the profile's.
        seeds: the seeds to read. None = the profile's seeds for what to train (:meth:`experiments`,
            :meth:`missing`), and for reading those plus every other seed that has a record of
            today's config (:meth:`seeds_of`: seeds 3-5 of a pair are read as they land without
            touching the profile, whose seeds the sweep trains by). Given: exactly those seeds.
        results_dir: None = the repository's ``results/``.
        occlusion_dataset: the dataset whose records answer the claims about occluded joints
            (:attr:`Claim.data` ``occlusion``); None = the source's dataset if it is rendered with
            occlusion labels (:data:`OCCLUSION_DATASETS`), else ``synthetic-mpii``.
    """

    profile: str = "smoke"
    dataset: str | None = None
    seeds: tuple[int, ...] | None = None
    results_dir: str | Path | None = None
    occlusion_dataset: str | None = None
    _records: dict = field(default_factory=dict, repr=False, init=False)
    _siblings: dict = field(default_factory=dict, repr=False, init=False)
    _recorded: dict = field(default_factory=dict, repr=False, init=False)
    _any_seed: bool = field(default=False, repr=False, init=False)

    def __post_init__(self) -> None:
        p = get_profile(self.profile)
        self.dataset = self.dataset or p.dataset
        self._any_seed = self.seeds is None
        self.seeds = tuple(int(s) for s in (self.seeds if self.seeds is not None else p.seeds))
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one seed or None for the profile's")
        if self.occlusion_dataset is None:
            self.occlusion_dataset = self.dataset if self.dataset in OCCLUSION_DATASETS else OCCLUSION_DATASETS[0]

    def on(self, dataset: str | None) -> "RecordSource":
        """The same profile, seeds and options on ``dataset`` (itself for its own dataset or None)."""
        if dataset is None or dataset == self.dataset:
            return self
        if dataset not in self._siblings:
            self._siblings[dataset] = RecordSource(profile=self.profile, dataset=dataset,
                                                   seeds=None if self._any_seed else self.seeds,
                                                   results_dir=self.results_dir,
                                                   occlusion_dataset=self.occlusion_dataset)
        return self._siblings[dataset]

    @property
    def occlusion(self) -> "RecordSource":
        """The source of the claims about occluded joints (:attr:`occlusion_dataset`)."""
        return self.on(self.occlusion_dataset)

    def for_claim(self, claim: Claim) -> "RecordSource":
        """Where ``claim``'s records are read: this source, or :attr:`occlusion` for ``data="occlusion"``."""
        return self.occlusion if claim.data == "occlusion" else self

    @property
    def is_smoke(self) -> bool:
        return self.profile == "smoke"

    def experiment(self, name: str, seed: int) -> Experiment:
        return make_experiment(name, self.profile, self.dataset, seed)

    def experiments(self, names: Iterable[str]) -> list[Experiment]:
        """The configs of ``names`` at every seed on this source's dataset (what ``ensure_records`` trains)."""
        return [self.experiment(n, s) for n in dict.fromkeys(names) for s in self.seeds]

    def record(self, name: str, seed: int) -> Record | None:
        """The record of ``name`` at ``seed`` (exactly the current config), or None."""
        key = (name, seed)
        if key not in self._records:
            self._records[key] = find_record(self.experiment(name, seed), self.results_dir)
        return self._records[key]

    def seeds_of(self, name: str) -> tuple[int, ...]:
        """The seeds read for ``name``: :attr:`seeds`, plus (when built without seeds) every other seed with a
        record of ``name``'s config as built today in this profile and dataset (a stale config's file is ignored)."""
        if not self._any_seed:
            return tuple(self.seeds)
        if name not in self._recorded:
            folder = record_path(self.experiment(name, self.seeds[0]), self.results_dir).parent
            stem = name.replace("/", "-") + "-s"  # lib.results.record_path: NAME-sSEED-HASH8.json
            found = set()
            for path in folder.glob(f"{stem}*.json") if folder.is_dir() else ():
                seed, _, tail = path.stem[len(stem):].partition("-")
                if seed.isdigit() and len(tail) == 8 and path == record_path(self.experiment(name, int(seed)),
                                                                              self.results_dir):
                    found.add(int(seed))
            self._recorded[name] = tuple(sorted(set(self.seeds) | found))
        return self._recorded[name]

    def runs(self, name: str) -> list[Record]:
        """The records of ``name`` over the seeds that have one (:meth:`seeds_of`)."""
        return [r for s in self.seeds_of(name) if (r := self.record(name, s)) is not None]

    def missing(self, names: Iterable[str]) -> list[str]:
        """``name seed`` for every run of ``names`` without a record."""
        return [f"{n} s{s}" for n in dict.fromkeys(names) for s in self.seeds if self.record(n, s) is None]

    def loaded(self) -> list[Record]:
        """Every record read so far (of this dataset; :meth:`on` sources keep their own)."""
        return [r for r in self._records.values() if r is not None]

    def label(self) -> str:
        """``profile / dataset, seeds ...`` with a smoke warning where it applies."""
        text = f"profile `{self.profile}`, dataset `{self.dataset}`, seeds {', '.join(map(str, self.seeds))}"
        beyond = sorted({r.seed for r in self.loaded()} - set(self.seeds))
        if beyond:
            text += f" and {seeds_text(beyond)} (records beyond the profile's seeds)"
        return text + (" (smoke runs: tiny CPU models, not evidence)" if self.is_smoke else "")


def claim_experiments(source: RecordSource, claims: Sequence[Claim]) -> list[Experiment]:
    """The configs every ``records`` claim of ``claims`` compares, at every seed, each once and on the
    dataset it is read from (:meth:`RecordSource.for_claim`): the runs the verdicts need, for
    :func:`lib.runner.ensure_records`."""
    out: dict[tuple[str, str, int], Experiment] = {}
    for claim in claims:
        if claim.kind == "records":
            for e in source.for_claim(claim).experiments(n for comp in claim.comparisons for n in (comp.a, comp.b)):
                out.setdefault((e.name, e.data.dataset, e.seed), e)
    return list(out.values())


def selected_hits(rec: Record, joints: Sequence[int], visibility: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """``(hits, evaluated)`` of record ``rec`` restricted to MPII ``joints`` (in that order) and visibility."""
    a = rec.arrays()
    ids = [int(j) for j in a["joint_ids"]]
    missing = [J.MPII_JOINTS[j] for j in joints if j not in ids]
    if missing:
        raise ValueError(f"{rec.experiment} does not predict {missing}")
    cols = [ids.index(j) for j in joints]
    hits, evaluated = a["hits"][:, cols].astype(bool), a["evaluated"][:, cols].astype(bool)
    if visibility in OCCLUSION_CODES:
        if "occlusion" not in a:
            raise ValueError(f"{rec.path.name} stores no occlusion labels (a {rec.data['dataset']} record written "
                             "before records kept them, or a dataset without them; rerun it with --force)")
        evaluated = evaluated & (a["occlusion"][:, cols] == OCCLUSION_CODES[visibility])
    elif visibility != "all":
        vis = a["visible"][:, cols].astype(bool)
        evaluated = evaluated & (vis if visibility == "visible" else ~vis)
    return hits, evaluated


class NotApplicable(ValueError):
    """A claim about visible against invisible joints read from a dataset that has no invisible joints."""


def has_invisible_joints(runs: Sequence[Record], joints: Sequence[int]) -> bool:
    """Whether any of ``runs`` evaluates an invisible joint among MPII ``joints`` (LSP Extended never does)."""
    for r in runs:
        _, evaluated = selected_hits(r, joints, "invisible")
        if evaluated.any():
            return True
    return False


def no_invisible_reason(dataset: str) -> str:
    """Why a visible-against-invisible claim is ``not applicable`` on ``dataset`` (:data:`NO_INVISIBLE`)."""
    return NO_INVISIBLE.get(dataset, f"the {dataset} records mark every evaluated joint visible")


def common_joints(runs: Sequence[Record], selection: Selection) -> tuple[int, ...]:
    """The MPII joints of ``selection`` that every run predicts (Mean: all but pelvis and thorax)."""
    have = set.intersection(*(set(int(j) for j in r.data["joint_ids"]) for r in runs))
    wanted = selection.joints if selection.joints is not None else sorted(have - set(J.MEAN_EXCLUDED))
    out = tuple(j for j in wanted if j in have)
    if not out:
        raise ValueError(f"no joint of {selection.label!r} is predicted by every run")
    return out


def _curve_score(rec: Record, epochs: int) -> float:
    """Mean validation ``Mean`` over the first ``epochs`` epochs (KPTransfer Fig. 3's curves)."""
    hist = rec.history
    return float(hist["val_Mean"].iloc[:epochs].mean())


def seeds_text(seeds: Sequence[int]) -> str:
    """``0-2`` for consecutive seeds, else ``0, 2``; ``none`` when empty."""
    s = sorted(int(x) for x in seeds)
    if not s:
        return "none"
    if len(s) > 2 and s == list(range(s[0], s[-1] + 1)):
        return f"{s[0]}-{s[-1]}"
    return ", ".join(map(str, s))


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


def measure_comparison(source: RecordSource, comp: Comparison, *, level: float = LEVEL) -> Measurement:
    """A − B of ``comp`` with its interval at ``level``, from the records of ``source``.

    Raises ``LookupError`` when a side has no record, :class:`NotApplicable` when the selection
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


def _fmt(x: float, metric: str) -> str:
    if math.isnan(x):
        return "nan"
    return f"{x:+.2e}" if metric == "train_loss" else f"{x:+.2f}"


def format_interval(diff: Interval, metric: str = "pck") -> str:
    """``+0.12 [−0.30, +0.55]`` (points), or in scientific notation for losses; ``+0.12 (one seed: no
    interval)`` when a side has a single seed (never ``[nan, nan]``)."""
    if not diff.defined:
        return f"{_fmt(diff.estimate, metric)} ({NO_INTERVAL})"
    return f"{_fmt(diff.estimate, metric)} [{_fmt(diff.low, metric)}, {_fmt(diff.high, metric)}]"


def scale_text(exp: Experiment) -> str:
    """What one run measured at: dataset, input size, stacks, channels, training people and images seen.

    ``≤`` before the images of a plateau schedule with early stopping (KPTransfer): a run may stop sooner.
    """
    m, d, s = exp.model, exp.data, exp.schedule
    images = s.epochs * s.iters_per_epoch * s.batch_size
    upto = "≤ " if s.kind == "plateau" and s.early_stop else ""
    people = f"{d.train_limit:,}" if d.train_limit else "all"
    return (f"{d.dataset}, {m.input_size}×{m.input_size}, {m.stacks} stacks, C = {m.channels}; "
            f"{upto}{images:,} training images ({people} people)")


def claim_scales(claim: Claim, source: RecordSource | None) -> tuple[str, str]:
    """``(ours, paper's)`` scale of ``claim``: the first comparison's A under the source's profile and
    dataset, and under the ``paper`` profile on MPII (the original claim's pair, e.g. eight stacks for
    Table 6 even where :func:`profile_claims` measured the ablation pair). Ours says "only this scale":
    every verdict rests on one profile's records.
    """
    if claim.kind == "params":
        return "8 stacks, 256×256, C = 256 (the paper's size; counted, not trained)", "8 stacks, 256×256, C = 256"
    if claim.kind == "groups":
        return "MPII training annotations", "MPII training annotations"
    if claim.kind != "records" or not claim.comparisons:
        return "", ""
    original = CLAIMS_BY_ID.get(claim.id, claim).comparisons[0]
    paper = scale_text(make_experiment(original.a, "paper", "mpii", 0))
    if source is None:
        return "", paper
    src = source.for_claim(claim)
    return f"{scale_text(src.experiment(claim.comparisons[0].a, src.seeds[0]))} (only this scale)", paper


def comparison_rows(source: RecordSource, claims: Sequence[Claim] | None = None) -> pd.DataFrame:
    """One row per comparison of the ``records`` claims: A, B, joints, A − B with its interval, seeds, verdict.

    ``claims``: None = :func:`profile_claims` of the source's profile. Each claim is read from
    :meth:`RecordSource.for_claim` (:func:`comparison_datasets` says which). ``seeds`` names the seeds each side
    rests on (``0-2 vs 0-1``); ``reason`` the interval and any rule that decided the verdict (too
    few seeds, the floor, Bonferroni); ``note`` what the verdict cannot see, today runs that stopped
    at the epoch cap without converging (:func:`epoch_cap_note`; PCK comparisons only).
    """
    claims = profile_claims(source.profile) if claims is None else claims
    rows = []
    for claim in claims:
        if claim.kind != "records":
            continue
        family = len(claim.comparisons)
        src = source.for_claim(claim)
        for comp in claim.comparisons:
            missing = src.missing([comp.a, comp.b])
            row = {"claim": claim.id, "comparison": comp.label or f"{comp.a} − {comp.b}", "A": comp.a, "B": comp.b,
                   "joints": comp.selection.label, "metric": comp.metric, "direction": claim.direction,
                   "estimate": math.nan, "low": math.nan, "high": math.nan, "seeds": "", "method": "",
                   "verdict": "", "reason": "", "missing": ", ".join(missing), "note": ""}
            try:
                m = measure_comparison(src, comp)
            except LookupError:
                row.update(verdict="no record", reason="no record of " + " and ".join(
                    n for n in (comp.a, comp.b) if not src.runs(n)) + f" on {src.dataset}")
            except NotApplicable as e:
                row.update(verdict="not applicable", reason=str(e))
            except ValueError as e:
                row.update(verdict="not measurable", reason=str(e))
            else:
                v, reason = comparison_verdict(m, claim, comp.metric, family)
                row.update(estimate=m.diff.estimate, low=m.diff.low, high=m.diff.high, seeds=m.seeds(),
                           method=m.diff.method, verdict=v, reason=reason,
                           note=epoch_cap_note(src.runs(comp.a) + src.runs(comp.b)) if comp.metric == "pck" else "")
            rows.append(row)
    return pd.DataFrame(rows)


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
    v = _aggregate_measured([vs[i] for i in covered])
    if len(covered) < len(vs):
        v += f" ({coverage_text([labels[i] for i in covered], len(vs))})"
    return v


def _aggregate_measured(vs: Sequence[str]) -> str:
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


def comparison_datasets(source: RecordSource, rows: pd.DataFrame) -> pd.Series:
    """The dataset each row of :func:`comparison_rows` was read from (:meth:`RecordSource.for_claim`)."""
    return rows["claim"].map(lambda cid: source.for_claim(CLAIMS_BY_ID[cid]).dataset).rename("dataset")


def _missing_text(rows: pd.DataFrame, limit: int = 4, dataset: str = "") -> str:
    runs = list(dict.fromkeys(m for cell in rows["missing"] for m in cell.split(", ") if m))
    if not runs:
        return ""
    more = f" and {len(runs) - limit} more" if len(runs) > limit else ""
    where = f" on {dataset}" if dataset else ""
    return f"missing {len(runs)} run{'s' * (len(runs) > 1)}{where}: " + ", ".join(runs[:limit]) + more


def _seeds_summary(rows: pd.DataFrame) -> str:
    seeds = [s for s in dict.fromkeys(rows["seeds"]) if s]
    if not seeds:
        return ""
    if len(seeds) == 1:
        return f"seeds {seeds[0]}" + (" in each comparison" if len(rows) > 1 else "")
    return "seeds " + "; ".join(seeds[:3]) + (" ..." if len(seeds) > 3 else "")


def _why(claim: Claim, rows: pd.DataFrame, dataset: str = "") -> str:
    """Why ``claim`` got its verdict, from its comparisons' ``rows``: the measured ones decide, the
    runs still missing (partial coverage) are named after them."""
    partial = _missing_text(rows, dataset=dataset)
    rows = rows[rows["verdict"] != "no record"]
    if rows.empty:
        return partial
    v = _aggregate_measured(list(rows["verdict"]))
    if v in ("not measurable", "not applicable"):
        reasons = list(dict.fromkeys(rows.loc[rows["verdict"] == v, "reason"]))
        return reasons[0] + (f" (and {len(reasons) - 1} more like it)" if len(reasons) > 1 else "") + (
            f" ({partial})" if partial else "")
    side = {"A > B": "above 0", "A < B": "below 0", "A ≈ B": f"inside ±{claim.margin:g}",
            "A ≤ B": f"below +{claim.margin:g}", "A ≥ B": f"above −{claim.margin:g}"}[claim.direction]
    n = len(rows)
    seeds = _seeds_summary(rows)
    tail = "; ".join(t for t in (seeds, partial) if t)
    tail = f" ({tail})" if tail else ""
    if v == "confirmed":
        return (f"interval {side}" if n == 1 else f"all {n} intervals {side}") + tail
    if v.startswith("inconclusive ("):
        bad = rows[rows["verdict"] == v]
        first = bad.iloc[0]
        where = "" if n == 1 else f"{len(bad)} of {n}, e.g. {first['comparison']}: "
        return (f"{where}{NO_INTERVAL} (seeds {first['seeds']}; an interval needs at least {MIN_SEEDS} seeds per "
                f"side)" + (f" ({partial})" if partial else ""))
    bad = rows[rows["verdict"].map(base_verdict) == v]
    what = "wholly on the other side" if v == "not confirmed" else f"not wholly {side}"
    first = bad.iloc[0]
    if n == 1:
        return f"interval {what}: {first['reason']}{tail}"
    return f"{len(bad)} of {n} {what}, e.g. {first['comparison']}: {first['reason']}{tail}"


def structural_verdicts(data_root: str | Path | None = None) -> dict[str, tuple[str, str, str]]:
    """``id → (measured, verdict, why)`` for the claims checked without trained models.

    ``pbn-params``: the parameter counts of the eight-stack PBN and deep baseline at the paper's
    size, from :mod:`lib.models` (no data needed). ``pbn-mi-k5`` / ``pbn-mi-k6``: the spectral
    groups of the MPII training annotations (:mod:`lib.groups`), ``no data`` without them.
    """
    from lib import mi_analysis
    from lib.models import table6_parameters
    from lib.pose_sources import mpii_train_poses

    out: dict[str, tuple[str, str, str]] = {}
    counts = table6_parameters()
    pbn, deep = counts.loc["Ours (8 stacks)", "ours"], counts.loc["Deep BS (8 stacks)", "ours"]
    same = bool((counts["ours (M)"] == counts["paper (M)"]).all())
    out["pbn-params"] = (f"{pbn / 1e6:.2f}M vs {deep / 1e6:.2f}M",
                         "confirmed" if pbn < deep and same else "not confirmed",
                         "counted from lib.models at 256×256, 16 joints, C = 256" + ("" if same else "; counts differ"))
    mpii = mpii_train_poses(data_root)
    if mpii is None:
        for cid in ("pbn-mi-k5", "pbn-mi-k6"):
            out[cid] = ("", "no data", "needs the MPII annotations (POSE_DATA)")
        return out
    k5, k6 = mi_analysis.source_groups(mpii, 5), mi_analysis.source_groups(mpii, 6)
    ok5 = k5 == mi_analysis.canonical(J.MI5_GROUPS)
    out["pbn-mi-k5"] = ("same 5 groups" if ok5 else mi_analysis.groups_text(k5), "confirmed" if ok5 else "not confirmed",
                        f"k = 5 groups of the {len(mpii):,} MPII training poses " + ("equal" if ok5 else "differ from")
                        + " Fig. 2(b)")
    legs = J.idx("r_ankle", "r_knee", "l_knee", "l_ankle")
    head, shoulders = set(J.idx("upper_neck", "head_top")), set(J.idx("thorax", "r_shoulder", "l_shoulder"))
    legs_ok = any(set(legs) <= set(g) for g in k6)
    head_ok = not any(head & set(g) and shoulders & set(g) for g in k6)
    ok6 = legs_ok and head_ok
    out["pbn-mi-k6"] = ("both hold" if ok6 else mi_analysis.groups_text(k6), "confirmed" if ok6 else "not confirmed",
                        f"knees and ankles together: {legs_ok}; head and neck apart from shoulders and thorax: {head_ok}")
    return out


def claim_table(source: RecordSource | None, claims: Sequence[Claim] | None = None, *,
                data_root: str | Path | None = None, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per claim: paper, where, claim, the paper's numbers, our measurement, verdict, why, and both scales.

    ``source`` gives the records (None: every ``records`` claim is ``no record``); ``claims``:
    None = :func:`profile_claims` of the source's profile; ``rows`` reuses :func:`comparison_rows`
    output. ``our scale`` is what the verdict was measured at (:func:`claim_scales`; empty where
    nothing was measured), ``paper's scale`` the paper's recipe. Verdicts from smoke records get
    `` (smoke)``; a claim measured in part carries its coverage (:func:`aggregate`); ``why`` ends
    with :func:`epoch_cap_note` where the measured runs stopped at the epoch cap without converging.
    """
    if claims is None:
        claims = profile_claims(source.profile if source is not None else None)
    claims = list(claims)
    if rows is None:
        rows = comparison_rows(source, claims) if source is not None else pd.DataFrame()
    structural = structural_verdicts(data_root) if any(c.kind in ("groups", "params") for c in claims) else {}
    out = []
    for c in claims:
        base = {"id": c.id, "paper": c.paper, "where": c.where, "claim": c.statement, "paper says": c.paper_says}
        ours, paper = claim_scales(c, source)
        if c.kind == "untested":
            out.append({**base, "measured": "", "verdict": "not tested", "why": c.note})
        elif c.kind in ("groups", "params"):
            measured, v, why = structural[c.id]
            out.append({**base, "measured": measured, "verdict": v, "why": why})
            if v == "no data":
                ours = ""
        elif source is None or rows.empty:
            out.append({**base, "measured": "", "verdict": "no record", "why": "no records were read"})
            ours = ""
        else:
            r = rows[rows["claim"] == c.id]
            v = aggregate(r["verdict"], r["comparison"])
            done = r[~r["verdict"].isin(["no record", "not measurable", "not applicable"])]
            metric = done["metric"].iloc[0] if len(done) else "pck"
            if len(done) == 1:
                d = done.iloc[0]
                measured = format_interval(Interval(d["estimate"], d["low"], d["high"], LEVEL, d["method"], 0), metric)
            elif len(done) > 1:
                measured = (f"{len(done)} comparisons, from {_fmt(done['estimate'].min(), metric)} "
                            f"to {_fmt(done['estimate'].max(), metric)}")
            else:
                measured = ""
            if source.is_smoke and v != "no record":
                v = f"{v} (smoke)"
            if v == "no record":
                ours = ""
            src = source.for_claim(c)
            why = _why(c, r, src.dataset)
            note = epoch_cap_note(rec for d in done[done["metric"] == "pck"].itertuples() for name in (d.A, d.B)
                                  for rec in src.runs(name))
            out.append({**base, "measured": measured, "verdict": v, "why": f"{why}; {note}" if note else why})
        out[-1].update({"our scale": ours, "paper's scale": paper})
    return pd.DataFrame(out)


def verdict_counts(table: pd.DataFrame) -> pd.DataFrame:
    """How many claims of each paper got each verdict (qualifiers such as smoke or seeds merged)."""
    v = table["verdict"].map(base_verdict)
    counts = pd.crosstab(table["paper"], pd.Categorical(v, categories=VERDICTS), dropna=False)
    counts.columns = pd.Index(counts.columns.astype(str), name="verdict")
    return counts.loc[:, counts.sum() > 0]


def rules_markdown() -> str:
    """How a verdict is reached, as implemented here and in :mod:`lib.stats` (for the introduction)."""
    one_sided = 100 * (1 - LEVEL) / 2
    return (
        "**How a verdict is reached.** Each claim is tested by one or more comparisons A − B of two configurations, "
        "each trained with several seeds and evaluated on the same validation people. Two sources of noise enter "
        f"every {100 * LEVEL:g}% interval. *Seeds*: Welch's t over the per-seed PCKs of A and of B "
        "(Welch-Satterthwaite degrees of freedom), so two or three seeds give the wide interval they should. "
        "*Validation people*: the delta-method variance of pooled PCK over images, the part shared by all runs "
        "added to the seed variance; the interval is never narrower than the paired image-only interval "
        "(`lib.stats.config_diff`; analytic, so no verdict depends on a number of bootstrap replicates). Training "
        "losses and convergence use a Student-t interval over differences paired by seed (`lib.stats.seed_interval`). "
        f"A comparison needs at least {MIN_SEEDS} seeds on each side, else it is *inconclusive (n seeds)*; every "
        "verdict's explanation names the seeds it rests on. A claim that A beats B is **confirmed** when the whole "
        "interval lies above 0, **not confirmed** when it lies wholly below 0, and **inconclusive** otherwise (an "
        f"interval touching 0 shows no direction); each conclusion errs at most {one_sided:g}% of the time. A claim "
        f"of *no difference* (A ≈ B) is confirmed when the interval lies inside ±{NO_DIFFERENCE_MARGIN:g} PCK points "
        f"(±{CONVERGENCE_MARGIN:g} for convergence); *no gain* (A ≤ B) when its upper end is below "
        f"+{NO_DIFFERENCE_MARGIN:g}; *no loss* (A ≥ B) when its lower end is above −{NO_DIFFERENCE_MARGIN:g}; and none "
        f"of these when both configurations score below {FLOOR_PCK:g}% (models at the floor agree without "
        "telling us anything). A claim with k comparisons (\"for every width\") is confirmed only when all k "
        f"intervals are (all must hold: the family errs at most {one_sided:g}%), and not confirmed when some "
        f"comparison's Bonferroni interval, at level 1 − {1 - LEVEL:g}/k, lies on the other side. While only some "
        "of the k comparisons have records, the verdict is that of those measured and says what it covers, e.g. "
        "*inconclusive (W = 64 only: 1 of 4 widths)*: it is never the whole claim's. Each comparison uses every "
        "seed either side has a record for, and a side with one seed has no interval (*one seed: no interval*). "
        "KPTransfer's recipe trains until validation stops improving (early stopping); where our runs instead ran "
        "every epoch of the cap without early stopping firing (their best epoch among the last few: still "
        "improving), the verdict's explanation says *runs at the epoch cap*: the gap then mixes a head start with a "
        "better end point. PBN's fixed schedule ends at its last epoch by design, in the paper as here, so its runs "
        "get no such note. `no record`: no comparison of the claim has been trained under this profile; "
        "`not measurable`: the records cannot answer it (e.g. no occlusion labels); `not applicable`: a claim about "
        "visible against invisible joints on a dataset without invisible joints (LSP Extended annotates only "
        "visible joints; there these claims are read from `synthetic-mpii`); `not tested`: outside what this study "
        "can run, with the reason."
    )
