"""Evaluate a trained model without retraining: the papers' test protocols, tables with AUC, run listing.

A finished run keeps its selected weights in ``.cache/runs/<config hash>/final.pt``
(:mod:`lib.checkpoint`, ``lib.runner.run_dir``); its record in ``results/`` says which
experiment, profile, dataset and seed produced them. This module loads such a model (by
experiment, or from a weights file, whose hash names its configuration) and evaluates it on any
dataset split with one of three test protocols:

* ``single``: one unaugmented input per person, the last stack's heatmaps (PBN Sec. 4.3, the
  ablations; what ``lib.evaluate`` does after every training epoch);
* ``flip``: the average with the mirrored input's heatmaps mapped back (Newell et al.);
* ``multiscale``: PBN Sec. 4.2's "six-scale image pyramids with flipping", scales 0.8 to 1.3
  (:data:`lib.heatmaps.PYRAMID_SCALES`), through :func:`lib.heatmaps.multiscale_test`: the
  protocol of PBN Tables 1-5.

Predictions are decoded with the quarter-pixel shift (``lib.heatmaps.decode``) and mapped to
crop pixels, where ``PoseSet.norm`` normalises errors, and to image pixels through
``PoseSet.origin`` (for prediction files, :mod:`lib.export`). The result prints as the papers'
per-joint table plus the area under the PCK curve (thresholds 0 to 0.5 for PCKh, 0 to 0.2 for
PCK), as the official MPII and LSP evaluation scripts print it.

Command line::

    python -m lib.inference eval EXPERIMENT --profile P --seed S [--protocol multiscale] [--out preds.mat]
    python -m lib.inference eval --weights .cache/runs/<hash>/final.pt [--data mpii] [--out preds.mat]
    python -m lib.inference list [--profile P] [--dataset D]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from lib import checkpoint as ckpt
from lib.data.augment import DeviceData, eval_inputs, heatmap_to_crop
from lib.data.poseset import PoseSet
from lib.experiments import DATASETS, PROFILES, Experiment, config_hash, experiment_names, make_experiment
from lib.heatmaps import PYRAMID_SCALES, decode, flip_pairs_for, flip_test, multiscale_test
from lib.joints import MPII_JOINTS
from lib.metrics import (PCK_THRESHOLD, PCKH_THRESHOLD, TABLE_KEYS, normalized_errors,
                         pck_table, per_joint)
from lib.models import build_model
from lib.results import DEFAULT_RESULTS, load_record

PROTOCOLS: tuple[str, ...] = ("single", "flip", "multiscale")
#: Curve thresholds of the official evaluations: MPII's ``0:0.01:0.5`` and LSP's ``0:0.01:0.2``.
CURVE_MAX: dict[str, float] = {"pckh": PCKH_THRESHOLD, "pck": PCK_THRESHOLD}


# ---------------------------------------------------------------------------------------------
# finding and loading a run's weights


def weights_path(exp: Experiment, checkpoint_dir: str | Path | None = None) -> Path:
    """Where ``exp``'s final weights live: ``<checkpoint_dir or .cache/runs>/<config hash>/final.pt``."""
    return Path(checkpoint_dir or ckpt.DEFAULT_RUNS_DIR) / config_hash(exp) / ckpt.FINAL


def retrain_hint(exp: Experiment) -> str:
    """The command that (re)creates ``exp``'s weights (weights are not committed, records are)."""
    return (f"python -m lib.train {exp.name} --profile {exp.profile} --dataset {exp.data.dataset} "
            f"--seed {exp.seed} --force")


def find_experiment(hash_: str, results_dir: str | Path | None = None) -> Experiment:
    """The experiment whose config hashes to ``hash_`` (a run folder's name, a weights file's ``hash``).

    Looks at the records under ``results_dir`` first (any profile, dataset, seed), then at every
    experiment of every profile, dataset and profile seed. Raises ``ValueError`` when none matches.
    """
    root = Path(results_dir) if results_dir is not None else DEFAULT_RESULTS
    for path in sorted(root.glob("*/*/*.json")):
        if path.name.startswith("."):
            continue
        data = json.loads(path.read_text())
        if data.get("hash") == hash_:
            exp = make_experiment(data["experiment"], data["profile"], data["dataset"], int(data["seed"]))
            if config_hash(exp) == hash_:
                return exp
    for profile in PROFILES.values():
        for dataset in DATASETS:
            for seed in profile.seeds:
                for name in experiment_names():
                    exp = make_experiment(name, profile, dataset, seed)
                    if config_hash(exp) == hash_:
                        return exp
    raise ValueError(f"no record under {root} and no experiment of any profile has config hash {hash_[:12]}...; "
                     "name the run with EXPERIMENT --profile P --dataset D --seed S")


