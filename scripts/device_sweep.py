"""The rest of a profile's sweep on a lent GPU, in one prepared command (issue 32).

A lent GPU machine gets a copy of the working tree and nothing else: no ``$POSE_DATA``, no
``.venv`` (its own ``python3`` holds PyTorch), a time box of minutes. So the sweep travels with
the packed crops it needs, trains several runs side by side on the one GPU, starts a run only
while the measured speed says it ends in time (``lib.train --deadline``), and sends the new
records back in one archive:

    python scripts/device_sweep.py prepare                  # here: packs of the runs left -> .device/
    python3 scripts/device_sweep.py run --seconds 480       # there (carry .device): trains, bundles $OUT
    python scripts/device_sweep.py unpack DIR/records.tar.gz  # here: the new records into results/

``prepare`` copies the packs of the datasets that the plan's runs without a record use from the
local pack cache (building any that is missing) into ``.device/packs`` (git-ignored), and the MPII annotations where a
``synthetic-mpii`` run needs them (its poses are rendered on the fly). ``run`` is what the device
executes: it prints the device, runs ``python -m lib.train --profile P --all --parallel K
--deadline ...`` (same profile and configs as the CPU sweep: the records say which device and
precision trained them), stops it at the hard limit, and writes ``$OUT/sweep.log`` and
``$OUT/records.tar.gz`` (the records that did not exist when it started). ``unpack`` refuses to
overwrite a record. Test it on the CPU first: ``run --device cpu --profile smoke --seconds 120``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEVICE_DIR = ROOT / ".device"  # git-ignored; name it in the device tool's `carry`
RESULTS = ROOT / "results"
PROBE = ("import torch, platform; print('torch', torch.__version__, 'on', "
         "torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor())")


def left_to_train(profile: str, experiments: str | None, seeds: str | None) -> list:
    """The plan's runs (and their KPTransfer sources) that have no record, in priority order."""
    from lib.experiments import priority_plan
    from lib.results import record_path

    names = tuple(experiments.split(",")) if experiments else None
    seed_list = tuple(int(s) for s in seeds.split(",")) if seeds else None
    todo = []
    for exp in priority_plan(profile, names, seed_list):
        for e in (exp.init, exp) if exp.init is not None else (exp,):
            if not record_path(e).exists() and e not in todo:
                todo.append(e)
    return todo


def prepare(args: argparse.Namespace) -> None:
    from lib.data import load_poseset
    from lib.data.pack import pack_file
    from lib.data.paths import data_root

    todo = left_to_train(args.profile, args.experiments, args.seeds)
    if not todo:
        sys.exit(f"every run of the {args.profile} plan has a record: nothing to send")
    packs = DEVICE_DIR / "packs"
    shutil.rmtree(DEVICE_DIR, ignore_errors=True)
    packs.mkdir(parents=True)
    specs = {(e.data.dataset, split, e.data.resolution, e.data.margin, limit)
             for e in todo for split, limit in (("train", e.data.train_limit), ("val", e.data.val_limit))}
    for dataset, split, resolution, margin, limit in sorted(specs, key=str):
        # load (building it if needed) through the local cache, then send the pack that served it
        ps = load_poseset(dataset, split, data_root=args.data_root, resolution=resolution, margin=margin, limit=limit)
        served = pack_file(ps)
        shutil.copy2(served, packs / served.name)
        print(f"{served.name}: {dataset} {split} ({limit or 'all'} people, {resolution} px)", flush=True)
    if any(e.data.dataset == "synthetic-mpii" for e in todo):
        (DEVICE_DIR / "data" / "mpii").mkdir(parents=True)
        shutil.copy2(data_root(args.data_root) / "mpii" / "mpii_annotations.json.gz", DEVICE_DIR / "data" / "mpii")
    size = sum(f.stat().st_size for f in DEVICE_DIR.rglob("*") if f.is_file())
    plan = [f"{e.name} {e.data.dataset} seed {e.seed}" for e in todo]
    (DEVICE_DIR / "plan.json").write_text(json.dumps(plan, indent=1))
    print(f"{len(todo)} runs left; {size / 2**20:.1f} MiB in {DEVICE_DIR.relative_to(ROOT)}/ "
          f"(the working tree and it travel together, 64 MiB at most)")


