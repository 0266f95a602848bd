"""Shipped weights: a finished run's model as a committed fp16 file, with its provenance.

Run folders (``.cache/runs/<hash>/final.pt``, :mod:`lib.checkpoint`) are git-ignored, so a fresh
clone has records but no models. A few finished runs are therefore shipped in ``weights/``, the
same layout as ``results/``: ``weights/<profile>/<dataset>/<experiment>-s<seed>-<hash8>.pt`` (the
record's name with ``.pt``), holding only the model's state dict with floating tensors in fp16
(half the bytes, at most :data:`MAX_BYTES` a file), beside a JSON sidecar: config hash,
experiment, profile, dataset, seed and selected epoch, the record's validation scores and commit,
the file's size and sha256, and the PCK of the shipped weights under each test protocol
(``single``, ``flip``, ``multiscale``, as in PBN Tables 1-5) on the run's own validation people,
computed once at export because the six-scale pyramid takes minutes a model on a CPU.

:func:`lib.inference.load_model` (hence ``python -m lib.inference eval`` and ``python -m
lib.predict``) falls back to :func:`find` when a run folder has no ``final.pt``; :func:`load`
casts the tensors back to fp32, so a shipped model runs exactly as its run's model would but for
the fp16 rounding of its weights (``tests/test_weights.py`` bounds what that changes).

Command line::

    python -m lib.weights export pbn/mi5-d1-w64 --profile cpu --dataset lspet --seed 3 --checkpoint-dir DIR
    python -m lib.weights list [--profile cpu] [--dataset lspet] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from lib import checkpoint as ckpt
from lib.data import SYNTHETIC_POSES
from lib.errors import DataFileError, run_main
from lib.experiments import PROFILES, Experiment, config_hash, make_experiment
from lib.provenance import REPO_ROOT, git_state
from lib.results import find_record, jsonable, record_path

#: Where shipped weights live (committed, unlike the run folders of ``.cache/runs``).
WEIGHTS_DIR = REPO_ROOT / "weights"
#: The most bytes one shipped file may have (3 MB): keeps the repository small.
MAX_BYTES = 3_000_000
#: The ``format`` entry of a shipped file and its sidecar; a run's ``final.pt`` has none.
FORMAT = "pose-weights-fp16/1"
#: The test protocols scored at export, in the order of PBN's tables (``lib.evaluate.PROTOCOLS``).
PROTOCOL_ORDER = ("single", "flip", "multiscale")


# ---------------------------------------------------------------------------------------------
# where shipped weights are, and reading them


def weights_file(exp: Experiment, out_dir: str | Path | None = None) -> Path:
    """Where ``exp``'s shipped weights go: its record's path under ``out_dir`` with ``.pt`` (it need not exist)."""
    return record_path(exp, out_dir if out_dir is not None else WEIGHTS_DIR).with_suffix(".pt")


def sidecar(path: str | Path) -> Path:
    """The JSON beside a shipped file: its provenance, sha256 and protocol scores."""
    return Path(path).with_suffix(".json")


def find(exp: Experiment, out_dir: str | Path | None = None) -> Path | None:
    """``exp``'s shipped weights file, or None; a file counts once its sidecar (written last) exists."""
    path = weights_file(exp, out_dir)
    return find_named(exp.profile, exp.data.dataset, path.stem, out_dir)


def find_named(profile: str, dataset: str, stem: str, out_dir: str | Path | None = None) -> Path | None:
    """The shipped file of the record named ``<stem>.json`` (profile and dataset as its folders), or None."""
    path = (Path(out_dir) if out_dir is not None else WEIGHTS_DIR) / profile / dataset / f"{stem}.pt"
    return path if path.is_file() and sidecar(path).is_file() else None


def meta(path: str | Path) -> dict:
    """A shipped file's sidecar; :class:`~lib.errors.DataFileError` if it is missing or unreadable."""
    side = sidecar(path)
    fix = "re-export it with `python -m lib.weights export ...` (the command is in the sidecar's `export` entry)"
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(side, "is missing: a shipped weights file needs its sidecar", fix) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataFileError(side, f"is not a readable sidecar ({type(e).__name__})", fix) from None
    found = data.get("format") if isinstance(data, dict) else type(data).__name__
    if found != FORMAT:
        raise DataFileError(side, f"is not a shipped weights sidecar (format {found!r}, expected {FORMAT!r})", fix)
    return data


