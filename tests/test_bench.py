"""Benchmarks run for real, kept apart from the unit tests: they time things.

:mod:`lib.bench` (training images per second, fp32 eager against the fast path, one process against
one per core) and the synthetic renderer's rate (``python -m lib.data bench``). Each checks that a
timing is produced and is sane, never how fast it is (a wall-clock threshold would fail on a slow
or busy machine).
"""

import math

import numpy as np
import pytest
import torch

from lib.bench import training_throughput
from lib.data import synthetic
from lib.experiments import make_experiment
from lib.hardware import nominal_bf16_peak
from lib.runtime import model_macs


def test_bench_reports_a_rate():
    """The benchmark runs and reports a finite positive rate; how fast it is belongs to ``python -m lib.data bench``,
    not to a test (a wall-clock threshold would fail on a slow or busy machine)."""
    rate = synthetic.bench(n=4)
    assert np.isfinite(rate) and rate > 0


@pytest.mark.slow
def test_bench_times_training_steps_and_knows_gpu_peaks():
    exp = make_experiment("pbn/mi5-d1-w64", "tiny")
    t = training_throughput(exp.model, torch.device("cpu"), batch_size=2, iters=1, warmup=0, fast=False)
    assert t.images_per_s > 0 and t.macs == model_macs(exp.model) and t.train_flops == 6 * t.macs * t.images_per_s
    assert nominal_bf16_peak("NVIDIA H100 80GB HBM3") == 989e12 and nominal_bf16_peak("NVIDIA H100 PCIe") == 756e12
    assert nominal_bf16_peak("Some Future GPU") is None


@pytest.mark.slow
def test_cpu_layouts_time_one_process_and_one_per_core():
    """``lib.bench --layouts``: one 2-thread process against two 1-thread processes, each timed for real."""
    from lib.bench import cpu_layouts

    rows = cpu_layouts(make_experiment("pbn/linear", "tiny").model, batch_size=2, iters=2, bf16=False, cores=2)
    assert [(r["processes"], r["threads"]) for r in rows] == [(1, 2), (2, 1)]
    assert all(math.isfinite(r["images_per_s"]) and r["images_per_s"] > 0 for r in rows)
    assert rows[0]["ratio"] == 1.0 and rows[1]["ratio"] == rows[1]["images_per_s"] / rows[0]["images_per_s"]


def test_the_matmul_ceiling_is_measured_on_a_cpu_too():
    """The CPU's ceiling (fp32 here, small to stay quick) is a finite positive FLOP rate, never a data-sheet guess."""
    from lib.bench import matmul_ceiling

    flops = matmul_ceiling(torch.device("cpu"), torch.float32, n=128, iters=2)
    assert math.isfinite(flops) and flops > 0


def test_the_performance_page_quotes_the_cpu_ceiling_file():
    """book/performance.md's CPU-ceiling paragraph and the README's line: every number is the committed file's, rounded."""
    import json

    from lib.provenance import REPO_ROOT

    name = "results/bench/cpu-fp32-ceiling-2026-12-06.json"
    b = json.loads((REPO_ROOT / name).read_text())
    fast = {r["model"]: r for r in b["rows"] if "channels-last" in r["mode"]}
    pbn, linear, book = (fast[k] for k in ("cpu: 2-stack PBN 64x64", "cpu: 2-stack linear 64x64", "book: 3-stack PBN 128x128"))
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    assert (f"runs at {100 * pbn['fraction_of_ceiling']:.0f}% of the CPU's own fp32 matmul ceiling "
            f"({pbn['train_tflops']:.3f} of {b['ceiling_flops'] / 1e12:.3f} TFLOP/s") in readme
    text = " ".join((REPO_ROOT / "book" / "performance.md").read_text().split())
    for quoted in (f"run at {b['ceiling_flops'] / 1e12:.3f} TFLOP/s (`{name}`)",
                   f"training step does {pbn['train_tflops']:.3f} TFLOP/s",
                   f"{100 * pbn['fraction_of_ceiling']:.0f}% of that ceiling",
                   f"linear baseline {100 * linear['fraction_of_ceiling']:.0f}%",
                   f"`book` model {100 * book['fraction_of_ceiling']:.0f}%"):
        assert quoted in text, quoted


def test_the_performance_page_quotes_the_avx2_layouts_file():
    """book/performance.md's core-sharing numbers for the AVX2-only CPU are the committed file's, rounded."""
    import json

    from lib.provenance import REPO_ROOT

    name = "results/bench/cpu-layouts-fp32-avx2-2026-12-07.json"
    rows = {(r["model"], r["processes"]): r for r in json.loads((REPO_ROOT / name).read_text())["layouts"]}
    linear, pbn = rows[("cpu: 2-stack linear 64x64", 2)], rows[("cpu: 2-stack PBN 64x64", 2)]
    text = " ".join((REPO_ROOT / "book" / "performance.md").read_text().split())
    for quoted in (f"gives ×{linear['ratio']:.2f} and ×{pbn['ratio']:.2f}",
                   f"trains at {pbn['images_per_s']:.1f} images/s in all as two processes ({pbn['images_per_s'] / 2:.1f} each), "
                   f"{rows[('cpu: 2-stack PBN 64x64', 1)]['images_per_s']:.1f} as one (`{name}`)"):
        assert quoted in text, quoted
