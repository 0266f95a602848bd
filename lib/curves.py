"""Learning curves, the cost of runs, and the arithmetic of a whole sweep, from records alone.

How the ``cpu`` profile was sized and what it costs: a record's per-epoch history gives
validation accuracy against training images and against training minutes (the learning curve
that chose the recipe); its run block gives the minutes, images/second and precision of the
run; and the measured speed of the finished runs, in training multiply-accumulates per wall
second, prices the runs of the plan that have not run yet (``lib.runner.estimated_cost``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from lib.experiments import Experiment, get_profile, priority_plan
from lib.results import Record, find_record
from lib.runner import estimated_cost

CURVE_COLUMNS = ["profile", "experiment", "dataset", "seed", "epoch", "images", "minutes", "lr", "train_loss", "val_loss"]


def learning_curves(recs: Iterable[Record], metrics: tuple[str, ...] = ("Mean", "Hard")) -> pd.DataFrame:
    """One row per epoch of each record: training images and minutes so far, lr, losses, metrics.

    ``minutes`` is the training time only (validation passes excluded), as the engine logs it.
    """
    rows = []
    for r in recs:
        s = r.data["config"]["schedule"]
        per_epoch = s["iters_per_epoch"] * s["batch_size"]
        for h in r.data["history"]:
            rows.append({"profile": r.data["profile"], "experiment": r.experiment, "dataset": r.data["dataset"],
                         "seed": r.seed, "epoch": h["epoch"], "images": h["epoch"] * per_epoch,
                         "minutes": h["train_seconds"] / 60, "lr": h["lr"], "train_loss": h["train_loss"],
                         "val_loss": h.get("val_loss", np.nan),
                         **{m: h.get(f"val_{m}", np.nan) for m in metrics}})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS + list(metrics))


def run_costs(recs: Iterable[Record]) -> pd.DataFrame:
    """One row per record: what it cost and where it ran (the reproducibility page's run table)."""
    rows = []
    for r in recs:
        run, prov = r.data["run"], r.data["provenance"]
        rows.append({"profile": r.data["profile"], "experiment": r.experiment, "dataset": r.data["dataset"],
                     "seed": r.seed, "input": r.data["config"]["model"]["input_size"], "epochs": r.data["epochs_run"], "images": run["images"],
                     "train min": run["train_s"] / 60, "wall min": run["wall_s"] / 60,
                     "images/s": run["images_per_s"], "precision": run.get("precision"),
                     "device": prov["device_name"], "threads": prov.get("threads"),
                     "Mean": r.metrics.get("Mean"), "date": prov["date"][:10]})
    return pd.DataFrame(rows)


def cost_summary(costs: pd.DataFrame) -> pd.DataFrame:
    """:func:`run_costs` in a few rows: wall minutes per run by paper (``pbn``, ``kpt``), precision and threads.

    What a reader wants before the full table: how long one run of each kind took (fewest, median,
    most minutes) and at how many images per second, in the precision the CPU allowed
    (:mod:`lib.hardware`: bf16 where it multiplies bf16 natively, else fp32).
    """
    if costs.empty:
        return pd.DataFrame(columns=["runs", "fewest min", "median min", "most min", "median images/s"])
    df = costs.assign(paper=costs["experiment"].str.split("/").str[0],
                      threads=costs["threads"].fillna(0).astype(int))
    g = df.groupby(["paper", "precision", "threads"])
    return pd.DataFrame({"runs": g.size(), "fewest min": g["wall min"].min(), "median min": g["wall min"].median(),
                         "most min": g["wall min"].max(), "median images/s": g["images/s"].median()})


def plan_records(profile: str, results_dir: str | Path | None = None) -> list[tuple[Experiment, Record | None]]:
    """Every run of the profile's plan, in priority order, with its record (None: not run yet)."""
    return [(e, find_record(e, results_dir)) for e in priority_plan(profile)]


def busy_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Seconds covered by the union of ``(start, end)`` intervals: runs that trained side by side
    (``--parallel``) count once, the machine's time rather than the sum of the runs'."""
    total, reach = 0.0, -np.inf
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _run_interval(rec: Record) -> tuple[float, float]:
    """``(start, end)`` of a run in POSIX seconds: the record is written at its end, after ``wall_s``."""
    end = datetime.fromisoformat(rec.data["provenance"]["date"]).timestamp()
    return end - rec.data["run"]["wall_s"], end


def sweep_arithmetic(profile: str, results_dir: str | Path | None = None) -> tuple[pd.DataFrame, dict]:
    """The machine time of a profile's whole sweep: measured where runs finished, priced where not.

    Returns a table with one row per plan group (dataset × kind: runs, finished, the finished
    runs' own wall hours, estimated hours left) and a summary. The rate is the training MACs of
    the finished runs per second of machine time they occupied (the union of their wall-clock
    intervals, so runs trained side by side with ``--parallel`` count once); hours done are that
    machine time, hours left the other runs' MACs at the same rate (early stopping makes the
    estimates for KPTransfer an upper bound). With no finished run the rate is unknown and the
    hours left are NaN.
    """
    macs: dict = {}
    rows, intervals = [], []
    for e, rec in plan_records(profile, results_dir):
        cost = estimated_cost(e, macs)
        done = rec is not None
        if done:
            intervals.append(_run_interval(rec))
        rows.append({"dataset": e.data.dataset, "kind": e.name.split("/")[0], "experiment": e.name, "seed": e.seed,
                     "done": done, "cost": cost,
                     "wall_h": rec.data["run"]["wall_s"] / 3600 if done else np.nan,
                     "done_cost": (rec.data["run"]["images"] / _planned_images(e)) * cost if done else 0.0})
    df = pd.DataFrame(rows)
    finished = df[df["done"]]
    busy_h = busy_seconds(intervals) / 3600
    rate = finished["done_cost"].sum() / (busy_h * 3600) if len(finished) else np.nan
    df["hours"] = np.where(df["done"], df["wall_h"], df["cost"] / rate / 3600 if rate == rate else np.nan)
    group = df.groupby(["dataset", "kind"], sort=False).agg(
        runs=("experiment", "size"), finished=("done", "sum"),
        run_h=("wall_h", "sum"), left_h=("hours", lambda h: h[~df.loc[h.index, "done"]].sum(min_count=1)))
    summary = {"profile": get_profile(profile).name, "runs": len(df), "finished": int(df["done"].sum()),
               "gmacs_per_s": rate / 1e9 if rate == rate else np.nan,
               "hours_done": busy_h, "run_hours_done": float(finished["wall_h"].sum()),
               "hours_left": float(df.loc[~df["done"], "hours"].sum()) if rate == rate else np.nan}
    summary["hours_total"] = summary["hours_done"] + summary["hours_left"]
    return group.reset_index(), summary


def _planned_images(e: Experiment) -> int:
    s = e.schedule
    return s.epochs * s.iters_per_epoch * s.batch_size


def plan_hours_at(profile: str, training_macs_per_s: float) -> float:
    """Hours of training the whole plan needs at a given speed (training MACs per second).

    With a benchmark's uncontended speed (``lib.bench``: 3 × forward MACs × images/s) this prices
    the sweep on an idle machine; validation passes and early stopping are left out (the first
    adds a few percent, the second only shortens KPTransfer's runs).
    """
    macs: dict = {}
    return sum(estimated_cost(e, macs) for e in priority_plan(profile)) / training_macs_per_s / 3600


# ---------------------------------------------------------------------------------------------
# Benchmark files (``python -m lib.bench --device cpu --out results/bench/cpu-DATE.json``)


def load_bench(pattern: str = "results/bench/cpu-*.json") -> list[dict]:
    """Every benchmark file matching ``pattern`` (oldest name first), each with its ``file``.

    A relative pattern is read from the repository root, so a chapter opened from ``notebooks/``
    finds the same files as the book build, which runs from the root.
    """
    import glob
    import json

    from lib.provenance import REPO_ROOT

    root = REPO_ROOT if not Path(pattern).is_absolute() else Path("/")
    files = sorted(glob.glob(str(root / pattern)))
    return [json.loads(Path(f).read_text()) | {"file": str(Path(f).relative_to(root)) if root == REPO_ROOT else f}
            for f in files]


def bench_table(bench: list[dict]) -> pd.DataFrame:
    """One row per timing of every file (a failed ``torch.compile`` keeps its error, no timing).

    ``TFLOP/s`` is the training arithmetic the step did (6 × forward MACs per image); ``% of ceiling``
    its share of the file's measured matmul ceiling (:func:`lib.bench.matmul_ceiling`), empty in
    files written before the benchmark measured one on a CPU.
    """
    keys = ("model", "mode", "batch_size", "images_per_s", "speedup", "error")
    return pd.DataFrame([{"file": b["file"], "device": b["device"], "threads": b["threads"], "date": b["date"][:10],
                          **{k: r.get(k) for k in keys}, "TFLOP/s": r.get("train_tflops"),
                          "% of ceiling": 100 * r["fraction_of_ceiling"] if r.get("fraction_of_ceiling") else None}
                         for b in bench for r in b["rows"]])


def layout_table(bench: list[dict]) -> pd.DataFrame:
    """``lib.bench --layouts`` timings: one process with every core's thread against one
    one-thread process per core, in aggregate images/second and as a ratio to the first.

    ``precision`` (bf16 where the CPU multiplies it natively, else fp32) tells apart two CPUs
    that report the same name: which layout wins differs between them.
    """
    keys = ("model", "processes", "threads", "images_per_s", "ratio")
    return pd.DataFrame([{"file": b["file"], "device": b["device"], "precision": b.get("precision", "").split(",")[0],
                          "date": b["date"][:10], **{k: r[k] for k in keys}}
                         for b in bench for r in b.get("layouts", [])])


def fast_speeds(bench: list[dict]) -> dict[str, tuple[float, dict]]:
    """Eager fast-path images/s of each profile's linear baseline, with its file.

    Keys are the profile named before the colon of the benchmark's model label (``cpu``, ``cpu-128``).
    Where several machines were measured (bf16 on one CPU, fp32 channels-last on another) the
    fastest wins: the idle cost of a run on the best machine measured, which is what the files
    name alongside the figure.
    """
    out: dict[str, tuple[float, dict]] = {}
    for b in sorted(bench, key=lambda b: b["date"]):
        for r in b["rows"]:
            if "error" not in r and "linear" in r["model"] and r["speedup"] > 1 and "compiled" not in r["mode"]:
                key = r["model"].split(":")[0]
                if key not in out or r["images_per_s"] > out[key][0]:
                    out[key] = (r["images_per_s"], b)
    return out


def recipe_table(recs: Iterable[Record], bench: list[dict]) -> pd.DataFrame:
    """:func:`run_costs` plus ``idle min``: each run's training images at its model's benchmark speed."""
    costs = run_costs(recs)
    speeds = fast_speeds(bench)
    costs["idle min"] = [row["images"] / speeds[row["profile"]][0] / 60 if row["profile"] in speeds else np.nan
                         for _, row in costs.iterrows()]
    return costs
