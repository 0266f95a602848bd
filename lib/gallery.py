"""What the models got wrong: a failure gallery and per-joint error distributions from the records.

A record keeps its run's validation hits and predictions (``lib.results``); the crops themselves
are rebuilt with the run's data config (dataset, resolution, margin, ``val_limit``), so no
weights are needed. Each run becomes a :class:`lib.evaluate.Evaluation` of its stored hits
(:func:`lib.evaluate.stored`). :func:`failure_gallery` shows the validation people with the
largest errors, ground truth beside each compared model's prediction; :func:`error_distribution`
shows each table column's normalised errors (error / head size for PCKh, / torso for PCK; PBN
Sec. 4) per model, with the PCK threshold drawn, so one sees whether a model's misses are near
misses or confusions (a wrist found on the other arm, say).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from lib.data.poseset import PoseSet
from lib.data.preview import draw_skeleton
from lib.evaluate import Evaluation, pck_metric, stored
from lib.figures import Plot
from lib.joints import TABLE_COLUMNS
from lib.record_source import RecordSource
from lib.results import Record

#: Errors above this many normalisers count as this much when people are ranked (a joint lost
#: far away is not worse than one lost nearby).
RANK_CAP = 1.0
#: Errors above this many normalisers are drawn at this value in the distribution plot.
PLOT_CAP = 2.0


def validation_people(record: Record, data_root: str | Path | None = None,
                      cache_dir: str | Path | None = None) -> PoseSet:
    """The validation people ``record``'s run was evaluated on, rebuilt from its data config."""
    from lib.data import load_poseset

    d = record.data["config"]["data"]
    return load_poseset(d["dataset"], "val", data_root=data_root, resolution=d["resolution"], margin=d["margin"],
                        cache_dir=cache_dir, limit=d.get("val_limit"))


def compare(records: Sequence[Record | None], labels: Sequence[str] | None = None,
            data_root: str | Path | None = None,
            cache_dir: str | Path | None = None) -> tuple[PoseSet, list[Evaluation]]:
    """The shared validation people of ``records`` and each run's stored evaluation on them (None records left out)."""
    if labels is not None:
        labels = [n for n, r in zip(labels, records) if r is not None]
    records = [r for r in records if r is not None]
    if not records:
        raise ValueError("no records to compare; run the experiments first (python -m lib.train ...)")
    configs = {_data_key(r) for r in records}
    if len(configs) != 1:
        raise ValueError(f"the records were validated on different people ({sorted(configs)}); compare runs of one "
                         "dataset and profile")
    ps = validation_people(records[0], data_root, cache_dir)
    names = labels or [f"{r.experiment} s{r.seed}" for r in records]
    return ps, [stored(r, ps, n) for r, n in zip(records, names)]


def seed_records(source: RecordSource, names: Sequence[str]) -> tuple[int, list[Record | None]]:
    """The first of ``source``'s seeds at which every one of ``names`` has a record, and those records;
    without such a seed, the first seed and what it has (None where a run has no record).

    A gallery compares runs of one seed, so that every panel shows the same people and each model's
    first training run, not a seed picked for how it looks.
    """
    for seed in source.seeds:
        records = [source.record(n, seed) for n in names]
        if all(r is not None for r in records):
            return seed, records
    return source.seeds[0], [source.record(n, source.seeds[0]) for n in names]


def compare_or_reason(records: Sequence[Record | None], labels: Sequence[str] | None = None,
                      data_root: str | Path | None = None, cache_dir: str | Path | None = None, *,
                      need_all: bool = False) -> tuple[PoseSet | None, list[Evaluation], str]:
    """:func:`compare`, or ``(None, [], why)`` when it cannot be drawn: no record (with ``need_all``:
    any run without one), or the validation people cannot be rebuilt here (no data root, a damaged
    file); the book says why instead of failing."""
    from lib.errors import DataFileError

    have = [r is not None for r in records]
    if not any(have):
        return None, [], "No records of these runs under this profile yet."
    if need_all and not all(have):
        return None, [], "Not every compared run has a record at the same seed under this profile yet."
    try:
        ps, runs = compare(records, labels, data_root, cache_dir)
    except (OSError, DataFileError, ValueError) as e:
        return None, [], f"The validation people cannot be rebuilt here ({e}); set POSE_DATA to draw them."
    return ps, runs, ""