def load_weights(path: str | Path) -> dict:
    """A ``final.pt`` written by the training engine: ``{"hash", "model", "epoch"}``."""
    path = Path(path)
    try:
        saved = ckpt.read(path)  # a damaged file the user named is an error, never moved aside
    except FileNotFoundError:
        raise FileNotFoundError(f"weights file {path} does not exist; `python -m lib.inference list` lists the runs "
                                "whose weights are kept") from None
    if not isinstance(saved, dict) or "model" not in saved or "hash" not in saved:
        raise ValueError(f"{path} is not a run's final weights (it lacks 'model' or 'hash'); give the final.pt "
                         "of a run folder")
    return saved


def load_model(exp: Experiment | None = None, weights: str | Path | None = None, *,
               checkpoint_dir: str | Path | None = None, results_dir: str | Path | None = None,
               device: str | torch.device = "cpu") -> tuple[Experiment, torch.nn.Module, Path]:
    """A finished run's model in eval mode, with its experiment and the weights file read.

    Give ``exp`` (its weights are looked up in the run folder), ``weights`` (the experiment is
    found from the file's config hash) or both (the hash must agree).
    """
    if exp is None and weights is None:
        raise ValueError("give an experiment or a weights file")
    path = Path(weights) if weights is not None else weights_path(exp, checkpoint_dir)
    if not path.exists() and exp is not None and weights is None:
        raise FileNotFoundError(f"{exp.name} (profile {exp.profile}, {exp.data.dataset}, seed {exp.seed}) has no "
                                f"weights at {path}; train it with `{retrain_hint(exp)}`")
    saved = load_weights(path)
    if exp is None:
        exp = find_experiment(saved["hash"], results_dir)
    elif saved["hash"] != config_hash(exp):
        raise ValueError(f"{path} holds the weights of config {saved['hash'][:12]}..., not of {exp.name} "
                         f"({config_hash(exp)[:12]}...); drop the experiment arguments to use the file's own")
    model = build_model(exp.model)
    model.load_state_dict(saved["model"])
    return exp, model.to(torch.device(device)).eval(), path


# ---------------------------------------------------------------------------------------------
# prediction and evaluation


