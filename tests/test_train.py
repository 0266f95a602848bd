"""The training engine (lib.engine) and its command line (lib.train): tiny end-to-end runs, the loss, freezing, resume, NaN, CPU budget."""

import json
import math
import re
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lib import checkpoint as ckpt
from lib import train as train_cli
from lib.experiments import PROFILES, config_hash, make_experiment
from lib.models import build_model
from lib.results import load_record
from lib.runner import run_experiment
from lib.data import load_poseset
from lib.data.augment import NO_AUGMENT, DeviceData, make_batch
from lib.engine import NonFiniteLoss, RunOptions, TooSlowForDevice, heatmap_loss, stack_columns, train
from lib.hardware import cpu_native_bf16, resolve_precision

REPO = Path(__file__).resolve().parents[1]


def opts(tmp_path: Path, **kw) -> RunOptions:
    return RunOptions(device="cpu", checkpoint_dir=str(tmp_path / "runs"), progress=False, **kw)


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_tiny_pbn_run_end_to_end(tmp_path, capsys):
    exp = make_experiment("pbn/mi5-d1-w64", "tiny")
    r = train(exp, opts(tmp_path))
    s = exp.schedule
    assert [h["epoch"] for h in r.history] == list(range(1, s.epochs + 1))
    assert r.images == s.epochs * s.iters_per_epoch * s.batch_size and r.images_per_s > 0
    assert all(math.isfinite(h["train_loss"]) and math.isfinite(h["val_loss"]) for h in r.history)
    ev = r.evaluation
    assert ev.hits.shape == ev.evaluated.shape == (16, 16) and ev.pred.shape == (16, 16, 2)
    assert set(ev.table) >= {"Head", "Ank.", "Mean", "Hard"} and 0 <= ev.table["Mean"] <= 100
    # synthetic data knows why a joint is hidden: PBN Fig. 7's self- and other-occlusion tables
    assert ev.occlusion is not None and set(ev.tables) >= {"self_occluded", "other_occluded"}
    assert ((ev.occlusion > 0) == (ev.evaluated & ~ev.visible)).sum() >= 0.9 * ev.evaluated.sum()
    assert r.history[-1]["lr"] == pytest.approx(s.lr * s.gamma)  # the milestone at epoch 1 acted
    final = ckpt.load(r.run_dir / ckpt.FINAL)
    assert states_equal(final["model"], r.model.state_dict())
    assert capsys.readouterr() == ("", "")  # progress=False is silent


@pytest.mark.slow
def test_training_steps_fit_one_fixed_batch():
    """The loss, the model and RMSProp learn: 40 steps on one fixed batch cut its loss by far more than 4×.

    Measured about 6× after 20 steps and 20× after 100 for three seeds; a handful of steps on
    fresh batches (or validation loss over two tiny epochs) differs by rounding between CPUs
    and is no evidence either way.
    """
    exp = make_experiment("pbn/mi5-d1-w64", "tiny")
    ps = load_poseset("synthetic", "train", limit=4, resolution=exp.data.resolution, margin=exp.data.margin)
    data = DeviceData.from_poseset(ps, torch.device("cpu"))
    batch = make_batch(data, torch.arange(4), NO_AUGMENT, exp.model.input_size, torch.Generator().manual_seed(0),
                       exp.data.sigma)
    loss_fn = heatmap_loss(stack_columns(exp, ps.joint_ids), exp.loss_stacks, ps.num_joints, torch.device("cpu"))
    torch.manual_seed(0)
    model = build_model(exp.model).train()
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = loss_fn(model(batch.inputs), batch.targets, batch.weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) / 5 < losses[0] / 4


def test_loss_uses_each_stacks_own_joints_and_masks_missing_ones():
    targets = torch.rand(2, 4, 8, 8)
    weights = torch.tensor([[1.0, 1, 0, 1], [1, 1, 1, 1]])
    out0 = torch.rand(2, 2, 8, 8, requires_grad=True)   # stack 0 predicts columns (3, 1)
    out1 = torch.rand(2, 4, 8, 8, requires_grad=True)   # stack 1 predicts all four
    loss = heatmap_loss([[3, 1], [0, 1, 2, 3]], (0, 1), 4, torch.device("cpu"))([out0, out1], targets, weights)
    w1 = weights[:, :, None, None]
    expected = ((out0 - targets[:, [3, 1]]).square()).mean() + ((out1 - targets).square() * w1).mean()
    assert loss.item() == pytest.approx(expected.item())
    only_last = heatmap_loss([[3, 1], [0, 1, 2, 3]], (1,), 4, torch.device("cpu"))([out0, out1], targets, weights)
    only_last.backward()
    assert out0.grad is None and out1.grad[0, 2].abs().sum() == 0  # unsupervised stack, masked joint


