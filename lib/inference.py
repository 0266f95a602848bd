"""A finished run's weights: found, loaded, evaluated under the papers' test protocols; the list of runs.

A finished run keeps its selected weights in ``.cache/runs/<config hash>/final.pt``
(:func:`lib.checkpoint.run_folder`); its record in ``results/`` says which experiment, profile,
dataset and seed produced them. Where a run folder has no ``final.pt`` (a fresh clone), the
run's shipped fp16 weights in ``weights/`` are used if there are any (:mod:`lib.weights`), and
the path printed says which. This module loads such a model (by experiment, or from a weights
file, whose hash names its configuration) and evaluates it on any dataset split with
:func:`lib.evaluate.evaluate`, under one of its protocols: ``single`` (what the training engine
stored in the record), ``flip``, or ``multiscale``, PBN Sec. 4.2's six-scale flip pyramid (the
default here: the protocol of PBN Tables 1-5). The result prints as the papers' per-joint table
plus the area under the PCK curve (thresholds 0 to 0.5 for PCKh, 0 to 0.2 for PCK:
:data:`lib.evaluate.PCK_METRICS`), as the official MPII and LSP evaluation scripts print it.

Command line::

    python -m lib.inference eval EXPERIMENT [--profile P --seed S] [--protocol multiscale] [--out preds.mat]
    python -m lib.inference eval --weights .cache/runs/<hash>/final.pt [--data mpii] [--out preds.mat]
    python -m lib.inference eval --weights weights/cpu/lspet/<name>.pt   # a shipped fp16 file
    python -m lib.inference list [--profile P] [--dataset D]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from lib import checkpoint as ckpt
from lib import weights as W
from lib.data.poseset import PoseSet
from lib.evaluate import PROTOCOLS, evaluate
from lib.experiments import DATASETS, PROFILES, Experiment, config_hash, experiment_names, make_experiment
from lib.models import build_model
from lib.results import DEFAULT_RESULTS, load_record


# ---------------------------------------------------------------------------------------------
# finding and loading a run's weights


def weights_path(exp: Experiment, checkpoint_dir: str | Path | None = None) -> Path:
    """Where ``exp``'s final weights live: ``<checkpoint_dir or .cache/runs>/<config hash>/final.pt``."""
    return ckpt.run_folder(config_hash(exp), checkpoint_dir) / ckpt.FINAL


def retrain_hint(exp: Experiment) -> str:
    """The command that (re)creates ``exp``'s weights (weights are not committed, records are): into
    another results folder, as ``--force`` keeps the repository's records (``lib.train.refuse_overwrite``)."""
    return (f"python -m lib.train {exp.name} --profile {exp.profile} --dataset {exp.data.dataset} "
            f"--seed {exp.seed} --results DIR")


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
    """A ``final.pt`` written by the training engine, or a shipped fp16 file (:mod:`lib.weights`, checked
    against its sidecar and cast back to fp32): ``{"hash", "model", "epoch"}``."""
    path = Path(path)
    try:
        saved = ckpt.read(path)  # a damaged file the user named is an error, never moved aside
    except FileNotFoundError:
        raise FileNotFoundError(f"weights file {path} does not exist; `python -m lib.inference list` lists the runs "
                                "whose weights are kept") from None
    if not isinstance(saved, dict) or "model" not in saved or "hash" not in saved:
        raise ValueError(f"{path} is not a run's final weights (it lacks 'model' or 'hash'); give the final.pt "
                         "of a run folder")
    return W.read(path) if W.is_shipped(saved) else saved


def describe_weights(path: str | Path) -> str:
    """Which weights a command used, for its output: a run folder's ``final.pt`` or a shipped fp16 file."""
    shipped = Path(path).name != ckpt.FINAL and W.sidecar(path).is_file()
    return f"shipped fp16 weights {path}" if shipped else f"run weights {path}"


