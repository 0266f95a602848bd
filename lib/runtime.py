"""Where and how a run executes: device, precision, ``torchrun`` processes, the CPU budget.

Nothing here changes what is computed, only where and how fast, so none of it enters a
record's hash; the record's provenance says which device and precision produced it.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from lib.experiments import Experiment, make_experiment, sweep
from lib.hardware import NOMINAL_BF16_PEAK
from lib.model_cost import count_macs
from lib.models import ModelConfig, build_model

#: Training throughput of one CPU thread in multiply-accumulates per second (measured: 15-22e9
#: for a 3-stack PBN at 128×128 in fp32 eager; 14e9 for the ``cpu`` profile's 2-stack PBN on an
#: AVX2-only EPYC core); used only to refuse hopeless CPU runs.
CPU_MACS_PER_S_PER_THREAD = 15e9
#: bf16 autocast with channels-last on a CPU with native bf16, against fp32 eager (measured 2.3-2.7×
#: on a Zen 4 pair of cores for the ``cpu`` profile's models; taken lower to stay conservative).
CPU_BF16_SPEEDUP = 2.0
#: A CPU run estimated above this many seconds is refused unless ``allow_slow``. Three hours: every
#: ``cpu`` profile run fits even on one fp32 thread (at most ~2.2 h estimated, the runs of a
#: ``--parallel 2 --threads 1`` sweep on a CPU without native bf16), while a GPU profile's run does
#: not fit even on two bf16 threads (``book``: 4.7 h and more).
CPU_LIMIT_S = 3 * 3600.0
#: People per validation split when ``val_limit`` is None, for the CPU estimate.
VAL_SIZES = {"synthetic": 500, "lspet": 1000, "mpii": 2958}


class TooSlowForDevice(RuntimeError):
    """The run would take far too long on this device (a CPU asked for a GPU profile)."""


@dataclass(frozen=True)
class Distributed:
    """This process's place in a ``torchrun`` launch (rank 0 of 1 without one)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        return cls(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def init_process_group(self, device: torch.device) -> None:
        """Join the launch's process group (NCCL on CUDA, gloo on CPU) unless alone or joined."""
        if self.active and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but CUDA is not available; use --device cpu")
        if device.index is None:
            device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    return device


@functools.lru_cache(maxsize=256)  # a pure function of a frozen config: safe to memoise
def model_macs(cfg: ModelConfig) -> int:
    """Forward multiply-accumulates per image of ``cfg`` (``lib.model_cost.count_macs``), cheaply.

    Counted on PyTorch's ``meta`` device: the forward pass propagates shapes only, so an eight-stack
    model at 256×256 costs no memory and well under a second.
    """
    with torch.device("meta"):
        model = build_model(cfg)
    return count_macs(model, cfg.input_size)


def book_budget(fraction_of_peak: float = 0.10, peak_flops: float = dict(NOMINAL_BF16_PEAK)["H100"]) -> dict[str, float]:
    """The arithmetic behind the ``book`` profile's size: an ESTIMATE until ``lib.bench`` measures.

    Assumptions: an H100 at 989 TFLOP/s dense bf16 peak, training reaching ``fraction_of_peak``
    = 10% of it (hourglasses are BatchNorm-heavy with 128-channel bottlenecks at 32×32 and
    below); a training image costs 3 × forward MACs × 2 FLOP, a validation image 1 ×. The MACs
    are counted here (:func:`model_macs`): the base model, a 3-stack PBN (D = 1, W = 64, five
    groups) at 128×128 with C = 256, and one seed of the whole book sweep in base models' worth
    (the D×W grid's wide branches and the 8-stack comparisons outweigh the cheap 2-stack
    KPTransfer sources; early stopping only lowers it). A run is 16 epochs × 400 iterations × 16
    = 102,400 training images (about 11 passes over LSP Extended's 9,000 training people) and 16
    validations of its 1,000 validation people. The pages ``book/reproducibility.md`` and
    ``book/performance.md`` quote these numbers; a test keeps them equal.
    """
    base = make_experiment("pbn/mi5-d1-w64", "book")
    base_macs = model_macs(base.model)
    sweep_macs = sum(model_macs(e.model) for e in sweep("book", seeds=(0,)))
    train_flop = 3 * 2 * base_macs
    s = base.schedule  # a validation image costs a third of a training image
    images = s.epochs * s.iters_per_epoch * s.batch_size + s.epochs * VAL_SIZES[base.data.dataset] / 3
    rate = peak_flops * fraction_of_peak / train_flop
    seconds = sweep_macs / base_macs * images / rate
    return {"base_gmacs": base_macs / 1e9, "train_gflop_per_image": train_flop / 1e9,
            "base_runs_per_seed": sweep_macs / base_macs, "peak_images_per_s": peak_flops / train_flop,
            "images_per_s": rate, "seconds_per_seed": seconds, "sessions_for_3_seeds": 3 * seconds / 1800}


def estimated_cpu_seconds(exp: Experiment, macs: int, threads: int, bf16: bool = False) -> float:
    """Training (3 × forward) plus validation MACs of the whole run at the assumed CPU rate."""
    s, d = exp.schedule, exp.data
    val = d.val_limit or VAL_SIZES.get(d.dataset, 1000)
    total = macs * (3 * s.epochs * s.iters_per_epoch * s.batch_size + s.epochs * val)
    rate = CPU_MACS_PER_S_PER_THREAD * max(1, threads) * (CPU_BF16_SPEEDUP if bf16 else 1.0)
    return total / rate


def check_budget(exp: Experiment, macs: int, device: torch.device, allow_slow: bool, bf16: bool = False) -> None:
    """Refuse, before any data is loaded, a CPU run estimated to take over :data:`CPU_LIMIT_S`."""
    if device.type != "cpu" or allow_slow:
        return
    seconds = estimated_cpu_seconds(exp, macs, torch.get_num_threads(), bf16)
    if seconds > CPU_LIMIT_S:
        raise TooSlowForDevice(
            f"{exp.name} (profile {exp.profile}) needs ~{seconds / 3600:.1f} h on this CPU "
            f"({macs / 1e9:.2f} GMACs per image, {exp.schedule.epochs} epochs × {exp.schedule.iters_per_epoch} "
            f"iterations × {exp.schedule.batch_size}); run it on a GPU, use --profile smoke, or pass --allow-slow")
