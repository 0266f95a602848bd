"""``python -m lib.train``: list, run (or load) one experiment, or run a profile's sweep.

    python -m lib.train --list
    python -m lib.train EXPERIMENT --profile P --seed S [--dataset D] [--results DIR] [--json]
    python -m lib.train --profile P --all [--experiments A,B] [--seeds 0,1] [--chunk I/N] [--parallel K]
                        [--deadline SECONDS]

A run whose record exists is loaded, not retrained (``--force`` retrains). Killed and started
again with the same command, a run resumes from its last checkpoint. ``--all`` runs the
profile's sweep in its priority order (``lib.experiments.priority_plan``: for ``cpu`` the
studies' most needed runs first) with one progress line per run: how many are left and the
estimated time, from the measured speed of this sweep's runs so far. It can run for hours in
the background (``nohup ... &``); started again, it skips finished records. ``--chunk I/N`` runs the
I-th of N slices of similar cost (a GPU session's share); ``--parallel K`` runs K experiments
at once, each in its own process on the same device (their epoch lines passed on as they come),
and reports the aggregate images/second. ``--deadline SECONDS`` starts a run only when the speed
measured so far says it ends in time (a lent GPU's time box: ``scripts/device_sweep.py``). On a
CPU, ``--parallel N --threads 1`` (one run per core) trains the ``cpu`` profile's small models
faster in all than one N-thread run (``python -m lib.bench --device cpu --layouts``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from lib.engine import NonFiniteLoss, RunOptions, TrainResult, heatmap_loss, train
from lib.experiments import PROFILES, Experiment, experiment_names, make_experiment, priority_plan
from lib.results import DEFAULT_RESULTS, Record, record_path
from lib.runner import chunk, estimated_cost, run_experiment, sweep_units
from lib.runtime import TooSlowForDevice

__all__ = ["NonFiniteLoss", "RunOptions", "TrainResult", "heatmap_loss", "main", "train"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lib.train", description=__doc__.splitlines()[0])
    p.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="print every experiment name, one per line")
    p.add_argument("--all", action="store_true", help="run the profile's whole sweep")
    p.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    p.add_argument("--dataset", default=None, help="synthetic, lspet or mpii (default: the profile's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", default=None, help="with --all: comma-separated seeds (default: the profile's)")
    p.add_argument("--experiments", default=None, help="with --all: comma-separated experiments (default: all)")
    p.add_argument("--chunk", default=None, help="with --all: run slice I of N, written I/N (1-based)")
    p.add_argument("--parallel", type=int, default=1, help="with --all: experiments at once, one process each")
    p.add_argument("--deadline", type=float, default=None, metavar="SECONDS",
                   help="with --all: start a run only if the sweep's measured speed says it ends within SECONDS "
                        "of the sweep's start (a lent GPU's time box); the others are left for the next sweep")
    p.add_argument("--results", default=None, help="results folder (default: the repository's results/)")
    p.add_argument("--force", action="store_true",
                   help="retrain even if a record exists (with --results DIR: the repository's results/ is kept)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    p.add_argument("--compile", action="store_true", help="torch.compile the training forward")
    p.add_argument("--allow-slow", action="store_true", help="run even if a CPU would take hours")
    p.add_argument("--threads", type=int, default=1, help="CPU threads of each run (default 1)")
    p.add_argument("--checkpoint-every", type=int, default=0, help="also checkpoint every N iterations")
    p.add_argument("--checkpoint-dir", default=None, help="run folders (default .cache/runs)")
    p.add_argument("--data-root", default=None, help="datasets folder (default $POSE_DATA)")
    return p


def options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(device=args.device, precision=args.precision, compile=args.compile,
                      checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every,
                      progress=not args.quiet, allow_slow=args.allow_slow, threads=args.threads,
                      data_root=args.data_root)


def refuse_overwrite(exps: list[Experiment], results: str | None) -> None:
    """``ValueError`` when ``--force`` would overwrite a record in the repository's ``results/``.

    Those records are the study's evidence (the book reads them; ``tests/test_record_guard.py``
    rescores them): a retrain goes to another folder, ``--results DIR``, where ``--force`` may
    overwrite; ``python -m lib.recheck RECORD`` compares a rerun with a record epoch by epoch.
    """
    repo = DEFAULT_RESULTS.resolve()
    hit = [p for p in (record_path(e, results).resolve() for e in exps) if p.is_relative_to(repo) and p.exists()]
    if len(hit) == 1:
        raise ValueError(f"--force would overwrite the record {os.path.relpath(hit[0])} (the study's evidence); "
                         f"retrain into another folder with --results DIR, or compare a rerun with the record: "
                         f"python -m lib.recheck {os.path.relpath(hit[0])}")
    if hit:
        raise ValueError(f"--force would overwrite {len(hit)} records in {os.path.relpath(repo)}/ (the study's "
                         f"evidence; first: {os.path.relpath(hit[0])}); retrain into another folder with --results DIR")


def summary(exp: Experiment, rec: Record, cached: bool) -> dict:
    return {"experiment": exp.name, "profile": exp.profile, "dataset": exp.data.dataset, "seed": exp.seed,
            "hash": rec.data["hash"], "cached": cached, "record": str(rec.path), "metrics": rec.metrics,
            "images": rec.data["run"]["images"], "images_per_s": rec.data["run"]["images_per_s"],
            "wall_s": rec.data["run"]["wall_s"]}


def run_one(exp: Experiment, args: argparse.Namespace) -> dict | None:
    cached = record_path(exp, args.results).exists() and not args.force
    rec = run_experiment(exp, options(args), results_dir=args.results, force=args.force)
    if rec is None:  # a torchrun rank other than 0
        return None
    out = summary(exp, rec, cached)
    m, run = rec.metrics, rec.data["run"]
    peak = f", {100 * run['peak_fraction']:.1f}% of bf16 peak" if run.get("peak_fraction") else ""
    print(f"{exp.name} seed {exp.seed} ({'cached' if cached else 'trained'}): "
          + ", ".join(f"{k} {m[k]:.1f}" for k in ("Mean", "Hard") if m.get(k) is not None)
          + f"; {run['images_per_s']:.0f} img/s{peak}  [{rec.path}]", flush=True)
    return out


def child_command(exp: Experiment, args: argparse.Namespace) -> list[str]:
    """The command line that runs ``exp`` alone (for ``--parallel``); its epoch lines stay on."""
    cmd = [sys.executable, "-m", "lib.train", exp.name, "--profile", exp.profile, "--dataset", exp.data.dataset,
           "--seed", str(exp.seed), "--json", "--device", args.device, "--precision", args.precision,
           "--threads", str(args.threads), "--checkpoint-every", str(args.checkpoint_every)]
    for flag, value in (("--results", args.results), ("--checkpoint-dir", args.checkpoint_dir),
                        ("--data-root", args.data_root)):
        if value:
            cmd += [flag, value]
    return cmd + [f for f, on in (("--compile", args.compile), ("--allow-slow", args.allow_slow),
                                  ("--force", args.force)) if on]


class RunFailed(RuntimeError):
    """One run of a sweep failed; the sweep goes on with the others."""


def run_in_child(exp: Experiment, args: argparse.Namespace) -> dict:
    """Run ``exp`` in a child process, passing its epoch lines on as they come; its JSON summary last."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(child_command(exp, args), stdout=subprocess.PIPE, stderr=err, text=True)
        last = ""
        for line in proc.stdout:
            if last:
                print(last, end="", flush=True)
            last = line
        if proc.wait() != 0:
            err.seek(0)
            raise RunFailed(f"exit {proc.returncode}: {err.read().strip()[-2000:]}")
    return json.loads(last)


