"""Run or reuse: an experiment's record if it exists, else train it and write one; sweeps of them.

:func:`run_experiment` is what the command line calls; :func:`ensure_records` trains the runs a
chapter needs that have no record (its ``train_missing``, through :func:`chapter_training`). A
KPTransfer ``transfer`` or ``frozen`` run first runs (or loads) its ``source`` with the same seed
and starts from the source's final weights, kept in the source's run folder
(``.cache/runs/<hash>/final.pt``).
:func:`sweep_units` and :func:`chunk` cut a profile's sweep into slices for separate GPU
sessions, keeping each KPTransfer split (source and its dependants) in one slice.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Iterable

import numpy as np
import torch.distributed as dist

from lib import checkpoint as ckpt
from lib.experiments import Experiment, config_hash
from lib.hardware import nominal_bf16_peak
from lib.provenance import provenance
from lib.results import Record, load_record, record_path, write_record
from lib.runtime import Distributed, model_macs, resolve_device
from lib.engine import RunOptions, TrainResult, train


def run_dir(exp: Experiment, opts: RunOptions) -> Path:
    """The folder of ``exp``'s checkpoints and final weights (:func:`lib.checkpoint.run_folder`)."""
    return ckpt.run_folder(config_hash(exp), opts.checkpoint_dir)


def run_experiment(exp: Experiment, opts: RunOptions = RunOptions(), *, results_dir: str | Path | None = None,
                   force: bool = False) -> Record | None:
    """The record of ``exp``: loaded if it exists (unless ``force``), else trained and written.

    A killed run resumes from its checkpoint when called again. ``force`` deletes the run's
    checkpoints and retrains it (its dependencies are reused). Returns None on ``torchrun``
    ranks other than 0, which train but do not write.
    """
    path = record_path(exp, results_dir)
    if path.exists() and not force:
        return load_record(path)
    rank = Distributed.from_env()
    if force:
        if rank.rank == 0:
            shutil.rmtree(run_dir(exp, opts), ignore_errors=True)
        if rank.active:
            rank.init_process_group(resolve_device(opts.device, rank.local_rank))
            dist.barrier()
    init = source_weights(exp.init, opts, results_dir) if exp.init is not None else None
    result = train(exp, opts, init_weights=init)
    if result.evaluation is None:
        return None
    record, arrays = make_record(exp, result, opts)
    written = write_record(path, record, arrays)
    (result.run_dir / ckpt.LAST).unlink(missing_ok=True)  # the record and final.pt now say it all
    return load_record(written)


def source_weights(source: Experiment, opts: RunOptions, results_dir: str | Path | None) -> dict:
    """Final weights of ``source``, running it first if needed (KPTransfer Sec. 3.2)."""
    run_experiment(source, opts, results_dir=results_dir)
    folder = run_dir(source, opts)
    final = ckpt.load(folder / ckpt.FINAL)
    if final is None:
        print(f"note: {source.name} (seed {source.seed}) has a record but no weights in {folder} "
              "(they are not committed); retraining it, which rewrites its record", flush=True)
        run_experiment(source, opts, results_dir=results_dir, force=True)
        final = ckpt.load(folder / ckpt.FINAL)
    return final["model"]


def ensure_records(experiments: Iterable[Experiment], opts: RunOptions = RunOptions(), *,
                   results_dir: str | Path | None = None, force: bool = False) -> list[Experiment]:
    """Train every run of ``experiments`` that has no record (every one with ``force``); return those trained.

    What a chapter's ``train_missing`` (or ``use_cache = False``) does before it reads its records
    (:class:`lib.record_source.RecordSource` only reads). Duplicates (same config hash) train once;
    KPTransfer sources train before the runs initialised from them (KPTransfer Sec. 3.2), so that
    with ``force`` a dependant starts from its source's new weights, not the old ones.
    """
    unique = list({config_hash(e): e for e in experiments}.values())
    todo = [e for e in sorted(unique, key=lambda e: e.init is not None)
            if force or not record_path(e, results_dir).exists()]
    for exp in todo:
        run_experiment(exp, opts, results_dir=results_dir, force=force)
    return todo