@torch.no_grad()
def predict(model: torch.nn.Module, data: DeviceData, input_size: int, protocol: str = "single", *,
            flip_pairs: Sequence[tuple[int, int]] = (), scales: Sequence[float] = PYRAMID_SCALES,
            batch_size: int = 32, bf16: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``N×K×2`` crop-pixel predictions of the model's ``K`` output joints, and their heatmap peaks.

    ``flip_pairs`` are the left/right pairs among the model's output channels
    (:func:`lib.heatmaps.flip_pairs_for` of the predicted MPII ids); ``scales`` the pyramid of
    ``multiscale``; ``bf16``: the network runs under bf16 autocast (as a run trained with
    precision bf16 was validated; near-ties of a heatmap's maximum can then decode differently).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown test protocol {protocol!r}; choose one of {PROTOCOLS}")
    model.eval()

    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            return model(x)[-1].float()

    coords, peaks = [], []
    for start in range(0, len(data), batch_size):
        index = torch.arange(start, min(len(data), start + batch_size), device=data.device)
        inputs = eval_inputs(data, index, input_size)
        if protocol == "single":
            heatmaps = forward(inputs)
        elif protocol == "flip":
            heatmaps = flip_test(forward, inputs, flip_pairs)
        else:
            heatmaps = multiscale_test(forward, inputs, scales, flip_pairs)
        xy, mv = decode(heatmaps)
        coords.append(xy)
        peaks.append(mv)
    pred = heatmap_to_crop(torch.cat(coords), data, input_size)
    return pred.cpu().numpy().astype(np.float64), torch.cat(peaks).cpu().numpy().astype(np.float64)


def auc(errors: np.ndarray, evaluated: np.ndarray, joint_ids: Sequence[int], max_threshold: float) -> dict[str, float]:
    """Area under the PCK curve per table column, in percent of the full square.

    The curve is PCK at thresholds ``0, 0.01, ..., max_threshold`` (MPII: 0.5; LSP: 0.2); the
    area is the trapezoid rule's, divided by ``max_threshold`` (``area_under_curve`` of the
    official MPII and LSP evaluation code, which rescales the thresholds to [0, 1]). Perfect
    predictions score 100 minus half a step (the curve is 0 at threshold 0 with the strict ``<``).
    """
    steps = int(round(max_threshold / 0.01))
    thresholds = np.linspace(0.0, max_threshold, steps + 1)
    tables = [pck_table((errors < t) & evaluated, evaluated, joint_ids) for t in thresholds]
    out = {}
    for key in tables[0]:
        curve = np.array([tab[key] for tab in tables])
        out[key] = float(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(thresholds)) / max_threshold)
    return out


@dataclass
class Evaluated:
    """A model evaluated on a split. Arrays are ``N×J`` over the evaluated joints ``joint_ids`` (MPII ids).

    Attributes:
        pred: ``N×J×2`` predictions in crop pixels; ``image_pred``: the same in 0-based image
            pixels (None when the data has no ``origin``, e.g. synthetic people).
        maxvals: heatmap peak per joint; ``errors``: error / norm (inf where not evaluated).
        hits, evaluated, visible: correctness at ``threshold``, evaluation mask, visibility.
        columns: the dataset columns of the joints, in ``PoseSet`` order.
        table: ``lib.metrics.pck_table`` row at ``threshold``; ``auc``: the same columns' AUC.
        metric: ``pckh`` or ``pck``; protocol, dataset, split: what was run on what.
    """

    pred: np.ndarray
    image_pred: np.ndarray | None
    maxvals: np.ndarray
    errors: np.ndarray
    hits: np.ndarray
    evaluated: np.ndarray
    visible: np.ndarray
    joint_ids: tuple[int, ...]
    columns: tuple[int, ...]
    table: dict[str, float]
    auc: dict[str, float]
    metric: str
    threshold: float
    protocol: str
    dataset: str
    split: str

    def __len__(self) -> int:
        return len(self.pred)

    def per_joint(self) -> dict[str, float]:
        """PCK per joint name at ``threshold``."""
        return dict(zip((MPII_JOINTS[j] for j in self.joint_ids), per_joint(self.hits, self.evaluated).tolist()))

    def format(self) -> str:
        """The papers' layout: one row at the threshold, one of AUC, columns ``Head`` ... ``Mean``."""
        keys = [k for k in (*TABLE_KEYS, "Hard") if k in self.table]
        label = f"{'PCKh' if self.metric == 'pckh' else 'PCK'}@{self.threshold:g}"
        curve = f"AUC@0-{CURVE_MAX[self.metric]:g}"
        width = max(len(label), len(curve)) + 1
        lines = [" " * width + "".join(f"{k:>8}" for k in keys)]
        for name, row in ((label, self.table), (curve, self.auc)):
            lines.append(f"{name:<{width}}" + "".join(f"{row[k]:>8.1f}" for k in keys))
        return "\n".join(lines)

    def summary(self) -> dict:
        """JSON-ready: table, AUC, per-joint values, counts."""
        def clean(d: dict) -> dict:
            return {k: (None if not np.isfinite(v) else float(v)) for k, v in d.items()}

        return {"dataset": self.dataset, "split": self.split, "protocol": self.protocol, "metric": self.metric,
                "threshold": self.threshold, "people": len(self), "columns": clean(self.table),
                "auc": clean(self.auc), "joints": clean(self.per_joint())}


def evaluate(model: torch.nn.Module, exp: Experiment, ps: PoseSet, protocol: str = "single", *,
             scales: Sequence[float] = PYRAMID_SCALES, batch_size: int = 32,
             device: str | torch.device = "cpu", split: str = "val", bf16: bool = False) -> Evaluated:
    """Evaluate ``exp``'s model on the people of ``ps`` under ``protocol``.

    The joints evaluated are those the model predicts (``exp.eval_joints``) that the dataset
    annotates: a 16-joint MPII model on LSP is scored on LSP's 14. ``single`` reproduces the
    evaluation the training engine stored in the run's record.
    """
    model_ids = exp.eval_joints
    channels = [k for k, j in enumerate(model_ids) if j in ps.joint_ids]
    if not channels:
        raise ValueError(f"{exp.name} predicts MPII joints {model_ids}, none of which the data has ({ps.joint_ids})")
    columns = tuple(ps.joint_ids.index(model_ids[k]) for k in channels)
    joint_ids = tuple(model_ids[k] for k in channels)
    data = DeviceData.from_poseset(ps, torch.device(device))
    pred, maxvals = predict(model, data, exp.model.input_size, protocol, flip_pairs=flip_pairs_for(model_ids),
                            scales=scales, batch_size=batch_size, bf16=bf16)
    pred, maxvals = pred[:, channels], maxvals[:, channels]
    cols = list(columns)
    errors, evaluated = normalized_errors(pred, ps.joints[:, cols], ps.annotated[:, cols], ps.norm)
    threshold = CURVE_MAX[ps.metric]
    hits = (errors < threshold) & evaluated
    image_pred = None
    if ps.origin is not None:
        image_pred = ps.origin[:, None, :2].astype(np.float64) + pred * ps.origin[:, None, 2:3].astype(np.float64)
    return Evaluated(pred=pred, image_pred=image_pred, maxvals=maxvals, errors=np.where(evaluated, errors, np.inf),
                     hits=hits, evaluated=evaluated, visible=ps.visible[:, cols].astype(bool), joint_ids=joint_ids,
                     columns=columns, table=pck_table(hits, evaluated, joint_ids),
                     auc=auc(errors, evaluated, joint_ids, threshold), metric=ps.metric, threshold=threshold,
                     protocol=protocol, dataset=str(ps.meta.get("dataset", "")), split=split)


def load_split(exp: Experiment, dataset: str | None = None, split: str = "val", limit: int | None = None, *,
               data_root: str | Path | None = None, cache_dir: str | Path | None = None) -> PoseSet:
    """The people to evaluate on: by default the run's own validation people (its ``val_limit``).

    Crops are cut at the run's resolution and margin. MPII keeps the people whose photos exist
    (the shared data has 50 photos), with a warning naming how many were dropped.
    """
    from lib.data import load_poseset

    dataset = dataset or exp.data.dataset
    if limit is None and dataset == exp.data.dataset:
        limit = exp.data.val_limit if split == "val" else exp.data.train_limit
    ps = load_poseset(dataset, split, data_root=data_root, resolution=exp.data.resolution, margin=exp.data.margin,
                      cache_dir=cache_dir, limit=limit, require_images=dataset != "mpii")
    ps.meta.setdefault("dataset", dataset)
    return ps


# ---------------------------------------------------------------------------------------------
# listing runs


@dataclass(frozen=True)
class RunEntry:
    """One finished run: its record and where its weights are (``weights_exist`` says if they are)."""

    experiment: str
    profile: str
    dataset: str
    seed: int
    mean: float | None
    hard: float | None
    hash: str
    weights: Path
    weights_exist: bool
    record: Path | None


def list_runs(results_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None,
              profile: str | None = None, dataset: str | None = None) -> list[RunEntry]:
    """Every recorded run (with its weights' path), then run folders holding weights but no record."""
    root = Path(results_dir) if results_dir is not None else DEFAULT_RESULTS
    runs = Path(checkpoint_dir or ckpt.DEFAULT_RUNS_DIR)
    out, seen = [], set()
    for path in sorted(root.glob(f"{profile or '*'}/{dataset or '*'}/*.json")):
        if path.name.startswith("."):
            continue
        rec = load_record(path)
        d = rec.data
        w = runs / d["hash"] / ckpt.FINAL
        seen.add(d["hash"])
        out.append(RunEntry(d["experiment"], d["profile"], d["dataset"], rec.seed, d["metrics"].get("Mean"),
                            d["metrics"].get("Hard"), d["hash"], w, w.exists(), path))
    if profile is None and dataset is None:
        for w in sorted(runs.glob(f"*/{ckpt.FINAL}")):
            if w.parent.name not in seen:
                out.append(RunEntry("?", "?", "?", -1, None, None, w.parent.name, w, True, None))
    return out


# ---------------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lib.inference", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("eval", help="evaluate a finished run's weights on a dataset split")
    e.add_argument("experiment", nargs="?", help="experiment name (`python -m lib.train --list`)")
    e.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    e.add_argument("--dataset", default=None, help="the dataset the run was trained on (default: the profile's)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--weights", type=Path, default=None, help="a final.pt (the experiment is found from its hash)")
    e.add_argument("--data", default=None, help="dataset to evaluate on (default: the run's own)")
    e.add_argument("--split", default="val", choices=("val", "train"))
    e.add_argument("--limit", type=int, default=None, help="first N people (default: the run's validation people)")
    e.add_argument("--protocol", default="multiscale", choices=PROTOCOLS,
                   help="single, flip, or multiscale (PBN Sec. 4.2: six scales 0.8-1.3 with flip; default)")
    e.add_argument("--out", type=Path, default=None,
                   help="prediction file: MPII .mat (people x 16 x 2, 1-based) or LSP .mat/.csv (see lib.export)")
    e.add_argument("--json", action="store_true", help="end with one JSON line")
    e.add_argument("--batch-size", type=int, default=32)
    e.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                   help="fp32 (default) or bf16 autocast, as a run trained in bf16 was validated")
    _common(e)
    ls = sub.add_parser("list", help="finished runs: experiment, profile, dataset, seed, score, weights")
    ls.add_argument("--profile", default=None)
    ls.add_argument("--dataset", default=None)
    ls.add_argument("--json", action="store_true", help="one JSON line per run")
    ls.add_argument("--results", default=None, help="results folder (default: the repository's results/)")
    ls.add_argument("--checkpoint-dir", default=None, help="run folders (default .cache/runs)")
    return p


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default=None, help="results folder (default: the repository's results/)")
    p.add_argument("--checkpoint-dir", default=None, help="run folders (default .cache/runs)")
    p.add_argument("--data-root", default=None, help="datasets folder (default $POSE_DATA)")
    p.add_argument("--cache-dir", default=None, help="packed crops (default .cache/packs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")


