"""Checkpoints for exact resume: atomic files, and the random-number state they must carry.

A training run killed at any moment and started again continues from its last checkpoint and
ends with the same weights (bit-identical on CPU): the checkpoint carries model, optimiser and
scheduler state, the epoch and iteration, the best score so far, the per-epoch history, and
every random generator the loop draws from. Files are written to a temporary name and renamed,
so a kill during a save leaves the previous checkpoint intact. A checkpoint damaged afterwards
(empty, truncated, garbage) is renamed aside to ``<name>.corrupt`` with a warning and treated as
absent: the run starts fresh (``last.pt``) or is retrained (``final.pt``), never crashes.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lib.errors import DataFileError, check_magic, describe
from lib.provenance import REPO_ROOT

#: Where run folders live unless ``RunOptions.checkpoint_dir`` says otherwise (git-ignored).
DEFAULT_RUNS_DIR = REPO_ROOT / ".cache" / "runs"
LAST = "last.pt"     # resume state: rewritten at each epoch end (and every N iterations), deleted with the record
FINAL = "final.pt"   # the finished run's selected weights, kept for transfer (KPTransfer) and reuse


def runs_root(checkpoint_dir: str | Path | None = None) -> Path:
    """The folder holding every run folder: ``checkpoint_dir``, else :data:`DEFAULT_RUNS_DIR`."""
    return Path(checkpoint_dir or DEFAULT_RUNS_DIR)


def run_folder(config_hash: str, checkpoint_dir: str | Path | None = None) -> Path:
    """A run's folder (its ``last.pt`` and ``final.pt``): ``<checkpoint_dir or .cache/runs>/<config hash>``.

    The one definition of where a configuration's weights live; the training engine, the runner
    and :mod:`lib.inference` all ask here.
    """
    if not config_hash:
        raise ValueError("a run folder needs the run's config hash (lib.experiments.config_hash); got an empty one")
    return runs_root(checkpoint_dir) / config_hash


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


#: Suffix of a checkpoint that could not be read, kept beside the run for a post-mortem.
CORRUPT_SUFFIX = ".corrupt"


def read(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """The checkpoint at ``path`` (tensors mapped to ``device``; only tensors and plain containers
    are unpickled): ``FileNotFoundError`` if there is none, :class:`~lib.errors.DataFileError`
    naming it if it is empty, truncated, garbage or not a checkpoint dictionary."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    fix = "delete it: that run then starts from scratch"
    check_magic(path, b"PK\x03\x04", "checkpoint (torch.save's zip format)", fix)
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch fails in many ways (zip, pickle, storage) on a damaged file
        raise DataFileError(path, f"is not a readable checkpoint, truncated or damaged ({describe(e)})", fix) from None
    if not isinstance(saved, dict) or "hash" not in saved:
        raise DataFileError(path, f"holds a {type(saved).__name__} without a config hash, not a checkpoint of "
                                  "this code", fix)
    return saved


def load(path: str | Path, device: torch.device | str = "cpu") -> dict | None:
    """A checkpoint written by :func:`save_atomic`, or None if there is none at ``path``.

    A checkpoint that cannot be read (:func:`read`) is renamed to ``<name>.corrupt`` with a
    warning, and None is returned: the caller starts the run fresh or retrains it, as after a
    kill before the first save. Under ``torchrun`` every rank finds it unreadable or gone, so all
    ranks start fresh together.
    """
    path = Path(path)
    try:
        return read(path, device)
    except FileNotFoundError:
        return None
    except DataFileError as e:
        aside = path.with_name(path.name + CORRUPT_SUFFIX)
        try:
            os.replace(path, aside)
        except FileNotFoundError:  # another rank moved it first
            pass
        warnings.warn(f"checkpoint {path} {e.problem}; moved it to {aside.name} and starting without it", stacklevel=2)
        return None


def rng_state() -> dict:
    """The global torch generators (CPU and, if present, every CUDA device)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def generator_state(g: torch.Generator) -> torch.Tensor:
    """A generator's state as a CPU byte tensor (CUDA generators included)."""
    return g.get_state().cpu()


def set_generator_state(g: torch.Generator, state: torch.Tensor) -> None:
    g.set_state(state.cpu())


@dataclass
class LoopState:
    """Everything of the training loop a checkpoint carries besides model, optimiser, scheduler."""

    started: float                 # perf_counter() when this process started the run
    epoch: int = 0                 # completed epochs
    iteration: int = 0             # iterations done in the current epoch
    loss_sum: torch.Tensor | float = 0.0
    best_score: float = -math.inf
    best_epoch: int = 0
    since_best: int = 0
    best_state: dict | None = None
    history: list = field(default_factory=list)
    done: bool = False
    stopped_early: bool = False
    train_seconds: float = 0.0
    wall_before: float = 0.0       # wall time of earlier processes, up to their last checkpoint
    images: int = 0

    def wall_now(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def selected_epoch(self, plateau: bool) -> int:
        """The epoch whose weights are the result: the best under a plateau schedule, else the last."""
        return self.best_epoch if plateau and self.best_state is not None else self.epoch

    def pack(self, config_hash: str, model, opt, sched, aug_states: list) -> dict:
        """The checkpoint: this state, the model, optimiser, scheduler and every generator."""
        return {"hash": config_hash, "world_size": len(aug_states), "aug": aug_states, "rng": rng_state(),
                "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                **{name: getattr(self, name) for name in _CARRIED}, "wall_seconds": self.wall_now()}

    def restore(self, saved: dict, config_hash: str, model, opt, sched, aug_gen: torch.Generator,
                rank: int, world_size: int) -> None:
        """Load a checkpoint written by :meth:`pack` into the loop's objects."""
        missing = {"hash", "world_size", "aug", "rng", "model", "optimizer", "scheduler", *_CARRIED} - set(saved)
        if missing:
            raise RuntimeError(f"the checkpoint lacks {sorted(missing)} (written by another version of this code); "
                               "delete the run folder to restart that run")
        if saved["hash"] != config_hash:
            raise RuntimeError("the run folder holds the checkpoint of another configuration; delete it")
        if saved["world_size"] != world_size:
            raise RuntimeError(f"the checkpoint was written by {saved['world_size']} processes; resume it with as "
                               f"many (this launch has {world_size})")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        set_generator_state(aug_gen, saved["aug"][rank])
        set_rng_state(saved["rng"])
        for name in _CARRIED:
            setattr(self, name, saved[name])
        self.wall_before = saved["wall_seconds"]


_CARRIED = ("epoch", "iteration", "loss_sum", "best_score", "best_epoch", "since_best", "best_state", "history",
            "done", "stopped_early", "train_seconds", "images")