def worst_people(runs: Sequence[Evaluation], k: int = 5) -> np.ndarray:
    """The ``k`` people with the largest mean error over the runs (errors capped at :data:`RANK_CAP`).

    A person counts where every run evaluates at least one joint. Ties go to the lower index.
    """
    per_run = []
    for r in runs:
        n = r.evaluated.sum(1)
        total = (np.minimum(r.errors, RANK_CAP) * r.evaluated).sum(1)
        per_run.append(np.where(n > 0, total / np.maximum(n, 1), np.nan))
    counted = ~np.isnan(per_run).any(0)
    score = np.where(counted, np.mean(per_run, axis=0), -np.inf)
    order = np.lexsort((np.arange(len(score)), -score))
    return order[: min(k, int(counted.sum()))]


def failure_gallery(ps: PoseSet, runs: Sequence[Evaluation], k: int = 5) -> Plot:
    """The ``k`` worst validation people: ground truth, then each run's prediction (wrong joints hollow)."""
    people = worst_people(runs, k)
    cols = 1 + len(runs)
    fig = Figure(figsize=(1.9 * cols, 2.0 * len(people) + 0.2))
    axes = fig.subplots(max(1, len(people)), cols, squeeze=False)
    r = ps.resolution
    all_cols = list(dict.fromkeys(c for run in runs for c in run.columns))
    ids = tuple(ps.joint_ids[c] for c in all_cols)
    for row, i in enumerate(people):
        for col, ax in enumerate(axes[row]):
            ax.imshow(ps.images[i], extent=(-0.5, r - 0.5, r - 0.5, -0.5))
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                draw_skeleton(ax, ps.joints[i, all_cols], ps.annotated[i, all_cols], ps.visible[i, all_cols], ids)
                ax.set_title(f"#{i} ground truth", fontsize=7)
                continue
            run = runs[col - 1]
            draw_skeleton(ax, run.pred[i], np.ones(len(run.joint_ids), bool), run.hits[i], run.joint_ids)
            n = int(run.evaluated[i].sum())
            ax.set_title(f"{run.label}: {int(run.hits[i].sum())}/{n} right", fontsize=7)
            ax.set_xlim(-0.5, r - 0.5)
            ax.set_ylim(r - 0.5, -0.5)
    fig.suptitle("largest errors first; hollow = ground truth invisible (left) or prediction wrong", fontsize=8)
    fig.tight_layout()
    return Plot(fig, photo=True)


def column_errors(run: Evaluation) -> dict[str, np.ndarray]:
    """Each table column's evaluated normalised errors (all its joints pooled)."""
    out = {}
    for name, members in TABLE_COLUMNS.items():
        k = [i for i, j in enumerate(run.joint_ids) if j in members]
        if k:
            out[name] = run.errors[:, k][run.evaluated[:, k]]
    return out