def _list(args: argparse.Namespace) -> int:
    entries = list_runs(args.results, args.checkpoint_dir, args.profile, args.dataset)
    if args.json:
        for r in entries:
            print(json.dumps({"experiment": r.experiment, "profile": r.profile, "dataset": r.dataset, "seed": r.seed,
                              "Mean": r.mean, "Hard": r.hard, "hash": r.hash, "weights": str(r.weights),
                              "weights_exist": r.weights_exist, "record": str(r.record) if r.record else None}))
        return 0
    print(f"{'experiment':<28}{'profile':<8}{'dataset':<16}{'seed':>5}{'Mean':>7}{'Hard':>7}  weights")
    for r in entries:
        score = "".join(f"{v:>7.1f}" if v is not None else f"{'-':>7}" for v in (r.mean, r.hard))
        where = str(r.weights) if r.weights_exist else "(not kept: retrain with --force)"
        print(f"{r.experiment:<28}{r.profile:<8}{r.dataset:<16}{r.seed:>5}{score}  {where}")
    kept = sum(r.weights_exist for r in entries)
    print(f"{len(entries)} runs, {kept} with weights in {args.checkpoint_dir or ckpt.DEFAULT_RUNS_DIR}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from lib.runtime import resolve_device

    if args.experiment is None and args.weights is None:
        raise ValueError("give an EXPERIMENT (with --profile, --dataset, --seed) or --weights FILE")
    device = resolve_device(args.device)
    if args.threads and device.type == "cpu":
        torch.set_num_threads(args.threads)
    exp = make_experiment(args.experiment, args.profile, args.dataset, args.seed) if args.experiment else None
    exp, model, path = load_model(exp, args.weights, checkpoint_dir=args.checkpoint_dir,
                                  results_dir=args.results, device=device)
    ps = load_split(exp, args.data, args.split, args.limit, data_root=args.data_root, cache_dir=args.cache_dir)
    ev = evaluate(model, exp, ps, args.protocol, batch_size=args.batch_size, device=device, split=args.split,
                  bf16=args.precision == "bf16")
    print(f"{exp.name} ({exp.profile}, trained on {exp.data.dataset}, seed {exp.seed}) on {ev.dataset} {args.split}: "
          f"{len(ev)} people, protocol {args.protocol}  [{path}]")
    print(ev.format())
    out = ev.summary() | {"experiment": exp.name, "profile": exp.profile, "seed": exp.seed, "weights": str(path)}
    if args.out is not None:
        from lib.export import write_predictions

        written = write_predictions(args.out, ev, ps, data_root=args.data_root)
        for kind, p in written.items():
            print(f"{kind}: {p}")
        out["files"] = {k: str(v) for k, v in written.items()}
    if args.json:
        print(json.dumps(out))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _list(args) if args.command == "list" else _eval(args)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
