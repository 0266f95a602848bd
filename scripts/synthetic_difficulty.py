"""How hard is the synthetic benchmark? Train a small PBN on CPU and report PCKh by occlusion type.

Usage: ``python scripts/synthetic_difficulty.py [--minutes M] [--seed S]``. A quick check for the
data issue ("a trained model is far from 100% and occluded joints are clearly harder"), not a
result of the study: a 2-stack, 64-channel PBN at 64×64 input, trained for a few CPU minutes.
Prints the all / visible / self-occluded / other-occluded rows of the validation table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace

import torch

from lib.experiments import make_experiment
from lib.train import RunOptions, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="training budget on this CPU (approximate)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    exp = make_experiment("pbn/mi5-d1-w64", "smoke", seed=args.seed)
    iters = max(1, int(args.minutes * 60 * 40 / exp.schedule.batch_size / 4))  # ~40 img/s at 64 px
    epochs = 4
    exp = replace(exp, profile="difficulty-check",
                  model=replace(exp.model, channels=64, width=16),
                  data=replace(exp.data, train_limit=2000, val_limit=500),
                  schedule=replace(exp.schedule, lr=1e-3, epochs=epochs, iters_per_epoch=iters, milestones=(3,)))
    with tempfile.TemporaryDirectory() as tmp:
        result = train(exp, RunOptions(device="cpu", checkpoint_dir=tmp, threads=args.threads, allow_slow=True))
    ev = result.evaluation
    rows = {k: {c: round(v, 1) for c, v in ev.tables[k].items()} for k in ("all", "visible", "self_occluded", "other_occluded")}
    print(json.dumps({"images": result.images, "train_s": round(result.train_seconds), "pckh": rows}, indent=1))


if __name__ == "__main__":
    main()
