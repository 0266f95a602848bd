"""Command line of ``lib.data``: preview augmented samples, build packs, measure throughput.

    python -m lib.data preview lspet --out preview.png [--n 16] [--seed 0] [--augment pbn]
    python -m lib.data pack lspet [--resolution 128] [--margin 1.25] [--split train val]
    python -m lib.data bench [--batch 32] [--input-size 256]

Real datasets come from ``--data-root`` or ``$POSE_DATA``; packs go to ``--cache-dir`` or
``<repo>/.cache/packs``. A missing, damaged or foreign data file ends in one line on stderr
naming the file, the problem and the fix (exit status 2), not a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch

from lib.data import DATASETS, SPLITS, load_poseset
from lib.data.augment import AUGMENTS, DeviceData, make_batch
from lib.data.pack import pack_file
from lib.data.poseset import PoseSet, decode_jpegs, encode_jpegs
from lib.errors import run_main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lib.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-root", help="datasets folder (default: $POSE_DATA)")
        p.add_argument("--cache-dir", help="pack folder (default: <repo>/.cache/packs)")
        p.add_argument("--resolution", type=int, default=None, help="crop side in px (default 128)")
        p.add_argument("--margin", type=float, default=None, help="crop side / person box (default 1.25)")
        p.add_argument("--allow-missing-images", action="store_true",
                       help="drop people whose photo is missing instead of failing (partial MPII folders)")

    p = sub.add_parser("preview", help="draw augmented training samples with their skeletons")
    p.add_argument("dataset", choices=DATASETS)
    p.add_argument("--out", required=True, type=Path, help="PNG file to write")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", choices=SPLITS, default="train")
    p.add_argument("--augment", choices=sorted(AUGMENTS), default="pbn")
    p.add_argument("--input-size", type=int, default=256)
    common(p)

    p = sub.add_parser("pack", help="build the packed crop cache of a dataset")
    p.add_argument("dataset", choices=DATASETS)
    p.add_argument("--split", nargs="+", choices=SPLITS, default=list(SPLITS))
    p.add_argument("--rebuild", action="store_true", help="rebuild even if a matching pack exists")
    common(p)

    p = sub.add_parser("bench", help="images/second of rendering, pack decoding and augmentation")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--input-size", type=int, default=256)
    p.add_argument("--seconds", type=float, default=2.0, help="time spent per measurement")
    common(p)

    args = parser.parse_args(argv)
    kw = {"data_root": args.data_root, "cache_dir": args.cache_dir, "resolution": args.resolution,
          "margin": args.margin, "require_images": not args.allow_missing_images}
    if args.command == "preview":
        from lib.data.preview import preview

        # synthetic: render only what is shown (unless a full pack is cached)
        limit = max(args.n, 64) if args.dataset == "synthetic" else None
        ps = load_poseset(args.dataset, args.split, limit=limit, **kw)
        out = preview(ps, args.out, n=args.n, seed=args.seed, aug=AUGMENTS[args.augment], input_size=args.input_size,
                      title=f"{args.dataset} {args.split}, {args.augment} augmentation, seed {args.seed}")
        print(f"wrote {out} ({min(args.n, len(ps))} of {len(ps)} people)")
    elif args.command == "pack":
        for split in args.split:
            t0 = time.perf_counter()
            ps = load_poseset(args.dataset, split, rebuild=args.rebuild, **kw)
            path = pack_file(ps, Path(args.cache_dir) if args.cache_dir else None)
            size = f"{path} ({path.stat().st_size / 2**20:.1f} MiB)" if path.is_file() else "not cached"
            print(f"{args.dataset} {split}: {len(ps)} people, {ps.resolution} px, margin {ps.margin:g}, "
                  f"{time.perf_counter() - t0:.1f} s, {size}")
    else:
        bench(args.batch, args.input_size, args.seconds, kw)


def _rate(fn, items: int, seconds: float, sync=lambda: None) -> float:
    """Items per second of ``fn`` (which handles ``items`` items), after one warm-up call."""
    fn()
    sync()
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        calls += 1
    sync()
    return calls * items / (time.perf_counter() - t0)


def _bench_data(kw: dict) -> tuple[PoseSet, str]:
    """LSP Extended validation crops when available, else random crops (same sizes)."""
    try:
        t0 = time.perf_counter()
        ps = load_poseset("lspet", "val", **kw)
        print(f"load_poseset (lspet val pack, {len(ps)} crops, incl. any build): "
              f"{len(ps) / (time.perf_counter() - t0):9.0f} img/s")
        return ps, "lspet val"
    except (FileNotFoundError, ValueError) as e:
        print(f"(no LSP Extended: {e.__class__.__name__}; using random crops)")
    rng = np.random.default_rng(0)
    n, r, j = 256, kw.get("resolution") or 128, 14
    return PoseSet(images=rng.integers(0, 256, (n, r, r, 3), dtype=np.uint8),
                   joints=rng.uniform(0.3 * r, 0.7 * r, (n, j, 2)).astype(np.float32),
                   annotated=np.ones((n, j), bool), visible=np.ones((n, j), bool),
                   norm=np.full(n, 0.3 * r, np.float32), joint_ids=tuple(range(j)), metric="pck",
                   margin=1.25), "random"


def bench(batch: int, input_size: int, seconds: float, kw: dict) -> None:
    """Print images/second of synthetic rendering, pack decoding and batch building (CPU, GPU)."""
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 CPU thread, batch {batch}, input {input_size}")
    if importlib.util.find_spec("lib.data.synthetic") is not None:
        from lib.data.synthetic import SyntheticConfig, render_poseset

        cfg = SyntheticConfig(num=64, resolution=kw.get("resolution") or 128)
        print(f"render (synthetic, {cfg.resolution} px):   {_rate(lambda: render_poseset(cfg), 64, seconds):9.0f} img/s")
    else:
        print("render (synthetic): lib.data.synthetic not present")
    ps, what = _bench_data(kw)
    sample = ps.images[:256]
    data, offsets = encode_jpegs(sample, 85)
    print(f"pack decode ({what}, {ps.resolution} px JPEG): "
          f"{_rate(lambda: decode_jpegs(data, offsets, sample.shape), len(sample), seconds):9.0f} img/s")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        dd = DeviceData.from_poseset(ps, device)
        gen = torch.Generator(device=device).manual_seed(0)
        index = torch.randint(len(ps), (batch,), generator=gen, device=device)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        for name in ("pbn", "none"):
            rate = _rate(lambda: make_batch(dd, index, AUGMENTS[name], input_size, gen), batch, seconds, sync)
            print(f"make_batch {device:4s} {name:4s} aug + targets: {rate:9.0f} img/s")


if __name__ == "__main__":
    # every ValueError of these commands is an input message (bad argument or bad file)
    raise SystemExit(run_main(main, catch=(ValueError,)))