def run(args: argparse.Namespace) -> int:
    out = Path(os.environ.get("OUT") or DEVICE_DIR / "out")
    out.mkdir(parents=True, exist_ok=True)
    cache = ROOT / ".cache" / "packs"
    cache.mkdir(parents=True, exist_ok=True)
    for f in (DEVICE_DIR / "packs").glob("*.npz"):
        shutil.copy2(f, cache / f.name)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("POSE_DATA", None)
    if (DEVICE_DIR / "data").is_dir():
        env["POSE_DATA"] = str(DEVICE_DIR / "data")
    before = set(RESULTS.rglob("*"))
    runs = Path(tempfile.gettempdir()) / "device-sweep-runs"
    cmd = [sys.executable, "-m", "lib.train", "--profile", args.profile, "--all", "--parallel", str(args.parallel),
           "--threads", str(args.threads), "--device", args.device, "--json",
           "--deadline", str(max(args.seconds - args.margin, 0)), "--checkpoint-dir", str(runs)]
    cmd += ["--experiments", args.experiments] if args.experiments else []
    cmd += ["--seeds", args.seeds] if args.seeds else []
    with open(out / "sweep.log", "w") as log:
        probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env)
        for line in [probe.stdout + probe.stderr, " ".join(cmd) + "\n"]:
            log.write(line)
            print(line, end="", flush=True)
        # its own process group: at the hard limit the sweep and every run it started stop together
        # (the runs still training are lost; a record is written whole or not at all)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                                start_new_session=True)
        timer = threading.Timer(args.seconds, os.killpg, (proc.pid, signal.SIGKILL))
        timer.start()
        for line in proc.stdout:
            log.write(line)
            log.flush()
            print(line, end="", flush=True)
        timer.cancel()
        if proc.wait() == -signal.SIGKILL:
            print(f"stopped at the hard limit ({args.seconds:.0f} s)", flush=True)
    # a record is its JSON (written last) and the .npz it names; an .npz alone is a run cut short
    records = sorted(p for p in set(RESULTS.rglob("*.json")) - before if p.with_suffix(".npz").is_file())
    with tarfile.open(out / "records.tar.gz", "w:gz") as tar:
        for p in records:
            for f in (p.with_suffix(".npz"), p):
                tar.add(f, arcname=str(f.relative_to(ROOT)))
    print(f"{len(records)} new records in {out / 'records.tar.gz'}: " + ", ".join(p.name for p in records))
    return 0 if records else 1


def unpack(args: argparse.Namespace) -> None:
    with tarfile.open(args.archive) as tar:
        members = tar.getmembers()
        bad = [m.name for m in members if not m.isfile() or not m.name.startswith("results/") or ".." in m.name]
        if bad:
            sys.exit(f"{args.archive}: unexpected entries {bad[:3]}; only files under results/ are unpacked")
        there = [m.name for m in members if (ROOT / m.name).exists()]
        if there:
            sys.exit(f"{args.archive}: {len(there)} of its records exist already (first: {there[0]}); nothing unpacked")
        tar.extractall(ROOT, members=members, filter="data")
    print("\n".join(m.name for m in members if m.name.endswith(".json")))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("prepare", "run"):
        s = sub.add_parser(name)
        s.add_argument("--profile", default="cpu")
        s.add_argument("--experiments", default=None, help="comma-separated (default: the whole plan)")
        s.add_argument("--seeds", default=None, help="comma-separated (default: the plan's)")
    sub.choices["prepare"].add_argument("--data-root", default=None, help="default $POSE_DATA")
    r = sub.choices["run"]
    r.add_argument("--seconds", type=float, default=480, help="hard limit of the training, seconds")
    r.add_argument("--margin", type=float, default=45, help="seconds before the limit after which no run starts")
    r.add_argument("--parallel", type=int, default=8, help="runs side by side on the one device")
    r.add_argument("--threads", type=int, default=2, help="CPU threads of each run")
    r.add_argument("--device", default="cuda")
    u = sub.add_parser("unpack")
    u.add_argument("archive")
    args = p.parse_args()
    if args.command == "prepare":
        prepare(args)
    elif args.command == "unpack":
        unpack(args)
    else:
        return run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