def chapter_training(experiments: Iterable[Experiment], *, train_missing: bool, use_cache: bool, device: str,
                     data_root: str | None, results_dir: str | Path | None) -> list[Experiment]:
    """What a chapter's ``train_missing`` and ``use_cache`` parameters ask for, before it reads its records.

    Nothing by default (read the committed records); ``train_missing`` trains the runs of
    ``experiments`` without a record, ``use_cache = False`` retrains every one of them
    (:func:`ensure_records`). Returns the runs trained.
    """
    if use_cache and not train_missing:
        return []
    opts = RunOptions(device=device, data_root=data_root, progress=False)
    return ensure_records(experiments, opts, results_dir=results_dir, force=not use_cache)


def make_record(exp: Experiment, result: TrainResult, opts: RunOptions) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON record and the arrays of a finished run (``lib.results`` writes them)."""
    ev = result.evaluation
    assert ev is not None
    dev = provenance(result.device)
    flops = 6.0 * result.macs * result.images_per_s  # forward + backward ≈ 3 × forward, 2 FLOP per MAC
    peak = nominal_bf16_peak(dev["device_name"]) if result.device.type == "cuda" else None
    record = {
        "experiment": exp.name, "profile": exp.profile, "dataset": exp.data.dataset, "seed": exp.seed,
        "hash": config_hash(exp), "config": asdict(exp),
        "metrics": {**ev.table, "val_loss": ev.loss, "train_loss": result.history[-1]["train_loss"]},
        "metrics_by_visibility": ev.tables, "per_joint": ev.per_joint(),
        "joint_ids": ev.joint_ids, "threshold": ev.threshold,
        "history": result.history, "selected_epoch": result.selected_epoch, "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "model": {"params": result.params,
                  "trainable_params": sum(p.numel() for p in result.model.parameters() if p.requires_grad),
                  "macs": result.macs},
        "run": {"wall_s": result.wall_seconds, "train_s": result.train_seconds, "images": result.images,
                "images_per_s": result.images_per_s, "train_tflops": flops / 1e12,
                "peak_fraction": flops / peak if peak else None, "precision": result.precision.name,
                "precision_reason": result.precision.reason,
                "memory_format": "channels_last" if result.channels_last else "contiguous",
                "compile": opts.compile, "world_size": result.world_size},
        "provenance": dev,
    }
    arrays = {"pred": ev.pred.astype(np.float16), "maxvals": ev.maxvals.astype(np.float16), "hits": ev.hits,
              "evaluated": ev.evaluated, "visible": ev.visible, "joint_ids": np.asarray(ev.joint_ids, np.int8)}
    if ev.occlusion is not None:
        arrays["occlusion"] = ev.occlusion
    arrays["pred_image"], arrays["image"] = ev.image_pred, ev.image  # the documented prediction file (README)
    return record, arrays


# ---------------------------------------------------------------------------------------------
# Sweeps


def sweep_units(exps: list[Experiment]) -> list[list[Experiment]]:
    """Group a sweep into independent units: a KPTransfer source with its dependants, else one run."""
    units: dict[str, list[Experiment]] = {}
    for e in exps:
        root = e.init if e.init is not None else e
        units.setdefault(config_hash(root), []).append(e)
    for unit in units.values():
        unit.sort(key=lambda e: e.init is not None)  # the source first
    return list(units.values())


def estimated_cost(exp: Experiment, macs: dict) -> float:
    """Training MACs of ``exp`` (forward MACs of its model, counted once per model, × 3 × images)."""
    if exp.model not in macs:
        macs[exp.model] = model_macs(exp.model)
    s = exp.schedule
    return 3.0 * macs[exp.model] * s.epochs * s.iters_per_epoch * s.batch_size


def chunk(units: list[list[Experiment]], index: int, count: int) -> list[list[Experiment]]:
    """Slice ``index`` (1-based) of ``count`` slices of similar cost (greedy, largest unit first).

    Deterministic: every session computing the slices from the same sweep gets the same ones.
    """
    if not 1 <= index <= count:
        raise ValueError(f"chunk {index}/{count}: I must be between 1 and N")
    macs: dict = {}
    cost = [sum(estimated_cost(e, macs) for e in u) for u in units]
    load, owner = [0.0] * count, []
    for i in sorted(range(len(units)), key=lambda i: (-cost[i], i)):
        k = min(range(count), key=lambda k: (load[k], k))
        load[k] += cost[i]
        owner.append((i, k))
    mine = sorted(i for i, k in owner if k == index - 1)
    return [units[i] for i in mine]