@pytest.mark.slow
def test_kptransfer_frozen_keeps_source_stacks_and_trains_the_rest(tmp_path):
    source = make_experiment("kpt/a-source", "tiny")
    src = train(source, opts(tmp_path)).model.state_dict()
    frozen = make_experiment("kpt/a-frozen", "tiny")
    transfer = make_experiment("kpt/a-transfer", "tiny")
    assert frozen.loss_stacks == (1,) and transfer.loss_stacks == (0, 1) and frozen.freeze_stacks == 1
    r = train(frozen, opts(tmp_path), init_weights=src)
    after = r.model.state_dict()
    kept = [k for k in src if k.startswith(("stem.", "stacks.0."))]
    assert kept and all(torch.equal(after[k], src[k]) for k in kept)  # weights and BN statistics
    trainable = {n for n, p in r.model.named_parameters() if p.requires_grad}
    assert trainable and not any(n.startswith(("stem.", "stacks.0.")) for n in trainable)
    assert any(n.startswith("fusions.0.") for n in trainable)  # the new network's input layer learns
    fresh = build_model(frozen.model).state_dict()
    assert not torch.equal(after["stacks.1.head.out.weight"], fresh["stacks.1.head.out.weight"])
    t = train(transfer, opts(tmp_path), init_weights=src).model
    assert all(p.requires_grad for p in t.parameters())
    assert not torch.equal(t.state_dict()["stacks.0.head.out.weight"], src["stacks.0.head.out.weight"])
    with pytest.raises(ValueError, match="init_weights"):
        train(transfer, opts(tmp_path / "other"))


@pytest.mark.slow
def test_plateau_schedule_keeps_the_best_epoch(tmp_path):
    exp = make_experiment("kpt/b-random", "tiny")
    r = train(exp, opts(tmp_path))
    scores = [h["score"] for h in r.history]
    assert r.selected_epoch == 1 + max(range(len(scores)), key=lambda i: (scores[i], -i))
    assert r.evaluation.table["Mean"] == pytest.approx(scores[r.selected_epoch - 1])


#: A run that dies abruptly (``os._exit``: no cleanup, no ``finally``, as under a kill) once it has
#: taken ``sys.argv[2]`` optimiser steps; the engine's ``after_step`` callback is where it dies.
RESUME_SCRIPT = textwrap.dedent("""
    import os, sys, torch
    torch.set_num_threads(1)
    from dataclasses import replace
    from lib.experiments import PROFILES, config_hash, make_experiment
    from lib.engine import RunOptions, train
    p = PROFILES["tiny"]
    p = replace(p, step=replace(p.step, iters_per_epoch=4))
    exp = make_experiment("pbn/linear", p)
    kill_after = int(sys.argv[2])

    def die(steps):
        if steps >= kill_after:
            os._exit(75)

    train(exp, RunOptions(device="cpu", checkpoint_dir=sys.argv[1], progress=False, checkpoint_every=2),
          after_step=die)
""")


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [3, 7])  # mid-epoch 1 (from scratch), mid-epoch 2 (mid-epoch checkpoint)
def test_killed_run_resumes_to_identical_weights(tmp_path, kill_after):
    p = PROFILES["tiny"]
    p = replace(p, step=replace(p.step, iters_per_epoch=4))
    exp = make_experiment("pbn/linear", p)
    straight = train(exp, opts(tmp_path / "a", checkpoint_every=2))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", RESUME_SCRIPT, str(tmp_path / "b" / "runs"), str(kill_after)],
                            cwd=REPO, env=env, capture_output=True, text=True)
    assert killed.returncode == 75, killed.stderr
    state = ckpt.load(next((tmp_path / "b" / "runs").iterdir()) / ckpt.LAST)
    assert (state["epoch"], state["iteration"]) == ((0, 2) if kill_after == 3 else (1, 2))
    resumed = train(exp, opts(tmp_path / "b", checkpoint_every=2))
    assert states_equal(straight.model.state_dict(), resumed.model.state_dict())
    strip = lambda h: [{k: v for k, v in e.items() if "seconds" not in k} for e in h]  # noqa: E731
    assert strip(straight.history) == strip(resumed.history)
    assert (straight.evaluation.hits == resumed.evaluation.hits).all()


@pytest.mark.slow
def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    p = PROFILES["tiny"]
    p = replace(p, step=replace(p.step, epochs=3, milestones=(1,), gamma=1e30))  # lr explodes in epoch 2
    exp = make_experiment("pbn/linear", p)
    with pytest.raises(NonFiniteLoss, match="last good checkpoint"):
        train(exp, opts(tmp_path))
    state = ckpt.load(next((tmp_path / "runs").iterdir()) / ckpt.LAST)
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["model"].values()
                                       if v.is_floating_point())