def run_label(exp: Experiment) -> str:
    """``pbn/deep lspet seed 3``: one run of a sweep, as its progress lines name it."""
    return f"{exp.name} {exp.data.dataset} seed {exp.seed}"


class SweepProgress:
    """One line per finished run: position, the time (UTC), runs left, and the estimated time to the end.

    The estimate divides the remaining runs' training MACs (``lib.runner.estimated_cost``) by the
    MACs per wall second that this sweep's trained runs reached so far; before any run has
    trained (or when all were loaded) it says so instead of guessing.
    """

    def __init__(self, exps: list[Experiment], parallel: int, deadline: float | None = None):
        macs: dict = {}
        self.cost = {id(e): estimated_cost(e, macs) for e in exps}
        self.left, self.total, self.parallel = set(self.cost), len(exps), parallel
        self.trained_cost, self.trained_s = 0.0, 0.0
        self.deadline, self.start = deadline, time.monotonic()
        self.not_started: list[str] = []  # runs left for the next sweep by the deadline
        self.lock = threading.Lock()

    def too_late(self, exp: Experiment) -> str | None:
        """Why ``exp`` should not start before the deadline, or None (no deadline, or no run timed yet).

        A run's wall time is estimated from its MACs at the speed one run of this sweep reached
        while the others ran beside it, the regime the next run will train in.
        """
        with self.lock:
            if self.deadline is None or self.trained_cost == 0:
                return None
            elapsed = time.monotonic() - self.start
            need = self.cost[id(exp)] * self.trained_s / self.trained_cost
            if elapsed + need <= self.deadline:
                return None
            left = max(self.deadline - elapsed, 0)
            return f"not started: about {need / 60:.1f} min, {left / 60:.1f} min left before the deadline"

    def leave(self, exp: Experiment, why: str) -> None:
        """``exp`` is not started (the deadline): it stays among the runs left, and says why."""
        with self.lock:
            self.not_started.append(run_label(exp))
            print(f"{run_label(exp)}: {why}", flush=True)

    def finished(self, exp: Experiment, outcome: str, wall_s: float | None) -> None:
        with self.lock:
            self.left.discard(id(exp))
            if wall_s:
                self.trained_cost += self.cost[id(exp)]
                self.trained_s += wall_s
            done = self.total - len(self.left)
            if self.trained_s > 0:
                rate = self.trained_cost / self.trained_s * self.parallel
                eta = sum(self.cost[k] for k in self.left) / rate
                when = f"about {eta / 3600:.1f} h left at this sweep's measured speed"
            else:
                when = "no run trained yet to time"
            now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            print(f"[{done}/{self.total}] {now} {run_label(exp)}: {outcome}; "
                  f"{len(self.left)} run{'s' * (len(self.left) != 1)} left, {when}", flush=True)


