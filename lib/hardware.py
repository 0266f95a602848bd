"""What the compute device is and what it can do: its name, native bf16, and its bf16 peak.

The lowest layer of the run-time code: provenance, the engine's precision choice and the
benchmark all read these facts, and nothing here imports the rest of ``lib``.

bf16 on a CPU pays only where the CPU multiplies bf16 natively: Intel's AMX (``amx_bf16``) or
AVX-512 BF16 (``avx512_bf16``: Cooper Lake, Sapphire Rapids and later, AMD Zen 4 and later), or
Arm's BF16 extension (``bf16``). Elsewhere oneDNN emulates bf16 with fp32 arithmetic plus
conversions, slower than plain fp32, so ``precision auto`` keeps fp32 there.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

import torch

#: Dense bf16 tensor-core peaks in FLOP/s from the vendors' data sheets, by device-name substring
#: (first match wins, so the PCIe and NVL variants come before the plain name).
NOMINAL_BF16_PEAK: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756e12), ("H100 NVL", 835e12), ("H100", 989e12), ("H200", 989e12), ("GH200", 989e12),
    ("B200", 2250e12), ("A100", 312e12), ("L40S", 362e12), ("L40", 181e12), ("L4", 121e12), ("A10", 125e12),
    ("RTX 4090", 165e12), ("RTX 3090", 71e12), ("V100", 125e12), ("T4", 65e12),
)

#: CPU feature flags (``/proc/cpuinfo``) that mean native bf16 multiplication.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")


def nominal_bf16_peak(device_name: str) -> float | None:
    """The data-sheet dense bf16 peak of a GPU, or None when the name is not known."""
    for key, flops in NOMINAL_BF16_PEAK:
        if key in device_name:
            return flops
    return None


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "cpu"


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (x86 ``flags``, Arm ``Features``); empty where unknown."""
    for line in _cpuinfo():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def device_name(device: torch.device | str) -> str:
    """A human-readable name of the compute device (GPU model, or the CPU's)."""
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()


@dataclass(frozen=True)
class Precision:
    """The arithmetic a run uses, and why it was chosen (written into records and printed)."""

    bf16: bool
    reason: str

    @property
    def name(self) -> str:
        return "bf16" if self.bf16 else "fp32"


def cpu_native_bf16(flags: frozenset[str] | None = None) -> str | None:
    """The flag that gives this CPU native bf16 (``amx_bf16``, ...), or None.

    Also requires PyTorch's oneDNN to have bf16 kernels for this CPU.
    """
    flags = cpu_flags() if flags is None else flags
    found = next((f for f in NATIVE_BF16_FLAGS if f in flags), None)
    if found is None:
        return None
    try:
        return found if torch.ops.mkldnn._is_mkldnn_bf16_supported() else None
    except (AttributeError, RuntimeError):
        return None


def resolve_precision(name: str, device: torch.device, flags: frozenset[str] | None = None) -> Precision:
    """``auto``: bf16 autocast on CUDA and on CPUs with native bf16, fp32 elsewhere.

    ``bf16`` forces bf16 autocast (on a CPU without native bf16 it is emulated and slow, but
    correct); ``fp32`` forces plain fp32. ``flags`` overrides the CPU's feature flags (tests).
    """
    if name not in ("auto", "bf16", "fp32"):
        raise ValueError(f"unknown precision {name!r}; choose auto, bf16 or fp32")
    if name == "fp32":
        return Precision(False, "fp32 as asked")
    if name == "bf16":
        return Precision(True, "bf16 autocast as asked")
    if device.type == "cuda":
        return Precision(True, "auto: bf16 autocast on CUDA")
    if device.type != "cpu":
        return Precision(False, f"auto: fp32 on {device.type}")
    native = cpu_native_bf16(flags)
    if native:
        return Precision(True, f"auto: bf16 autocast and channels-last, the CPU multiplies bf16 natively ({native})")
    return Precision(False, "auto: fp32, the CPU has no native bf16 (no amx_bf16, avx512_bf16 or bf16 flag)")
