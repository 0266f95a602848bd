"""The tables about the study itself, for the introduction and the CPU chapter.

The profiles side by side (:func:`profiles_table`), the training time of every profile's records
(:func:`training_time`), how long each chapter took to execute (:func:`notebook_times`) and the
book profile's GPU time as planned (:func:`book_profile_estimate`).
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd


def profiles_table(names: Sequence[str] = ("smoke", "cpu", "book", "paper")) -> pd.DataFrame:
    """Profiles side by side: data, model size, schedule, seeds, device (:data:`lib.experiments.PROFILES`).

    Names that are not (or no longer) profiles are left out.
    """
    from lib.experiments import PROFILES, get_profile

    rows = {}
    for name in (n for n in names if n in PROFILES):
        p = get_profile(name)
        rows[name] = {"dataset": p.dataset, "device": p.device, "input": f"{p.input_size}×{p.input_size}",
                      "channels": p.channels, "PBN stacks": f"{p.pbn_stacks} (large: {p.pbn_large_stacks})",
                      "KPTransfer stacks": f"{p.kpt_stacks} + {p.kpt_stacks}",
                      "PBN schedule": f"{p.step.epochs} epochs × {p.step.iters_per_epoch} iterations × {p.step.batch_size}",
                      "KPTransfer schedule": f"≤ {p.plateau.epochs} epochs, early stop {p.plateau.early_stop}",
                      "train / val people": f"{p.train_limit or 'all'} / {p.val_limit or 'all'}",
                      "seeds": ", ".join(map(str, p.seeds))}
    return pd.DataFrame(rows)


def training_time(results_dir: str | None = None) -> pd.DataFrame:
    """Every profile and dataset with records in ``results/``: runs, experiments, seeds, devices, training hours."""
    from pathlib import Path

    from lib.results import DEFAULT_RESULTS, records

    root = Path(results_dir) if results_dir is not None else DEFAULT_RESULTS
    rows = []
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        df = records(folder.parent.name, folder.name, results_dir=root)
        if df.empty:
            continue
        rows.append({"profile": folder.parent.name, "dataset": folder.name, "runs": len(df),
                     "experiments": df["experiment"].nunique(),
                     "seeds": ", ".join(map(str, sorted(df["seed"].unique()))),
                     "devices": ", ".join(sorted(df["device_name"].unique())),
                     "training (h)": round(df["wall_s"].sum() / 3600, 2),
                     "median run (min)": round(df["wall_s"].median() / 60, 2),
                     "dates": f"{df['date'].min()[:10]} to {df['date'].max()[:10]}"})
    cols = ["profile", "dataset", "runs", "experiments", "seeds", "devices", "training (h)", "median run (min)", "dates"]
    return pd.DataFrame(rows, columns=cols).set_index(["profile", "dataset"])


def notebook_times(folder: str | None = None) -> pd.DataFrame:
    """How long each chapter notebook took at its last papermill execution, from the notebooks' metadata."""
    import json
    from pathlib import Path

    from lib.provenance import REPO_ROOT

    root = Path(folder) if folder is not None else REPO_ROOT / "notebooks"
    rows = []
    for path in sorted(root.glob("*.ipynb")):
        try:
            meta = json.loads(path.read_text()).get("metadata", {}).get("papermill", {})
        except json.JSONDecodeError:  # being written (e.g. papermill executing this very chapter in place)
            meta = {}
        rows.append({"chapter": path.stem, "seconds": round(meta["duration"], 1) if meta.get("duration") else None,
                     "executed": (meta.get("end_time") or "")[:16].replace("T", " "),
                     "parameters": ", ".join(f"{k}={v!r}" for k, v in (meta.get("parameters") or {}).items()) or "defaults"})
    return pd.DataFrame(rows).set_index("chapter")


def book_profile_estimate() -> pd.DataFrame:
    """The book profile's GPU time as planned (:func:`lib.runtime.book_budget`), before measurements replace it."""
    from lib.runtime import book_budget

    b = book_budget()
    return pd.DataFrame({"estimate": {"training images / s (assumed)": round(b["images_per_s"]),
                                      "minutes per seed of the sweep": round(b["seconds_per_seed"] / 60, 1),
                                      "30-minute GPU sessions for three seeds": round(b["sessions_for_3_seeds"], 1)}})
