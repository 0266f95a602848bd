"""Training throughput on this machine, against its measured arithmetic ceiling.

``python -m lib.bench`` times training steps (on-device augmentation and targets, forward,
loss over all stacks, backward, RMSProp) of the paper's 8-stack PBN at 256×256 (PBN Sec. 4.2)
and of the ``book`` profile's 3-stack PBN at 128×128, in plain fp32 eager mode and, on CUDA, on
the engine's fast path (bf16 autocast, channels-last, optionally ``torch.compile``). It prints
images/second, multiply-accumulates per image, a measured matmul ceiling (:func:`matmul_ceiling`:
bf16 on CUDA, the fast path's dtype on a CPU) and the fraction of it each training step reaches
(training ≈ 3 × forward MACs, 2 FLOP per MAC). With ``--device cpu``
it times the ``cpu`` profile's models and the ``book`` model in fp32 eager and on the CPU fast
path (channels-last, with bf16 autocast where the CPU multiplies bf16 natively:
``lib.hardware``) side by side and prints the ratio; ``--layouts`` instead times N one-thread processes against one
N-thread process (:func:`cpu_layouts`, how a CPU sweep should use its cores). The ``book`` profile's
size (``lib.runtime.book_budget``) assumes 10% of the nominal peak until this is run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from lib.data.augment import PBN_AUGMENT, DeviceData, make_batch
from lib.data.poseset import PoseSet
from lib.evaluate import precision
from lib.experiments import make_experiment
from lib.errors import run_main
from lib.hardware import device_name, nominal_bf16_peak, resolve_precision
from lib.models import ModelConfig, build_model
from lib.provenance import git_state
from lib.runtime import model_macs

#: The models timed: the paper's benchmark network and the book profile's base model.
MODELS: tuple[tuple[str, str, str], ...] = (("paper: 8-stack PBN 256x256", "pbn/large-mi5", "paper"),
                                             ("book: 3-stack PBN 128x128", "pbn/mi5-d1-w64", "book"))
#: On a CPU: the ``cpu`` profile's models (linear baseline and PBN) and the ``book`` model.
CPU_MODELS: tuple[tuple[str, str, str], ...] = (("cpu: 2-stack linear 64x64", "pbn/linear", "cpu"),
                                                ("cpu: 2-stack PBN 64x64", "pbn/mi5-d1-w64", "cpu"),
                                                ("cpu-128: 2-stack linear 128x128 (probe)", "pbn/linear", "cpu-128"),
                                                ("book: 3-stack PBN 128x128", "pbn/mi5-d1-w64", "book"))


def matmul_ceiling(device: torch.device, dtype: torch.dtype = torch.bfloat16, n: int | None = None,
                   iters: int | None = None) -> float:
    """Measured FLOP/s of large square ``dtype`` matmuls: a practical arithmetic ceiling for this device.

    On a GPU bf16 tensor cores (8192², 20 products); on a CPU the fast path's dtype (bf16 where it
    multiplies bf16 natively, else fp32) on the threads torch uses (2048², 10 products): what
    oneDNN's best kernel reaches, the bar a convolution network's training step is measured against.
    """
    cuda = device.type == "cuda"
    n, iters = n or (8192 if cuda else 2048), iters or (20 if cuda else 10)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    for _ in range(3):
        a @ b
    sync()
    t = time.perf_counter()
    for _ in range(iters):
        a @ b
    sync()
    return 2 * n**3 * iters / (time.perf_counter() - t)


def fake_data(num_joints: int, input_size: int, device: torch.device, n: int = 256) -> DeviceData:
    """Random crops and joints as a PoseSet on ``device`` (timing needs no real pixels)."""
    rng = np.random.default_rng(0)
    res = input_size * 5 // 4
    ps = PoseSet(images=rng.integers(0, 256, (n, res, res, 3), dtype=np.uint8),
                 joints=(rng.random((n, num_joints, 2)) * res * 0.6 + res * 0.2).astype(np.float32),
                 annotated=np.ones((n, num_joints), bool), visible=np.ones((n, num_joints), bool),
                 norm=np.full(n, res / 8.0, np.float32), joint_ids=tuple(range(num_joints)), metric="pckh",
                 margin=1.25)
    return DeviceData.from_poseset(ps, device)


@dataclass(frozen=True)
class Throughput:
    """One timing: ``images_per_s`` of training, ``macs`` forward per image, and the path used."""

    model: str
    mode: str
    images_per_s: float
    macs: int
    batch_size: int

    @property
    def train_flops(self) -> float:
        return 6.0 * self.macs * self.images_per_s


def training_throughput(cfg: ModelConfig, device: torch.device, *, batch_size: int, iters: int, warmup: int,
                        fast: bool, bf16: bool | None = None, compile: bool = False, name: str = "") -> Throughput:
    """Images/second of full training steps of ``cfg``.

    ``fast``: channels-last (as the engine), and bf16 autocast unless ``bf16`` says otherwise (default: on CUDA;
    the command line passes ``lib.hardware.resolve_precision``'s choice, which includes CPUs with
    native bf16).
    """
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    macs = model_macs(cfg)
    bf16 = fast and (device.type == "cuda" if bf16 is None else bf16)
    channels_last = fast  # as the engine
    if channels_last:
        model.to(memory_format=torch.channels_last)
    fwd = torch.compile(model) if compile else model
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4, **({"foreach": True} if device.type == "cuda" else {}))
    data = fake_data(cfg.num_joints, cfg.input_size, device)
    gen = torch.Generator(device=device).manual_seed(0)
    model.train()

    def step(i: int) -> None:
        index = torch.arange(i * batch_size, (i + 1) * batch_size, device=device) % len(data)
        batch = make_batch(data, index, PBN_AUGMENT, cfg.input_size, gen)
        x = batch.inputs.contiguous(memory_format=torch.channels_last) if channels_last else batch.inputs
        with precision(device, bf16):
            outs = fwd(x)
        loss = sum(((o.float() - batch.targets).square() * batch.weights[:, :, None, None]).mean() for o in outs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t = time.perf_counter()
    for i in range(iters):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    rate = iters * batch_size / (time.perf_counter() - t)
    mode = "fp32 eager" if not fast else (("bf16 channels-last" if bf16 else "fp32 channels-last (no native bf16)")
                                          + (" compiled" if compile else ""))
    return Throughput(name, mode, rate, macs, batch_size)


def _layout_worker(cfg: ModelConfig, batch_size: int, iters: int, bf16: bool, threads: int, start, rates) -> None:
    torch.set_num_threads(threads)
    start.wait()  # all processes time their steps together
    r = training_throughput(cfg, torch.device("cpu"), batch_size=batch_size, iters=iters, warmup=2, fast=True, bf16=bf16)
    rates.put(r.images_per_s)


def cpu_layouts(cfg: ModelConfig, *, batch_size: int, iters: int, bf16: bool, cores: int) -> list[dict]:
    """Aggregate training images/second of ``cores`` cores used two ways: one process with
    ``cores`` threads, or ``cores`` processes of one thread each training side by side.

    Small models at small batches leave intra-op threads idle (each convolution is short), so a
    CPU sweep of many independent runs may finish sooner one run per core
    (``python -m lib.train --all --parallel N --threads 1``).
    """
    ctx = torch.multiprocessing.get_context("spawn")
    rows = []
    for processes, threads in ((1, cores), (cores, 1)):
        start, rates = ctx.Barrier(processes), ctx.Queue()
        procs = [ctx.Process(target=_layout_worker, args=(cfg, batch_size, iters, bf16, threads, start, rates))
                 for _ in range(processes)]
        for proc in procs:
            proc.start()
        total = sum(rates.get(timeout=3600) for _ in procs)
        for proc in procs:
            proc.join()
        rows.append({"processes": processes, "threads": threads, "images_per_s": total})
    for row in rows:
        row["ratio"] = row["images_per_s"] / rows[0]["images_per_s"]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda")
    parser.add_argument("--batch", type=int, default=None, help="images per step (default: each profile's batch size)")
    parser.add_argument("--iters", type=int, default=None, help="timed steps (default: 20 on CUDA, 4 on CPU)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    parser.add_argument("--compile", action="store_true", help="also time the fast path under torch.compile")
    parser.add_argument("--layouts", action="store_true",
                        help="CPU only: instead, time the cpu profile's models as one N-thread process "
                        "and as N one-thread processes side by side")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--out", default=None, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    cuda = device.type == "cuda"
    if args.layouts and cuda:
        parser.error("--layouts compares ways of sharing CPU cores; add --device cpu")
    if not cuda and args.threads:
        torch.set_num_threads(args.threads)
    iters, warmup = args.iters or (20 if cuda else 4), 5 if cuda else 2  # warm-up includes compilation
    prec = resolve_precision("auto", device)
    name = device_name(device)
    print(f"device: {name}" + ("" if cuda else f" ({torch.get_num_threads()} threads)")
          + f", torch {torch.__version__}; fast path: {prec.reason}")
    ceiling_dtype = torch.bfloat16 if cuda or prec.bf16 else torch.float32
    ceiling = matmul_ceiling(device, ceiling_dtype)
    nominal = nominal_bf16_peak(name) if cuda else None
    print(f"{str(ceiling_dtype).removeprefix('torch.')} matmul ceiling: {ceiling / 1e12:.3f} TFLOP/s measured"
          + (f", {nominal / 1e12:.0f} nominal" if nominal else ""))
    modes = [(False, False), (True, False)] + ([(True, True)] if args.compile else [])
    rows = []
    for label, experiment, profile in () if args.layouts else (MODELS if cuda else CPU_MODELS):
        exp = make_experiment(experiment, profile)
        cfg, batch = exp.model, args.batch or exp.schedule.batch_size
        base = None
        for fast, comp in modes:
            try:
                r = training_throughput(cfg, device, batch_size=batch, iters=iters, warmup=warmup, fast=fast,
                                        bf16=fast and prec.bf16, compile=comp, name=label)
            except Exception as e:  # noqa: BLE001 - torch.compile fails in many ways (no compiler, unsupported op)
                if not comp:
                    raise
                print(f"{label:<30} torch.compile failed, left out: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
                rows.append({"model": label, "mode": "compiled", "error": f"{type(e).__name__}: {e}"[:500]})
                continue
            base = base or r.images_per_s
            frac = r.train_flops / ceiling if ceiling else None
            rows.append({**r.__dict__, "train_tflops": r.train_flops / 1e12, "speedup": r.images_per_s / base,
                         "fraction_of_ceiling": frac, "fraction_of_nominal": r.train_flops / nominal if nominal else None})
            print(f"{label:<30} {r.macs / 1e9:6.2f} GMACs/img  {r.mode:<36} {r.images_per_s:9.1f} img/s  "
                  f"{r.train_flops / 1e12:7.3f} TFLOP/s  ×{r.images_per_s / base:4.2f}"
                  + (f"  {100 * frac:5.1f}% of ceiling" if frac else ""), flush=True)
    out = {"device": name, "threads": None if cuda else torch.get_num_threads(), "precision": prec.reason,
           "torch": torch.__version__, "ceiling_flops": ceiling,
           "ceiling_dtype": str(ceiling_dtype).removeprefix("torch."), "nominal_flops": nominal, "rows": rows,
           "git": git_state(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if args.layouts:
        out["layouts"] = []
        for label, experiment, profile in CPU_MODELS[:2]:
            exp = make_experiment(experiment, profile)
            for row in cpu_layouts(exp.model, batch_size=args.batch or exp.schedule.batch_size, iters=max(iters, 20),
                                   bf16=prec.bf16, cores=torch.get_num_threads()):
                out["layouts"].append({"model": label, **row})
                print(f"{label:<30} {row['processes']} process(es) x {row['threads']} thread(s): "
                      f"{row['images_per_s']:7.1f} img/s in all  x{row['ratio']:4.2f}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