def load_model(exp: Experiment | None = None, weights: str | Path | None = None, *,
               checkpoint_dir: str | Path | None = None, results_dir: str | Path | None = None,
               device: str | torch.device = "cpu",
               weights_dir: str | Path | None = None) -> tuple[Experiment, torch.nn.Module, Path]:
    """A finished run's model in eval mode, with its experiment and the weights file read.

    Give ``exp`` (its weights are looked up in the run folder, else among the shipped weights
    under ``weights_dir``, default ``weights/``), ``weights`` (the experiment is found from the
    file's config hash) or both (the hash must agree). The path returned says which was used.
    """
    if exp is None and weights is None:
        raise ValueError("give an experiment or a weights file")
    expected = config_hash(exp) if exp is not None else None
    path = Path(weights) if weights is not None else ckpt.run_folder(expected, checkpoint_dir) / ckpt.FINAL
    if not path.exists() and exp is not None and weights is None:
        path = W.find(exp, weights_dir) or path
    if not path.exists() and exp is not None and weights is None:
        runs = sorted({(m["profile"], m["dataset"], int(m["seed"])) for _, m in W.shipped(out_dir=weights_dir)
                       if m["experiment"] == exp.name})
        other = ("; shipped weights of it: " + ", ".join(f"`--profile {p} --dataset {d} --seed {s}`"
                                                        for p, d, s in runs) + "; give one of those, or" if runs else ";")
        raise FileNotFoundError(f"{exp.name} (profile {exp.profile}, {exp.data.dataset}, seed {exp.seed}) has no "
                                f"weights at {path} and none shipped for this profile, dataset and seed{other} "
                                f"train it with `{retrain_hint(exp)}`")
    saved = load_weights(path)  # a shipped file comes back as fp32
    if exp is None:
        exp = find_experiment(saved["hash"], results_dir)
    elif saved["hash"] != expected:
        raise ValueError(f"{path} holds the weights of config {saved['hash'][:12]}..., not of {exp.name} "
                         f"({expected[:12]}...); drop the experiment arguments to use the file's own")
    model = build_model(exp.model)
    model.load_state_dict(saved["model"])
    return exp, model.to(torch.device(device)).eval(), path


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
    """One finished run: its record and where its weights are (``weights_exist`` says if they are;
    ``shipped``: they are the shipped fp16 file, the run folder having none)."""

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
    shipped: bool = False


def list_runs(results_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None,
              profile: str | None = None, dataset: str | None = None,
              weights_dir: str | Path | None = None) -> list[RunEntry]:
    """Every recorded run (with its weights' path: run folder, else shipped), then run folders
    holding weights but no record."""
    root = Path(results_dir) if results_dir is not None else DEFAULT_RESULTS
    out, seen = [], set()
    for path in sorted(root.glob(f"{profile or '*'}/{dataset or '*'}/*.json")):
        if path.name.startswith("."):
            continue
        rec = load_record(path)
        d = rec.data
        w = ckpt.run_folder(d["hash"], checkpoint_dir) / ckpt.FINAL
        shipped = None if w.exists() else W.find_named(d["profile"], d["dataset"], path.stem, weights_dir)
        seen.add(d["hash"])
        out.append(RunEntry(d["experiment"], d["profile"], d["dataset"], rec.seed, d["metrics"].get("Mean"),
                            d["metrics"].get("Hard"), d["hash"], shipped or w, w.exists() or shipped is not None,
                            path, shipped is not None))
    if profile is None and dataset is None:
        for w in sorted(ckpt.runs_root(checkpoint_dir).glob(f"*/{ckpt.FINAL}")):
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
    e.add_argument("--profile", default=None, choices=sorted(PROFILES),
                   help="default: the shipped weights' (see `python -m lib.weights list`), else smoke")
    e.add_argument("--dataset", default=None, help="the dataset the run was trained on (default: as --profile)")
    e.add_argument("--seed", type=int, default=None, help="default: the shipped weights' seed, else 0")
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
                              "weights_exist": r.weights_exist, "shipped": r.shipped,
                              "record": str(r.record) if r.record else None}))
        return 0
    print(f"{'experiment':<28}{'profile':<8}{'dataset':<16}{'seed':>5}{'Mean':>7}{'Hard':>7}  weights")
    for r in entries:
        score = "".join(f"{v:>7.1f}" if v is not None else f"{'-':>7}" for v in (r.mean, r.hard))
        where = str(r.weights) if r.weights_exist else "(not kept: retrain with --results DIR)"
        where += " (shipped fp16)" if r.shipped else ""
        print(f"{r.experiment:<28}{r.profile:<8}{r.dataset:<16}{r.seed:>5}{score}  {where}")
    shipped = sum(r.shipped for r in entries)
    kept = sum(r.weights_exist for r in entries) - shipped
    print(f"{len(entries)} runs, {kept} with weights in {ckpt.runs_root(args.checkpoint_dir)}, {shipped} with "
          f"shipped fp16 weights in {W.WEIGHTS_DIR}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from lib.runtime import resolve_device

    if args.experiment is None and args.weights is None:
        raise ValueError("give an EXPERIMENT (with --profile, --dataset, --seed) or --weights FILE")
    device = resolve_device(args.device)
    if args.threads and device.type == "cpu":
        torch.set_num_threads(args.threads)
    exp = (make_experiment(args.experiment, *W.default_run(args.experiment, args.profile, args.dataset, args.seed))
           if args.experiment else None)
    exp, model, path = load_model(exp, args.weights, checkpoint_dir=args.checkpoint_dir,
                                  results_dir=args.results, device=device)
    ps = load_split(exp, args.data, args.split, args.limit, data_root=args.data_root, cache_dir=args.cache_dir)
    ev = evaluate(model, exp, ps, args.protocol, batch_size=args.batch_size, device=device, split=args.split,
                  bf16=args.precision == "bf16")
    print(f"{exp.name} ({exp.profile}, trained on {exp.data.dataset}, seed {exp.seed}) on {ev.dataset} {args.split}: "
          f"{len(ev)} people, protocol {args.protocol}  [{describe_weights(path)}]")
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