def run_unit(unit: list[Experiment], args: argparse.Namespace,
             progress: SweepProgress | None = None) -> tuple[list[dict], list[str]]:
    """Run a unit's experiments in order (in this process, or each in a child for ``--parallel``).

    A run that already has a record is loaded here, not in a child: starting a Python with torch
    for each of a resumed sweep's records took minutes before the first run trained.
    """
    done, failed = [], []
    late = None
    for exp in unit:
        cached = not args.force and record_path(exp, args.results).exists()
        late = late or (None if cached or progress is None else progress.too_late(exp))
        if late:  # the rest of the unit too: a KPTransfer target must not train its source in-process
            progress.leave(exp, late)
            continue
        in_child = args.parallel > 1 and not cached
        try:
            res = run_in_child(exp, args) if in_child else run_one(exp, args)
        except (RunFailed, TooSlowForDevice, NonFiniteLoss, ValueError, FileNotFoundError) as e:
            failed.append(f"{exp.name} seed {exp.seed}: {e}")
            print(f"FAILED {failed[-1]}", file=sys.stderr, flush=True)
            if progress:
                progress.finished(exp, "FAILED", None)
            continue
        if res is not None:
            done.append(res)
            if progress:
                trained = not res["cached"]
                progress.finished(exp, f"{'trained in ' + format(res['wall_s'] / 60, '.1f') + ' min' if trained else 'loaded'}"
                                  f", Mean {res['metrics'].get('Mean', math.nan):.1f}", res["wall_s"] if trained else None)
    return done, failed


def sweep_plan(args: argparse.Namespace) -> list[Experiment]:
    """The experiments ``--all`` runs, in priority order, after ``--experiments/--seeds/--dataset``."""
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else None
    names = tuple(n.strip() for n in args.experiments.split(",")) if args.experiments else None
    exps = priority_plan(args.profile, names, seeds)
    if args.dataset:
        if args.profile == "cpu":
            exps = [e for e in exps if e.data.dataset == args.dataset]
        else:
            exps = [make_experiment(e.name, e.profile, args.dataset, e.seed) for e in exps]
    return exps


def run_all(args: argparse.Namespace) -> tuple[list[dict], list[str], list[str]]:
    """The sweep: its records (trained or loaded), its failed runs, and the runs the deadline left."""
    units = sweep_units(sweep_plan(args))
    if args.chunk:
        i, n = (int(x) for x in args.chunk.split("/"))
        units = chunk(units, i, n)
    exps = [e for u in units for e in u]
    print(f"{len(exps)} runs in {len(units)} units, in priority order", flush=True)
    progress = SweepProgress(exps, args.parallel, args.deadline)
    if args.parallel == 1:  # in this thread: a worker thread would start a second OpenMP team that competes
        outcomes = [run_unit(u, args, progress) for u in units]
    else:
        with ThreadPoolExecutor(args.parallel) as pool:
            outcomes = list(pool.map(lambda u: run_unit(u, args, progress), units))
    return [r for done, _ in outcomes for r in done], [f for _, fs in outcomes for f in fs], progress.not_started


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(experiment_names()))
        return 0
    if args.all == bool(args.experiment):
        p.error("give one EXPERIMENT, or --all for the profile's sweep (--list lists the names)")
    if args.parallel < 1 or (args.parallel > 1 and not args.all):
        p.error("--parallel K needs K >= 1 and --all")
    if (args.chunk or args.experiments or args.deadline is not None) and not args.all:
        p.error("--chunk, --experiments and --deadline only apply to --all")
    try:
        if args.all:
            if args.force:
                refuse_overwrite(sweep_plan(args), args.results)
            t = time.perf_counter()
            results, failed, not_started = run_all(args)
            wall = time.perf_counter() - t
            trained = [r for r in results if not r["cached"]]
            images = sum(r["images"] for r in trained)
            out = {"runs": len(results), "trained": len(trained), "cached": len(results) - len(trained),
                   "failed": failed, "not_started": not_started, "wall_s": wall,
                   "aggregate_images_per_s": images / wall if trained else None}
            late = f", {len(not_started)} not started before the deadline" if not_started else ""
            print(f"{out['runs']} run{'s' * (out['runs'] != 1)} ({out['trained']} trained, {out['cached']} loaded, {len(failed)} failed{late}) "
                  f"in {wall:.0f} s", flush=True)
        else:
            exp = make_experiment(args.experiment, args.profile, args.dataset, args.seed)
            if args.force:
                refuse_overwrite([exp], args.results)
            out = run_one(exp, args)
            if out is None:
                return 0
    except (TooSlowForDevice, NonFiniteLoss, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out))
    return 1 if args.all and out["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
