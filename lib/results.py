"""The results cache: one small record per finished run, written atomically, reused by the book.

A record is a JSON file ``results/<profile>/<dataset>/<experiment>-s<seed>-<hash8>.json``
(slashes of the experiment name become dashes) with the config, final and per-epoch metrics,
per-joint PCK split by visibility, parameters, multiply-accumulates and provenance, plus an
``.npz`` beside it holding the validation predictions and per-joint hits, so that any metric and
any confidence interval (``lib.stats``) can be recomputed without retraining.

Atomicity: each file is written to a temporary name and renamed; the ``.npz`` first and the JSON
last, so an existing JSON always means a complete record (a killed writer leaves at most a
temporary file, ignored by ``.gitignore`` and by the loaders). A record damaged afterwards (an
empty, truncated or garbage JSON or ``.npz``) is a one-line :class:`~lib.errors.DataFileError`
naming the file and saying to delete it and rerun the experiment.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from lib.errors import DataFileError, check_magic, describe
from lib.experiments import Experiment, config_hash
from lib.provenance import REPO_ROOT

SCHEMA = 1
DEFAULT_RESULTS = REPO_ROOT / "results"


def record_path(exp: Experiment, results_dir: str | Path | None = None) -> Path:
    """Where the record of ``exp`` lives (it need not exist)."""
    root = Path(results_dir) if results_dir is not None else DEFAULT_RESULTS
    stem = f"{exp.name.replace('/', '-')}-s{exp.seed}-{config_hash(exp)[:8]}"
    return root / exp.profile / exp.data.dataset / f"{stem}.json"


def jsonable(x: Any) -> Any:
    """``x`` as plain JSON: tuples to lists, numpy scalars to Python, nan/inf to None."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp" + path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; records are shared through git
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_record(path: str | Path, record: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` (``.npz`` beside ``path``) then ``record`` (JSON at ``path``), atomically."""
    path = Path(path)
    npz = path.with_suffix(".npz")
    _atomic_write(npz, lambda tmp: np.savez_compressed(tmp, **arrays))
    body = dict(jsonable(record), schema=SCHEMA, arrays=npz.name)
    text = json.dumps(body, indent=1, sort_keys=True, allow_nan=False) + "\n"
    _atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


@dataclass(frozen=True)
class Record:
    """A finished run as stored: ``data`` is the JSON; :meth:`arrays` loads the predictions."""

    path: Path
    data: dict

    @property
    def experiment(self) -> str:
        return self.data["experiment"]

    @property
    def seed(self) -> int:
        return int(self.data["seed"])

    @property
    def metrics(self) -> dict:
        return self.data["metrics"]

    @property
    def history(self) -> pd.DataFrame:
        """Per-epoch log: epoch, lr, train_loss, val_loss, val_mean, val_hard, ..."""
        return pd.DataFrame(self.data["history"])

    def arrays(self) -> dict[str, np.ndarray]:
        """pred (N×J×2 crop px), maxvals, hits, evaluated, visible (N×J), image (N), joint_ids (J).

        A damaged ``.npz`` is a :class:`~lib.errors.DataFileError` naming it.
        """
        npz = self.path.parent / self.data["arrays"]
        check_magic(npz, b"PK\x03\x04", "record archive (.npz)", _rerun(self.path))
        try:
            with open(npz, "rb") as f, np.load(f, allow_pickle=False) as z:  # f: closed even when np.load fails
                return {k: z[k] for k in z.files}
        except _NPZ_ERRORS as e:
            raise DataFileError(npz, f"is not a readable record archive, truncated or damaged ({describe(e)})",
                                _rerun(self.path)) from None

    def hits(self) -> tuple[np.ndarray, np.ndarray]:
        """``(hits, evaluated)`` as ``lib.stats`` takes them."""
        a = self.arrays()
        return a["hits"], a["evaluated"]


#: How reading a damaged ``.npz`` fails (numpy's zip and header parsing).
_NPZ_ERRORS = (OSError, EOFError, KeyError, ValueError, TypeError, AttributeError, zipfile.BadZipFile, zlib.error)


def _rerun(path: Path) -> str:
    return (f"delete {path.name} and {path.with_suffix('.npz').name} in {path.parent} and rerun the experiment "
            "(a sweep reruns missing records), or rerun it with --force")


def load_record(path: str | Path) -> Record:
    """Read one record and check that its ``.npz`` opens (its contents are read by :meth:`Record.arrays`).

    ``FileNotFoundError`` for a missing JSON; :class:`~lib.errors.DataFileError` naming the file
    for an empty, truncated or garbage JSON or ``.npz``, another schema, or a missing ``.npz``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"result record {path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise DataFileError(path, f"is not a readable result record, empty, truncated or damaged ({describe(e)})",
                            _rerun(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("arrays"), str):
        raise DataFileError(path, "is json but not a result record (no 'arrays' entry)", _rerun(path))
    if data.get("schema") != SCHEMA:
        raise DataFileError(path, f"has record schema {data.get('schema')}, this code reads {SCHEMA}",
                            "rerun the experiment with --force to rewrite it")
    npz = path.parent / data["arrays"]
    if not npz.is_file():
        raise DataFileError(path, f"its predictions file {data['arrays']} is missing", _rerun(path))
    check_magic(npz, b"PK\x03\x04", "record archive (.npz)", _rerun(path))
    try:
        with open(npz, "rb") as f:
            np.load(f, allow_pickle=False).close()  # opening reads the zip directory: damage at the end shows
    except _NPZ_ERRORS as e:
        raise DataFileError(npz, f"is not a readable record archive, truncated or damaged ({describe(e)})",
                            _rerun(path)) from None
    return Record(path, data)


def find_record(exp: Experiment, results_dir: str | Path | None = None) -> Record | None:
    """The stored record of exactly this config, or None."""
    path = record_path(exp, results_dir)
    return load_record(path) if path.exists() else None


def iter_records(profile: str, dataset: str, results_dir: str | Path | None = None) -> Iterator[Record]:
    root = (Path(results_dir) if results_dir is not None else DEFAULT_RESULTS) / profile / dataset
    for path in sorted(root.glob("*.json")) if root.is_dir() else ():
        if not path.name.startswith("."):
            yield load_record(path)


def records(profile: str, dataset: str, experiment: str | None = None,
            results_dir: str | Path | None = None) -> pd.DataFrame:
    """One row per stored run (optionally of one experiment): metrics, cost and provenance.

    Columns: experiment, seed, hash, the final metrics (``Head`` ... ``Mean``, ``Hard``, ...),
    params, macs, wall_s, images_per_s, device_name, commit, date, path. Rows are sorted by
    experiment then seed.
    """
    rows = []
    for r in iter_records(profile, dataset, results_dir):
        if experiment is not None and r.experiment != experiment:
            continue
        d = r.data
        rows.append({"experiment": r.experiment, "seed": r.seed, "hash": d["hash"], **d["metrics"],
                     "params": d["model"]["params"], "macs": d["model"]["macs"],
                     "wall_s": d["run"]["wall_s"], "images_per_s": d["run"]["images_per_s"],
                     "device_name": d["provenance"]["device_name"], "commit": d["provenance"]["git"]["commit"],
                     "date": d["provenance"]["date"], "path": str(r.path)})
    cols = ["experiment", "seed", "hash"]
    df = pd.DataFrame(rows)
    return df.sort_values(["experiment", "seed"], ignore_index=True) if rows else pd.DataFrame(columns=cols)