def error_distribution(runs: Sequence[Evaluation]) -> Plot:
    """Box plots of the normalised error per table column, one box per run, the PCK threshold dashed."""
    per_run = [column_errors(r) for r in runs]
    names = [c for c in TABLE_COLUMNS if any(c in e for e in per_run)]
    fig = Figure(figsize=(1.0 + 0.45 * len(names) * len(runs), 3.2))
    ax = fig.subplots()
    width = 0.8 / len(runs)
    for k, (run, errs) in enumerate(zip(runs, per_run)):
        pos = [i + (k - (len(runs) - 1) / 2) * width for i, c in enumerate(names) if c in errs]
        data = [np.minimum(errs[c], PLOT_CAP) for c in names if c in errs]
        box = ax.boxplot(data, positions=pos, widths=width * 0.85, patch_artist=True, showfliers=True,
                         flierprops={"markersize": 2})
        for patch in box["boxes"]:
            patch.set_facecolor(f"C{k}")
            patch.set_alpha(0.6)
        ax.plot([], [], "s", color=f"C{k}", alpha=0.6, label=run.label)
    ax.axhline(runs[0].threshold, ls="--", color="k", lw=0.8)
    ax.set_xticks(range(len(names)), names)
    spec = pck_metric(runs[0].metric)
    ax.set_ylabel(f"error / {spec.normaliser} (capped at {PLOT_CAP:g})", fontsize=8)
    ax.set_ylim(0, PLOT_CAP * 1.05)
    ax.set_title(f"per-joint error distribution; dashed: the {spec.label} threshold", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return Plot(fig)


#: Ring colours of occluded ground-truth joints in :func:`occlusion_contrast`: by ``PoseSet.occlusion``
#: code (1 self-occluded, 2 other-occluded; 0 where a dataset marks a joint invisible without a type).
OCCLUSION_RINGS = {1: "orange", 2: "magenta", 0: "0.3"}


def occluded_mask(ps: PoseSet, run: Evaluation) -> np.ndarray:
    """``N×J`` (``run``'s joints): annotated but invisible in ``ps`` and evaluated by ``run``."""
    cols = list(run.columns)
    return ps.annotated[:, cols] & ~ps.visible[:, cols] & run.evaluated


def occluded_hits(ps: PoseSet, baseline: Evaluation, model: Evaluation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per person: occluded joints both runs evaluate, and how many of them each gets right.

    Only the joints both runs predict count (MPII ids), so the two counts are over the same joints.
    Returns ``(occluded, right_baseline, right_model)``, each of length N.
    """
    shared = [j for j in baseline.joint_ids if j in model.joint_ids]
    kb = [baseline.joint_ids.index(j) for j in shared]
    km = [model.joint_ids.index(j) for j in shared]
    occ = occluded_mask(ps, baseline)[:, kb] & occluded_mask(ps, model)[:, km]
    return occ.sum(1), (baseline.hits[:, kb] & occ).sum(1), (model.hits[:, km] & occ).sum(1)


def occlusion_pairs(ps: PoseSet, baseline: Evaluation, model: Evaluation, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` people where ``model`` gets most more occluded joints right than ``baseline``, and the ``k``
    where ``baseline`` does (people with no difference are in neither; ties go to the lower index).

    Both directions are shown so that a gallery of occluded joints is not a choice of favourable examples.
    """
    _, rb, rm = occluded_hits(ps, baseline, model)
    diff = rm.astype(int) - rb.astype(int)
    idx = np.arange(len(diff))
    better = np.lexsort((idx, -diff))
    worse = np.lexsort((idx, diff))
    return better[diff[better] > 0][:k], worse[diff[worse] < 0][:k]


def occlusion_contrast(ps: PoseSet, baseline: Evaluation, model: Evaluation, k: int = 3) -> Plot:
    """PBN Fig. 7 from records: the same validation people, ground truth, ``baseline``'s and ``model``'s predictions.

    The first rows are the people where ``model`` gets most more occluded joints right, the last
    those where ``baseline`` does (:func:`occlusion_pairs`); occluded ground-truth joints are ringed
    in every panel (orange: hidden by the person's own body, magenta: by something else), and a
    prediction's wrong joints are hollow. The title counts the people each way over the whole
    validation set, so the examples can be read against how often each case happens.
    """
    better, worse = occlusion_pairs(ps, baseline, model, k)
    people = [(i, f"{model.label} better") for i in better] + [(i, f"{baseline.label} better") for i in worse]
    occ_n, rb, rm = occluded_hits(ps, baseline, model)
    cols = list(model.columns)
    ring_codes = ps.occlusion[:, cols] if ps.occlusion is not None else np.zeros((len(ps), len(cols)), np.int8)
    fig = Figure(figsize=(2.0 * 3, 2.1 * max(1, len(people)) + 0.4))
    axes = fig.subplots(max(1, len(people)), 3, squeeze=False)
    r = ps.resolution
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if not people:
        axes[0, 0].text(0.5, 0.5, "no person with occluded joints on which the two runs differ", fontsize=7,
                        transform=axes[0, 0].transAxes)
    for row, (i, why) in enumerate(people):
        occluded = occluded_mask(ps, model)[i]
        gt = ps.joints[i, cols]
        for col, ax in enumerate(axes[row]):
            ax.imshow(ps.images[i], extent=(-0.5, r - 0.5, r - 0.5, -0.5))
            if col == 0:
                draw_skeleton(ax, gt, ps.annotated[i, cols], ps.visible[i, cols], model.joint_ids)
                ax.set_title(f"#{i} ground truth ({why})", fontsize=6.5)
            else:
                run, right = (baseline, rb[i]) if col == 1 else (model, rm[i])
                draw_skeleton(ax, run.pred[i], np.ones(len(run.joint_ids), bool), run.hits[i], run.joint_ids)
                ax.set_title(f"{run.label}: {right}/{occ_n[i]} occluded right", fontsize=6.5)
            for j in np.flatnonzero(occluded):
                ax.scatter(gt[j, 0], gt[j, 1], s=90, facecolors="none",
                           edgecolors=OCCLUSION_RINGS.get(int(ring_codes[i, j]), "0.3"), linewidths=1.2, zorder=4)
            ax.set_xlim(-0.5, r - 0.5)
            ax.set_ylim(r - 0.5, -0.5)
    diff = rm.astype(int) - rb.astype(int)
    fig.suptitle(f"occluded joints ringed (orange self, magenta other);\nover all {len(ps)} people: {model.label} "
                 f"better on {int((diff > 0).sum())}, {baseline.label} better on {int((diff < 0).sum())}, "
                 f"same on {int(((diff == 0) & (occ_n > 0)).sum())}", fontsize=7)
    fig.tight_layout()
    return Plot(fig, photo=True)


def _data_key(record: Record) -> tuple:
    d = record.data["config"]["data"]
    return d["dataset"], d["resolution"], d["margin"], d.get("val_limit")
