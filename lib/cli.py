"""``python -m lib.train``: list, run (or load) one experiment, or run a profile's sweep.

    python -m lib.train --list
    python -m lib.train EXPERIMENT --profile P --seed S [--dataset D] [--results DIR] [--json]
    python -m lib.train --profile P --all [--seeds 0,1] [--chunk I/N] [--parallel K]

A run whose record exists is loaded, not retrained (``--force`` retrains). Killed and started
again with the same command, a run resumes from its last checkpoint. ``--chunk I/N`` runs the
I-th of N slices of similar cost (a GPU session's share); ``--parallel K`` runs K experiments
at once, each in its own process on the same device, and reports the aggregate images/second.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from lib.experiments import PROFILES, Experiment, experiment_names, make_experiment, sweep
from lib.results import Record, record_path
from lib.runner import chunk, run_experiment, sweep_units
from lib.runtime import TooSlowForDevice
from lib.train import NonFiniteLoss, RunOptions


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lib.train", description=__doc__.splitlines()[0])
    p.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="print every experiment name, one per line")
    p.add_argument("--all", action="store_true", help="run the profile's whole sweep")
    p.add_argument("--profile", default="smoke", choices=sorted(PROFILES))
    p.add_argument("--dataset", default=None, help="synthetic, lspet or mpii (default: the profile's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", default=None, help="with --all: comma-separated seeds (default: the profile's)")
    p.add_argument("--chunk", default=None, help="with --all: run slice I of N, written I/N (1-based)")
    p.add_argument("--parallel", type=int, default=1, help="with --all: experiments at once, one process each")
    p.add_argument("--results", default=None, help="results folder (default: the repository's results/)")
    p.add_argument("--force", action="store_true", help="retrain even if a record exists")
    p.add_argument("--json", action="store_true", help="end with one line of JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    p.add_argument("--compile", action="store_true", help="torch.compile the training forward")
    p.add_argument("--allow-slow", action="store_true", help="run even if a CPU would take hours")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--checkpoint-every", type=int, default=0, help="also checkpoint every N iterations")
    p.add_argument("--checkpoint-dir", default=None, help="run folders (default .cache/runs)")
    p.add_argument("--data-root", default=None, help="datasets folder (default $POSE_DATA)")
    return p


def options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(device=args.device, precision=args.precision, compile=args.compile,
                      checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every,
                      progress=not args.quiet, allow_slow=args.allow_slow, threads=args.threads,
                      data_root=args.data_root)


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
    """The command line that runs ``exp`` alone (for ``--parallel``)."""
    cmd = [sys.executable, "-m", "lib.train", exp.name, "--profile", exp.profile, "--dataset", exp.data.dataset,
           "--seed", str(exp.seed), "--json", "--quiet", "--device", args.device, "--precision", args.precision,
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
    proc = subprocess.run(child_command(exp, args), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RunFailed(f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    mean = res["metrics"].get("Mean")
    print(f"{exp.name} seed {exp.seed} ({'cached' if res['cached'] else 'trained'}): "
          f"Mean {math.nan if mean is None else mean:.1f}", flush=True)
    return res


def run_unit(unit: list[Experiment], args: argparse.Namespace) -> tuple[list[dict], list[str]]:
    """Run a unit's experiments in order (in this process, or each in a child for ``--parallel``)."""
    done, failed = [], []
    for exp in unit:
        try:
            res = run_in_child(exp, args) if args.parallel > 1 else run_one(exp, args)
        except (RunFailed, TooSlowForDevice, NonFiniteLoss, ValueError, FileNotFoundError) as e:
            failed.append(f"{exp.name} seed {exp.seed}: {e}")
            print(f"FAILED {failed[-1]}", file=sys.stderr, flush=True)
            continue
        if res is not None:
            done.append(res)
    return done, failed


def run_all(args: argparse.Namespace) -> tuple[list[dict], list[str]]:
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else None
    units = sweep_units(sweep(args.profile, args.dataset, seeds))
    if args.chunk:
        i, n = (int(x) for x in args.chunk.split("/"))
        units = chunk(units, i, n)
    print(f"{sum(len(u) for u in units)} runs in {len(units)} units", flush=True)
    with ThreadPoolExecutor(args.parallel) as pool:
        outcomes = list(pool.map(lambda u: run_unit(u, args), units))
    return [r for done, _ in outcomes for r in done], [f for _, fs in outcomes for f in fs]


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
    if args.chunk and not args.all:
        p.error("--chunk I/N only applies to --all")
    try:
        if args.all:
            t = time.perf_counter()
            results, failed = run_all(args)
            wall = time.perf_counter() - t
            trained = [r for r in results if not r["cached"]]
            images = sum(r["images"] for r in trained)
            out = {"runs": len(results), "trained": len(trained), "cached": len(results) - len(trained),
                   "failed": failed, "wall_s": wall, "aggregate_images_per_s": images / wall if trained else None}
            print(f"{out['runs']} runs ({out['trained']} trained, {out['cached']} loaded, {len(failed)} failed) "
                  f"in {wall:.0f} s", flush=True)
        else:
            exp = make_experiment(args.experiment, args.profile, args.dataset, args.seed)
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
