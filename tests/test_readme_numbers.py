"""The README's hand-written findings quote committed files: each number is recomputed here from
the record, bench file or model it names, so a replaced record or a changed model cannot leave
the README quoting what no longer is (the findings block between its markers has its own test)."""

import json
from pathlib import Path

import numpy as np
import pytest

from lib.joints import MI5_GROUPS
from lib.model_cost import table6_parameters
from lib.models import ModelConfig
from lib.runtime import model_macs

ROOT = Path(__file__).resolve().parent.parent
README = " ".join((ROOT / "README.md").read_text().split())


def _record(pattern: str) -> dict:
    (path,) = sorted(ROOT.glob(f"results/{pattern}"))
    return json.loads(path.read_text())


def _speedups(name: str) -> tuple[dict, list[float]]:
    """Images/s by (model, mode), and the uncompiled fast path's speed-ups over fp32 eager."""
    rows = json.loads((ROOT / "results" / "bench" / name).read_text())["rows"]
    fast = [r["speedup"] for r in rows if r["mode"] != "fp32 eager" and "compiled" not in r["mode"]]
    return {(r["model"], r["mode"]): r["images_per_s"] for r in rows}, fast


def test_how_much_a_cpu_learns():
    s0 = _record("cpu/lspet/pbn-linear-s0-*.json")["metrics"]
    mean3 = np.mean([_record(f"cpu/lspet/pbn-linear-s{s}-*.json")["metrics"]["Mean"] for s in (0, 1, 2)])
    assert (f"reaches **{s0['Mean']:.1f}% PCK@0.2** (seed 0; {mean3:.1f} over seeds 0-2; mean over joints; "
            f"head {s0['Head']:.1f}, wrists {s0['Wri.']:.1f}, ankles {s0['Ank.']:.1f})") in README
    probe = _record("cpu-128/lspet/pbn-linear-s0-*.json")["metrics"]
    assert f"(probe profile `cpu-128`) reaches {probe['Mean']:.1f}%" in README


def test_the_cpu_fast_path():
    ips, fast = _speedups("cpu-2026-12-02.json")
    linear, book = "cpu: 2-stack linear 64x64", "book: 3-stack PBN 128x128"
    assert (f"trains {min(fast):.2f}-{max(fast):.2f}× faster than fp32 eager on an AMD EPYC (Zen 4, AVX-512 BF16, "
            f"no AMX; 2 threads): {ips[linear, 'bf16 channels-last']:.0f} against {ips[linear, 'fp32 eager']:.0f} "
            f"images/s for the `cpu` linear baseline, {ips[book, 'bf16 channels-last']:.1f} against "
            f"{ips[book, 'fp32 eager']:.1f} for the `book` model") in README
    ips, fast = _speedups("cpu-fp32-2026-12-03.json")
    assert (f"channels-last alone is {min(fast):.2f}-{max(fast):.2f}× faster than fp32 eager "
            f"({ips[linear, 'fp32 channels-last (no native bf16)']:.0f} against {ips[linear, 'fp32 eager']:.0f} "
            "images/s for the `cpu` linear baseline") in README


def test_model_size():
    """Table 6's parameter counts as ``table6_parameters`` counts them, and the MACs of the same models."""
    counts = table6_parameters()["ours"]
    macs = {head: model_macs(ModelConfig(num_joints=16, stacks=8, channels=256, head=head, input_size=256,
                                         groups=MI5_GROUPS if head == "pbn" else (), depth=1, width=64)) / 1e9
            for head in ("pbn", "deep")}
    assert (f"Our eight-stack PBN has {counts['Ours (8 stacks)']:,} parameters (paper: 26.69M) and its deep baseline "
            f"{counts['Deep BS (8 stacks)']:,} (paper: 27.22M); {macs['pbn']:.1f} and {macs['deep']:.1f} GMACs "
            "per 256×256 image") in README
