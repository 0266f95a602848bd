"""What records a claim reads: one profile's records of the compared runs, and the hits selected from them.

A claim of :mod:`lib.paper` is tested by one or more comparisons A − B of two experiments
(:class:`lib.paper.Comparison`), measured (:mod:`lib.verdicts`) on the records a :class:`RecordSource`
reads: a profile, a dataset and seeds. A source built without explicit seeds reads every seed that
has a record of today's config (the profile's seeds and any beyond them, e.g. seeds 3-5 of the
central pair): a comparison rests on all the seeds each side has (:meth:`RecordSource.seeds_of`).
The claims about occluded joints are read from a dataset rendered with occlusion labels
(:data:`OCCLUSION_DATASETS`; :meth:`RecordSource.for_claim`).

From each record, :func:`selected_hits` takes a comparison's joints (those every run predicts:
:func:`common_joints`) and its visibility: all, visible, invisible, or one occlusion cause. A claim
about visible against invisible joints read from a dataset without invisible joints is
:class:`NotApplicable` (the ``not applicable`` verdict): LSP Extended annotates only visible joints,
so there "visible" would repeat the overall number (:func:`has_invisible_joints`, :data:`NO_INVISIBLE`).

This module reads records and never trains: runs without a record are trained beforehand by
:func:`lib.runner.ensure_records` (from :func:`claim_experiments` or :meth:`RecordSource.experiments`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from lib import joints as J
from lib.experiments import Experiment, get_profile, make_experiment
from lib.paper import OCCLUSION_CODES, Claim, Selection
from lib.results import Record, find_record, record_path


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


def seeds_text(seeds: Sequence[int]) -> str:
    """``0-2`` for consecutive seeds, else ``0, 2``; ``none`` when empty."""
    s = sorted(int(x) for x in seeds)
    if not s:
        return "none"
    if len(s) > 2 and s == list(range(s[0], s[-1] + 1)):
        return f"{s[0]}-{s[-1]}"
    return ", ".join(map(str, s))
