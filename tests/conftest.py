"""Shared test set-up: one intra-op thread everywhere, and finished ``tiny`` runs made once.

One thread for the whole session (each xdist worker is one process on one core of the CI's two):
no test's thread count depends on which files were collected before it or in which order they
ran, and small tensors gain nothing from more threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from lib.engine import RunOptions
from lib.experiments import Experiment, make_experiment
from lib.results import Record
from lib.runner import run_experiment


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclass
class TinyRuns:
    """Finished ``tiny`` runs in one folder (records, weights, packs), trained on first request.

    fp32, so that a record does not depend on whether the CPU has native bf16.
    """

    root: Path

    @property
    def options(self) -> RunOptions:
        return RunOptions(device="cpu", precision="fp32", checkpoint_dir=str(self.root / "runs"), progress=False,
                          cache_dir=str(self.root / "packs"))

    @property
    def dirs(self) -> dict[str, Path]:
        return {"runs": self.root / "runs", "results": self.root / "results", "packs": self.root / "packs"}

    def record(self, name: str, seed: int = 0) -> Record:
        return run_experiment(self.experiment(name, seed), self.options, results_dir=self.dirs["results"])

    @staticmethod
    def experiment(name: str, seed: int = 0) -> Experiment:
        return make_experiment(name, "tiny", seed=seed)


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> TinyRuns:
    """One session-wide :class:`TinyRuns` (each worker process has its own)."""
    return TinyRuns(tmp_path_factory.mktemp("tiny-runs"))