def test_cpu_refuses_a_gpu_profile_before_loading_data(tmp_path):
    exp = make_experiment("pbn/mi5-d1-w64", "book", dataset="mpii")
    with pytest.raises(TooSlowForDevice, match="--allow-slow"):
        train(exp, opts(tmp_path, data_root=str(tmp_path / "no-data-here")))


def test_bad_options_fail_clearly(tmp_path):
    exp = make_experiment("pbn/linear", "tiny")
    with pytest.raises(ValueError, match="unknown precision"):
        train(exp, opts(tmp_path, precision="fp16"))


#: ``python -m lib.train`` with one change: after its first checkpoint is written the process
#: says so and blocks, so that the test's SIGKILL always lands mid-run (never after the end).
BLOCK_AFTER_FIRST_CHECKPOINT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from lib import checkpoint as ckpt
    from lib.train import main
    save = ckpt.save_atomic
    def save_then_block(*args, **kw):
        save(*args, **kw)
        Path(sys.argv[1]).touch()
        time.sleep(600)
    ckpt.save_atomic = save_then_block
    main(sys.argv[2:])
""")


@pytest.mark.slow
def test_the_same_command_resumes_after_sigkill(tmp_path):
    """``python -m lib.train`` killed (SIGKILL, after its first checkpoint) and run again ends as if never killed."""
    exp = make_experiment("pbn/linear", "tiny", seed=2)
    straight = run_experiment(exp, opts(tmp_path / "a"), results_dir=tmp_path / "a" / "results")
    args = ["pbn/linear", "--profile", "tiny", "--seed", "2", "--quiet", "--json", "--results",
            str(tmp_path / "b" / "results"), "--checkpoint-dir", str(tmp_path / "b" / "runs"), "--checkpoint-every", "1"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    marker = tmp_path / "checkpointed"
    proc = subprocess.Popen([sys.executable, "-c", BLOCK_AFTER_FIRST_CHECKPOINT, str(marker), *args], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists(), f"no checkpoint was written: {proc.poll()} {proc.stderr.read() if proc.poll() else ''}"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert (tmp_path / "b" / "runs" / config_hash(exp) / ckpt.LAST).exists()
    assert not list((tmp_path / "b").rglob("*.json")), "a killed run left a record"
    again = subprocess.run([sys.executable, "-m", "lib.train", *args], cwd=REPO, env=env, capture_output=True,
                           text=True, check=True)
    out = json.loads(again.stdout.splitlines()[-1])
    assert out["cached"] is False and out["metrics"] == straight.metrics
    resumed = load_record(out["record"])
    assert (resumed.arrays()["pred"] == straight.arrays()["pred"]).all()
    assert list(resumed.history["train_loss"]) == list(straight.history["train_loss"])


def test_precision_auto_follows_the_cpus_native_bf16():
    cpu = torch.device("cpu")
    assert not resolve_precision("auto", cpu, flags=frozenset({"avx2", "fma"})).bf16
    assert "no native bf16" in resolve_precision("auto", cpu, flags=frozenset({"avx2"})).reason
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        assert resolve_precision("auto", cpu, flags=frozenset({"avx512f", "avx512_bf16"})).bf16
        assert resolve_precision("auto", cpu, flags=frozenset({"amx_bf16"})).bf16
    assert resolve_precision("bf16", cpu).bf16 and not resolve_precision("fp32", torch.device("cuda")).bf16
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("fp16", cpu)


@pytest.mark.skipif(cpu_native_bf16() is None, reason="this CPU has no native bf16 (amx_bf16, avx512_bf16 or bf16 "
                    "flag): precision auto keeps fp32 here, so the bf16 path is not used")
def test_cpu_bf16_path_stays_close_to_fp32():
    """The CPU fast path (bf16 autocast, channels-last) computes the same loss and heatmaps as fp32.

    bf16 keeps 8 bits of mantissa (relative error ~0.4% per rounding); through two stacks the
    heatmaps stay within 3% of their range and the loss within 2% (measured: 0.6% and 0.07%).
    """
    exp = make_experiment("pbn/mi5-d1-w64", "tiny")
    ps = load_poseset("synthetic", "train", limit=4, resolution=exp.data.resolution, margin=exp.data.margin)
    batch = make_batch(DeviceData.from_poseset(ps, torch.device("cpu")), torch.arange(4), NO_AUGMENT,
                       exp.model.input_size, torch.Generator().manual_seed(0), exp.data.sigma)
    loss_fn = heatmap_loss(stack_columns(exp, ps.joint_ids), exp.loss_stacks, ps.num_joints, torch.device("cpu"))
    torch.manual_seed(0)
    model = build_model(exp.model).eval()
    with torch.no_grad():
        ref = model(batch.inputs)
        model.to(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = model(batch.inputs.contiguous(memory_format=torch.channels_last))
    for r, f in zip(ref, fast):
        assert f.dtype == torch.bfloat16
        assert (f.float() - r).abs().max() <= 0.03 * (r.max() - r.min())
    lr, lf = loss_fn(ref, batch.targets, batch.weights), loss_fn(fast, batch.targets, batch.weights)
    assert abs(lf.item() - lr.item()) <= 0.02 * lr.item()


@pytest.mark.slow
def test_parallel_sweep_streams_each_runs_epoch_lines(tmp_path, monkeypatch, capsys):
    """``--all --parallel 2`` runs each experiment in its own process and passes its epoch lines on;
    resumed, it loads the finished records in its own process (no child to start per record)."""
    args = ["--profile", "tiny", "--all", "--experiments", "pbn/linear,pbn/deep", "--seeds", "0", "--parallel", "2",
            "--results", str(tmp_path / "results"), "--checkpoint-dir", str(tmp_path / "runs"), "--json"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "lib.train", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    out = json.loads(lines[-1])
    assert out["runs"] == 2 and out["trained"] == 2 and not out["failed"]
    epochs = make_experiment("pbn/linear", "tiny").schedule.epochs
    for name in ("pbn/linear", "pbn/deep"):
        assert any(line.startswith(f"{name} s0 epoch {epochs}/{epochs}:") for line in lines), proc.stdout
        assert any(line.startswith(f"{name} seed 0 (trained): Mean") for line in lines), proc.stdout
    assert len(list((tmp_path / "results").rglob("*.json"))) == 2

    def no_child(exp, args):
        raise AssertionError(f"{exp.name} has a record: it should load without a child process")
    monkeypatch.setattr(train_cli, "run_in_child", no_child)
    assert train_cli.main(args) == 0
    again = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert again["runs"] == 2 and again["cached"] == 2 and not again["failed"]


def test_sweep_progress_line_says_when_and_how_long_is_left(capsys):
    """Each finished run prints its position and the UTC time; the estimate needs a trained run and
    scales the remaining runs' MACs by the MACs per second of the runs trained so far."""
    exps = [make_experiment("pbn/linear", "tiny", seed=s) for s in (0, 1, 2)]
    progress = train_cli.SweepProgress(exps, parallel=1)
    progress.finished(exps[0], "loaded", None)
    line = capsys.readouterr().out
    assert re.match(r"\[1/3\] \d{4}-\d\d-\d\d \d\d:\d\d UTC pbn/linear ", line), line
    assert "2 runs left, no run trained yet to time" in line
    progress.finished(exps[1], "trained", 360.0)  # same model and schedule: each remaining run takes as long
    line = capsys.readouterr().out
    assert line.startswith("[2/3] ") and "1 run left, about 0.1 h left" in line, line