def is_shipped(saved: dict) -> bool:
    """Whether a checkpoint dictionary (``lib.checkpoint.read``) is a shipped fp16 file."""
    return saved.get("format") == FORMAT


def to_fp16(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors as fp16 (fresh contiguous copies), others (BatchNorm's counters) as they are."""
    return {k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous().clone()
            for k, v in state.items()}


def to_fp32(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors back to fp32, the dtype every model of ``lib.models`` is built in."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def read(path: str | Path) -> dict:
    """A shipped file as a run's ``final.pt`` reads: ``{"hash", "model" (fp32), "epoch", ...}``.

    The bytes must match the sidecar's sha256 (a damaged file, or a Git LFS pointer in its place,
    is a one-line :class:`~lib.errors.DataFileError`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"shipped weights {path} not found; `python -m lib.weights list` lists them")
    info = meta(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != info["sha256"]:
        raise DataFileError(path, f"has sha256 {digest[:12]}..., its sidecar says {info['sha256'][:12]}... "
                                  "(damaged, or a placeholder instead of the file)",
                            "restore the committed file from git, or re-export it with `python -m lib.weights export`")
    saved = ckpt.read(path)
    if not is_shipped(saved) or "model" not in saved:
        raise DataFileError(path, "is a checkpoint but not a shipped weights file (no fp16 'model' of format "
                                  f"{FORMAT})", "give a file written by `python -m lib.weights export`")
    if saved["hash"] != info["hash"]:
        raise DataFileError(path, "holds another config hash than its sidecar", "re-export it")
    return dict(saved, model=to_fp32(saved["model"]))


def load(path: str | Path) -> dict[str, torch.Tensor]:
    """A shipped file's state dict, cast back to fp32 (ready for ``model.load_state_dict``)."""
    return read(path)["model"]


def shipped(profile: str | None = None, dataset: str | None = None,
            out_dir: str | Path | None = None) -> list[tuple[Path, dict]]:
    """Every shipped file (with its sidecar) under ``out_dir``, optionally of one profile and dataset."""
    root = Path(out_dir) if out_dir is not None else WEIGHTS_DIR
    out = []
    for path in sorted(root.glob(f"{profile or '*'}/{dataset or '*'}/*.pt")):
        if not path.name.startswith(".") and sidecar(path).is_file():
            out.append((path, meta(path)))
    return out


def default_run(experiment: str, profile: str | None = None, dataset: str | None = None, seed: int | None = None,
                out_dir: str | Path | None = None) -> tuple[str, str | None, int]:
    """``(profile, dataset, seed)`` of the run a command means when some of them were left out.

    Someone who trained nothing still has the shipped weights, so ``python -m lib.predict photo.jpg
    pbn/mi5-d1-w64`` draws with them: the shipped file of ``experiment`` that agrees with what was
    given, trained on real photos before synthetic ones (a user's photo is real), then by profile,
    dataset and seed. With none, the ``smoke`` profile and seed 0 (a run the user trains in seconds).
    """
    if profile is not None and seed is not None:
        return profile, dataset, seed
    fits = [m for _, m in shipped(out_dir=out_dir) if m["experiment"] == experiment
            and profile in (None, m["profile"]) and dataset in (None, m["dataset"]) and seed in (None, int(m["seed"]))]
    if fits:
        m = min(fits, key=lambda m: (m["dataset"] in SYNTHETIC_POSES, m["profile"], m["dataset"], int(m["seed"])))
        return m["profile"], m["dataset"], int(m["seed"])
    return profile or "smoke", dataset, 0 if seed is None else seed


# ---------------------------------------------------------------------------------------------
# exporting a finished run


def _label(exp: Experiment) -> str:
    return f"{exp.name} (profile {exp.profile}, {exp.data.dataset}, seed {exp.seed})"


def _train_command(exp: Experiment) -> str:
    return f"python -m lib.train {exp.name} --profile {exp.profile} --dataset {exp.data.dataset} --seed {exp.seed}"


def _write_atomic(path: Path, data: bytes) -> None:
    """``data`` to a temporary file beside ``path``, then renamed over it (readable by all: committed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp" + path.suffix)  # git-ignored
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fp16_bytes(saved: dict) -> bytes:
    """The shipped file of a run's ``final.pt`` contents: only hash, epoch and the fp16 state dict."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "hash": saved["hash"], "epoch": saved.get("epoch"), "dtype": "float16",
                "model": to_fp16(saved["model"])}, buf)
    return buf.getvalue()


def protocol_scores(exp: Experiment, state: dict[str, torch.Tensor], *, data_root: str | Path | None = None,
                    cache_dir: str | Path | None = None, limit: int | None = None, device: str = "cpu",
                    batch_size: int = 64) -> dict:
    """PCK of ``state`` (fp32) under each test protocol on the run's own validation people.

    As ``python -m lib.inference eval`` does it: :func:`lib.inference.load_split` (the run's
    ``val_limit`` people, or ``limit``), :func:`lib.evaluate.evaluate` in fp32. Returns the
    tables' columns per protocol with the seconds each took, the people, and the code's commit.
    """
    from lib.evaluate import evaluate, pck_metric
    from lib.inference import load_split
    from lib.models import build_model

    model = build_model(exp.model)
    model.load_state_dict(state)
    model = model.to(torch.device(device)).eval()
    ps = load_split(exp, limit=limit, data_root=data_root, cache_dir=cache_dir)
    scores = {}
    for protocol in PROTOCOL_ORDER:
        start = time.perf_counter()
        ev = evaluate(model, exp, ps, protocol, batch_size=batch_size, device=device)
        scores[protocol] = dict(ev.table, seconds=time.perf_counter() - start)
    return {"scores": scores, "people": len(ps), "split": "val", "dataset": exp.data.dataset,
            "metric": pck_metric(ps.metric).title, "precision": "fp32", "device": str(device),
            "threads": torch.get_num_threads(), "git": git_state(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def export(exp: Experiment, *, checkpoint_dir: str | Path | None = None, results_dir: str | Path | None = None,
           out_dir: str | Path | None = None, protocols: bool = True, data_root: str | Path | None = None,
           cache_dir: str | Path | None = None, device: str = "cpu") -> Path:
    """Write ``exp``'s finished run as a shipped fp16 file and its sidecar; return the file's path.

    Refuses (one line, with the command that fixes it) when the run has no record or no
    ``final.pt``, when the ``final.pt`` is not the record's run (config hash or selected epoch
    differ), or when the file would exceed :data:`MAX_BYTES`. With ``protocols`` the shipped
    weights are scored under every test protocol first (:func:`protocol_scores`; needs the data),
    so that a failure there writes nothing. The ``.pt`` is written before its sidecar, each
    atomically: a sidecar always means a complete file (:func:`find`).
    """
    expected = config_hash(exp)
    record = find_record(exp, results_dir)
    if record is None:
        raise FileNotFoundError(f"{_label(exp)} has no record at {record_path(exp, results_dir)}; train it first: "
                                f"`{_train_command(exp)}` (or give --results where its record is)")
    if record.data.get("hash") != expected:
        raise ValueError(f"{record.path} is the record of config {str(record.data.get('hash'))[:12]}..., not of "
                         f"{_label(exp)} ({expected[:12]}...); rerun it with `{_train_command(exp)} --force`")
    final = ckpt.run_folder(expected, checkpoint_dir) / ckpt.FINAL
    if not final.is_file():
        raise FileNotFoundError(f"{_label(exp)} has a record but no {final}: a run writes final.pt when it ends; give "
                                "--checkpoint-dir where it trained (a sweep's folder), or retrain it with "
                                f"`{_train_command(exp)} --results DIR` and export with --results DIR")
    saved = ckpt.read(final)
    if "model" not in saved:
        raise DataFileError(final, "has no 'model' entry, not a run's final weights", "give a run's final.pt")
    if saved["hash"] != expected:
        raise ValueError(f"{final} holds the weights of config {saved['hash'][:12]}..., not of the record's "
                         f"{expected[:12]}...; the run folder belongs to another run: retrain with "
                         f"`{_train_command(exp)} --results DIR`")
    selected = record.data.get("selected_epoch")
    if selected is not None and saved.get("epoch") is not None and int(saved["epoch"]) != int(selected):
        raise ValueError(f"{final} holds epoch {saved['epoch']}, its record {record.path.name} selected epoch "
                         f"{selected}: the folder was retrained after the record was written; export from the "
                         "run folder that made the record")
    data = fp16_bytes(saved)
    if len(data) > MAX_BYTES:
        raise ValueError(f"{_label(exp)}'s fp16 weights would be {len(data):,} bytes, over the {MAX_BYTES:,}-byte "
                         "limit of a shipped file; ship a smaller model (lib.model_cost summary lists sizes)")
    scores = (protocol_scores(exp, to_fp32(to_fp16(saved["model"])), data_root=data_root, cache_dir=cache_dir,
                              device=device) if protocols else None)
    path = weights_file(exp, out_dir)
    metrics, prov = record.data["metrics"], record.data.get("provenance", {})
    info = {
        "format": FORMAT, "file": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "dtype": "float16", "hash": expected, "experiment": exp.name, "profile": exp.profile,
        "dataset": exp.data.dataset, "seed": exp.seed, "epoch": saved.get("epoch"),
        "params": record.data.get("model", {}).get("params"),
        "record": {"file": record.path.name, "select_metric": exp.select_metric,
                   "metrics": {k: metrics.get(k) for k in ("Mean", "Hard")},
                   "precision": record.data.get("run", {}).get("precision"), "git": prov.get("git"),
                   "date": prov.get("date"), "device_name": prov.get("device_name")},
        "exported": {"git": git_state(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "export": f"python -m lib.weights export {exp.name} --profile {exp.profile} --dataset {exp.data.dataset} "
                  f"--seed {exp.seed} --checkpoint-dir DIR",
        "protocols": scores,
    }
    _write_atomic(path, data)
    _write_atomic(sidecar(path), (json.dumps(jsonable(info), indent=1, sort_keys=True, allow_nan=False)
                                  + "\n").encode())
    return path


# ---------------------------------------------------------------------------------------------
# the PBN chapter's table: every shipped model under the three test protocols

#: Columns of :func:`protocol_table` besides the PCK columns (``Head`` ... ``Mean``, ``Hard``).
TABLE_INFO = ("experiment", "dataset", "seed", "protocol", "metric", "people")
TABLE_PROVENANCE = ("record_mean", "check", "seconds", "precision", "epoch", "hash", "record_commit",
                    "scored_commit", "sha256", "file")


def protocol_table(profile: str = "cpu", data_root: str | Path | None = None, *,
                   out_dir: str | Path | None = None, cache_dir: str | Path | None = None) -> pd.DataFrame:
    """One row per shipped model of ``profile`` and test protocol: its PCK columns, Mean and Hard.

    Scores are read from the sidecars (computed at export). ``record_mean`` is the record's
    stored Mean (the engine's single-protocol validation, bf16 on a CPU with native bf16), and
    ``check`` the single row's Mean minus it: the fp16 weights in fp32 should come within a few
    tenths. A model exported without scores is scored now (minutes; ``data_root`` finds the data)
    with a warning. No shipped model gives an empty frame whose ``attrs["reason"]`` says why.
    """
    entries = shipped(profile, out_dir=out_dir)
    if not entries:
        frame = pd.DataFrame(columns=[*TABLE_INFO, "Mean", "Hard", *TABLE_PROVENANCE])
        frame.attrs["reason"] = (f"no weights of profile {profile} are shipped in "
                                 f"{Path(out_dir) if out_dir is not None else WEIGHTS_DIR}; export a finished run "
                                 f"with `python -m lib.weights export NAME --profile {profile} --dataset D --seed S "
                                 "--checkpoint-dir DIR`")
        return frame
    rows = []
    for path, info in entries:
        scored = info.get("protocols")
        if not scored:
            exp = make_experiment(info["experiment"], info["profile"], info["dataset"], int(info["seed"]))
            warnings.warn(f"{path.name} was exported without protocol scores; scoring it now (minutes on a CPU); "
                          f"re-export it to cache them: `{info['export']}`", stacklevel=2)
            scored = protocol_scores(exp, load(path), data_root=data_root, cache_dir=cache_dir)
        record_mean = info["record"]["metrics"].get("Mean")
        for protocol in PROTOCOL_ORDER:
            s = dict(scored["scores"][protocol])
            rows.append({"experiment": info["experiment"], "dataset": info["dataset"], "seed": info["seed"],
                         "protocol": protocol, "metric": scored["metric"], "people": scored["people"], **s,
                         "record_mean": record_mean,
                         "check": s["Mean"] - record_mean if protocol == "single" and record_mean is not None
                         else float("nan"),
                         "precision": scored["precision"], "epoch": info["epoch"], "hash": info["hash"][:8],
                         "record_commit": ((info["record"].get("git") or {}).get("commit") or "")[:12],
                         "scored_commit": ((scored.get("git") or {}).get("commit") or "")[:12],
                         "sha256": info["sha256"][:12], "file": str(path)})
    frame = pd.DataFrame(rows)
    pck = [c for c in frame.columns if c not in (*TABLE_INFO, *TABLE_PROVENANCE)]
    return frame[[*TABLE_INFO, *pck, *TABLE_PROVENANCE]]


# ---------------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lib.weights", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write a finished run's weights as a shipped fp16 file with its sidecar")
    e.add_argument("experiment", help="experiment name (`python -m lib.train --list`)")
    e.add_argument("--profile", required=True, choices=sorted(PROFILES))
    e.add_argument("--dataset", required=True)
    e.add_argument("--seed", type=int, required=True)
    e.add_argument("--checkpoint-dir", default=None, help="the run folders (default .cache/runs; a sweep's own)")
    e.add_argument("--results", default=None, help="results folder (default: the repository's results/)")
    e.add_argument("--out-dir", default=None, help="where shipped weights go (default: the repository's weights/)")
    e.add_argument("--no-protocols", action="store_true",
                   help="skip scoring the single, flip and six-scale protocols (the book then scores them)")
    e.add_argument("--data-root", default=None, help="datasets folder (default $POSE_DATA)")
    e.add_argument("--cache-dir", default=None, help="packed crops (default .cache/packs)")
    e.add_argument("--device", default="cpu")
    e.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    ls = sub.add_parser("list", help="shipped weights: experiment, dataset, seed, record and protocol scores")
    ls.add_argument("--profile", default=None)
    ls.add_argument("--dataset", default=None)
    ls.add_argument("--out-dir", default=None, help="where shipped weights are (default: the repository's weights/)")
    ls.add_argument("--json", action="store_true", help="one JSON line (the sidecar and path) per file")
    return p


def _cell(v: float | None) -> str:
    return f"{v:>7.1f}" if v is not None else f"{'-':>7}"


def _list(args: argparse.Namespace) -> int:
    entries = shipped(args.profile, args.dataset, args.out_dir)
    if args.json:
        for path, info in entries:
            print(json.dumps(dict(info, path=str(path))))
        return 0
    print(f"{'experiment':<22}{'profile':<8}{'dataset':<16}{'seed':>5}{'record':>7}{'single':>7}{'flip':>7}"
          f"{'6-scale':>8}{'bytes':>11}  file")
    for path, info in entries:
        scores = (info.get("protocols") or {}).get("scores", {})
        means = "".join(_cell(scores.get(p, {}).get("Mean")) for p in PROTOCOL_ORDER)
        print(f"{info['experiment']:<22}{info['profile']:<8}{info['dataset']:<16}{info['seed']:>5}"
              f"{_cell(info['record']['metrics'].get('Mean'))}{means} {info['bytes']:>10,}  {path}")
    print(f"{len(entries)} shipped weights files in {Path(args.out_dir) if args.out_dir else WEIGHTS_DIR} "
          "(Mean: the record's, then the shipped fp16 weights under each protocol)")
    return 0


def _export(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    exp = make_experiment(args.experiment, args.profile, args.dataset, args.seed)
    path = export(exp, checkpoint_dir=args.checkpoint_dir, results_dir=args.results, out_dir=args.out_dir,
                  protocols=not args.no_protocols, data_root=args.data_root, cache_dir=args.cache_dir,
                  device=args.device)
    info = meta(path)
    print(f"{path}  ({info['bytes']:,} bytes, sha256 {info['sha256'][:12]}..., epoch {info['epoch']})")
    if info["protocols"]:
        p = info["protocols"]
        print(f"{p['metric']} on {p['people']} validation people (record's Mean "
              f"{info['record']['metrics']['Mean']:.1f}):")
        for protocol in PROTOCOL_ORDER:
            s = p["scores"][protocol]
            print(f"  {protocol:<11} Mean {s['Mean']:5.1f}  Hard {s.get('Hard', float('nan')):5.1f}  "
                  f"({s['seconds']:.0f} s)")
    return 0


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    return _list(args) if args.command == "list" else _export(args)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a refusal or bad input is one ``error:`` line on stderr and exit status 2."""
    return run_main(_run, argv, catch=(ValueError, RuntimeError, OSError))


if __name__ == "__main__":
    sys.exit(main())