def test_deadline_starts_a_run_only_if_the_measured_speed_says_it_ends_in_time(capsys):
    """``--deadline``: before any run is timed every run starts; after, a run whose estimated wall
    time (its MACs at the measured speed) would pass the deadline is left, and said so."""
    exps = [make_experiment("pbn/linear", "tiny", seed=s) for s in (0, 1, 2)]
    assert train_cli.SweepProgress(exps, 1).too_late(exps[1]) is None  # no deadline
    progress = train_cli.SweepProgress(exps, 2, deadline=600.0)
    assert progress.too_late(exps[1]) is None  # nothing timed yet: no guess
    progress.finished(exps[0], "trained", 200.0)  # ~200 s a run from now on
    assert progress.too_late(exps[1]) is None
    progress.start -= 500  # 500 s into the sweep: 200 more would pass 600
    why = progress.too_late(exps[2])
    assert why and why.startswith("not started: about 3.3 min, 1.7 min left"), why


def test_a_unit_left_by_the_deadline_is_left_whole(tmp_path, monkeypatch):
    """A KPTransfer target whose source was not started is not started either (it would train the
    source in its own process, past the deadline)."""
    source, target = (make_experiment(n, "tiny") for n in ("kpt/a-source", "kpt/a-transfer"))
    args = train_cli.parser().parse_args(["--profile", "tiny", "--all", "--results", str(tmp_path)])
    progress = train_cli.SweepProgress([source, target], 1, deadline=1.0)
    monkeypatch.setattr(progress, "too_late", lambda exp: "not started: late" if exp is source else None)
    monkeypatch.setattr(train_cli, "run_one", lambda exp, args: pytest.fail(f"{exp.name} started"))
    assert train_cli.run_unit([source, target], args, progress) == ([], [])
    assert progress.not_started == ["kpt/a-source synthetic seed 0", "kpt/a-transfer synthetic seed 0"]
    assert len(progress.left) == 2  # still left: the time-to-the-end estimate keeps counting them
