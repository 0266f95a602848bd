"""The training engine: one loop trains and evaluates every model of both studies.

* Loss: MSE between each supervised stack's heatmaps and its Gaussian targets (intermediate
  supervision, PBN Sec. 3.3, KPTransfer Sec. 3.1), unannotated joints masked, summed over stacks.
  A stack may predict its own joint subset (KPTransfer: S1 then S2).
* Optimiser: RMSProp (PBN Sec. 4.1, KPTransfer Sec. 3.3; PyTorch's defaults α = 0.99, ε = 1e-8
  match Torch7's ``optim.rmsprop`` that both papers used). Schedules: PBN's ×0.1 at set epochs,
  KPTransfer's ÷5 on a validation plateau with early stopping (``lib.experiments.Schedule``).
  An epoch is a set number of iterations over a fresh permutation of the training people.
* Validation after every epoch with BatchNorm in eval mode (``lib.evaluate``); the history of
  loss and PCK per epoch goes into the record.
* Speed on a GPU: data and augmentation on the device, bf16 autocast, channels-last, optional
  ``torch.compile``, no host synchronisation inside an iteration (the loss is accumulated on
  the device and read every ``log_every`` iterations).
* Exact resume: an atomic checkpoint at every epoch end (and every ``checkpoint_every``
  iterations) holds everything the loop depends on (``lib.checkpoint``); the same call after a
  kill continues and ends with identical weights on CPU. A non-finite loss stops the run with
  :class:`NonFiniteLoss` before it can overwrite the last good checkpoint.
* Data parallel: launched by ``torchrun`` (``WORLD_SIZE`` > 1), each process takes its slice of
  every batch, DistributedDataParallel averages gradients, rank 0 evaluates and writes.

``python -m lib.train`` (:mod:`lib.train`) is the command line; :mod:`lib.runner` turns a run into a record.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import Tensor

from lib import checkpoint as ckpt
from lib.data import load_poseset
from lib.data.augment import AUGMENTS, DeviceData, make_batch
from lib.data.poseset import PoseSet
from lib.evaluate import Evaluation, LossFn, evaluate, precision
from lib.experiments import DATASETS, Experiment, config_hash
from lib.model_cost import count_params
from lib.models import build_model, freeze_stacks, trainable_parameters, transfer_stacks
from lib.hardware import Precision, resolve_precision
from lib.runtime import Distributed, TooSlowForDevice, check_budget, model_macs, resolve_device

__all__ = ["NonFiniteLoss", "RunOptions", "TooSlowForDevice", "TrainResult", "heatmap_loss", "train"]


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass(frozen=True)
class RunOptions:
    """How to run (not what: nothing here changes a record's hash).

    Attributes:
        device: ``auto`` (CUDA if available), ``cpu``, ``cuda``, ``cuda:1``...
        precision: ``auto`` (bf16 autocast on CUDA and on CPUs with native bf16, else fp32;
            ``lib.hardware.resolve_precision``), ``bf16`` or ``fp32``.
        channels_last: memory format; None = channels-last everywhere: oneDNN's bf16 convolutions
            need it (21 → 100 images/s on a Zen 4 core pair) and its fp32 ones gain from it too
            (1.13-1.24× on an AVX2-only EPYC pair, ``results/bench/cpu-fp32-2026-12-03.json``).
        compile: ``torch.compile`` the training forward (CUDA; first epoch pays compilation).
        checkpoint_dir: folder of run folders (default ``.cache/runs``); a run's folder is its hash.
        checkpoint_every: also checkpoint every N iterations within an epoch (0: epoch ends only).
        log_every: iterations between host reads of the loss (progress bar, NaN check).
        progress: show a progress bar and one line per epoch (rank 0).
        allow_slow: skip the refusal of CPU runs estimated above ``lib.runtime.CPU_LIMIT_S``.
        threads: ``torch.set_num_threads`` on CPU (None: leave as is).
        data_root, cache_dir: passed to ``lib.data.load_poseset``.
        eval_batch_size: people per validation forward pass.
    """

    device: str = "auto"
    precision: str = "auto"
    channels_last: bool | None = None
    compile: bool = False
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0
    log_every: int = 50
    progress: bool = True
    allow_slow: bool = False
    threads: int | None = None
    data_root: str | None = None
    cache_dir: str | None = None
    eval_batch_size: int = 64


@dataclass
class TrainResult:
    """A finished run. ``evaluation`` (of the selected weights) is None on ranks other than 0."""

    model: torch.nn.Module
    evaluation: Evaluation | None
    history: list[dict]
    selected_epoch: int
    stopped_early: bool
    train_seconds: float
    wall_seconds: float
    images: int
    params: int
    macs: int
    device: torch.device
    precision: Precision
    channels_last: bool
    world_size: int
    run_dir: Path

    @property
    def images_per_s(self) -> float:
        return self.images / self.train_seconds if self.train_seconds > 0 else math.nan


# ---------------------------------------------------------------------------------------------
# Set-up


def load_data(exp: Experiment, opts: RunOptions,
              device: torch.device) -> tuple[PoseSet, DeviceData, PoseSet, DeviceData]:
    """Training and validation people, as PoseSets (ground truth) and on ``device`` (batches)."""
    d = exp.data
    kw = dict(data_root=opts.data_root, resolution=d.resolution, margin=d.margin, cache_dir=opts.cache_dir)
    train_ps = load_poseset(d.dataset, "train", limit=d.train_limit, **kw)
    val_ps = load_poseset(d.dataset, "val", limit=d.val_limit, **kw)
    for ps in (train_ps, val_ps):
        if ps.joint_ids != DATASETS[d.dataset]:
            raise ValueError(f"{d.dataset} data has joints {ps.joint_ids}, the experiments expect "
                             f"{DATASETS[d.dataset]}; rebuild the dataset pack")
    return train_ps, DeviceData.from_poseset(train_ps, device), val_ps, DeviceData.from_poseset(val_ps, device)


def stack_columns(exp: Experiment, joint_ids: tuple[int, ...]) -> list[list[int]]:
    """Dataset columns of each stack's target joints, in the stack's channel order."""
    pos = {j: c for c, j in enumerate(joint_ids)}
    missing = sorted({j for t in exp.stack_targets for j in t} - set(pos))
    if missing:
        raise ValueError(f"{exp.name} predicts MPII joints {missing} that {exp.data.dataset} lacks")
    return [[pos[j] for j in t] for t in exp.stack_targets]


def heatmap_loss(stack_cols: list[list[int]], loss_stacks: tuple[int, ...], num_cols: int,
                 device: torch.device) -> LossFn:
    """Masked MSE summed over the supervised stacks, each against its own joints' targets."""
    index: dict[tuple[int, ...], Tensor | None] = {}
    for s in loss_stacks:
        cols = tuple(stack_cols[s])
        index[cols] = None if cols == tuple(range(num_cols)) else torch.tensor(cols, device=device)

    def loss(outputs: list[Tensor], targets: Tensor, weights: Tensor) -> Tensor:
        total = torch.zeros((), device=targets.device)
        for s in loss_stacks:
            c = index[tuple(stack_cols[s])]
            t, w = (targets, weights) if c is None else (targets.index_select(1, c), weights.index_select(1, c))
            total = total + ((outputs[s].float() - t).square() * w[:, :, None, None]).mean()
        return total

    return loss


def make_scheduler(exp: Experiment, opt: torch.optim.Optimizer):
    s = exp.schedule
    if s.kind == "step":
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(s.milestones), gamma=s.gamma)
    if s.kind == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=s.plateau_factor,
                                                          patience=s.plateau_patience, threshold=0.0,
                                                          threshold_mode="abs")
    raise ValueError(f"unknown schedule kind {s.kind!r}; choose 'step' or 'plateau'")


def epoch_order(exp: Experiment, epoch: int, n: int) -> Tensor:
    """The people drawn in ``epoch``: fresh permutations of ``range(n)`` cut to iterations × batch.

    Seeded by (seed, epoch) alone, so a resumed run draws the same order without saved state.
    """
    g = torch.Generator().manual_seed(exp.seed * 1_000_003 + epoch)
    need = exp.schedule.iters_per_epoch * exp.schedule.batch_size
    return torch.cat([torch.randperm(n, generator=g) for _ in range(-(-need // n))])[:need]


# ---------------------------------------------------------------------------------------------
# The loop


def train(exp: Experiment, opts: RunOptions = RunOptions(), *, init_weights: dict | None = None,
          after_step: Callable[[int], None] | None = None) -> TrainResult:
    """Train ``exp`` (resuming from its checkpoint if there is one) and evaluate the result.

    ``init_weights``: the state dict of ``exp.init``'s finished model, required when ``exp.init``
    is set (KPTransfer transfer / frozen: its first ``exp.init_stacks`` stacks are copied).
    ``after_step``: called after every optimiser step, before any checkpoint of that step, with the
    number of steps this process has run (a test kills the process there to check resuming).
    """
    wall0 = time.perf_counter()
    rank = Distributed.from_env()
    device = resolve_device(opts.device, rank.local_rank)
    rank.init_process_group(device)
    prec = resolve_precision(opts.precision, device)
    bf16 = prec.bf16
    channels_last = True if opts.channels_last is None else opts.channels_last
    if opts.threads and device.type == "cpu":
        torch.set_num_threads(opts.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    s = exp.schedule
    if s.batch_size % rank.world_size:
        raise ValueError(f"batch size {s.batch_size} does not split over {rank.world_size} processes")

    torch.manual_seed(exp.seed)
    model = build_model(exp.model)
    if exp.init is not None:
        if init_weights is None:
            raise ValueError(f"{exp.name} starts from {exp.init.name}'s weights; pass init_weights "
                             "(lib.runner.run_experiment does)")
        source = build_model(exp.init.model)
        source.load_state_dict(init_weights)
        transfer_stacks(model, source, exp.init_stacks)
    freeze_stacks(model, exp.freeze_stacks)
    model.to(device)
    macs = model_macs(exp.model)
    check_budget(exp, macs, device, opts.allow_slow, bf16)
    if channels_last:
        model.to(memory_format=torch.channels_last)

    train_ps, train_data, val_ps, val_data = load_data(exp, opts, device)
    cols = stack_columns(exp, train_ps.joint_ids)
    loss_fn = heatmap_loss(cols, exp.loss_stacks, train_ps.num_joints, device)
    aug = AUGMENTS[exp.data.augment]

    kw = {"foreach": True} if device.type == "cuda" else {}  # RMSprop has no fused kernel
    opt = torch.optim.RMSprop(trainable_parameters(model), lr=s.lr, **kw)
    sched = make_scheduler(exp, opt)
    aug_gen = torch.Generator(device=device).manual_seed(exp.seed * 7919 + rank.rank)
    fwd: torch.nn.Module = model
    if rank.active:
        fwd = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if opts.compile:
        fwd = torch.compile(fwd)

    run_hash = config_hash(exp)  # once per run: names the run folder and is stamped on every checkpoint
    run_dir = ckpt.run_folder(run_hash, opts.checkpoint_dir)
    st = ckpt.LoopState(started=wall0)
    saved = ckpt.load(run_dir / ckpt.LAST, device)
    if saved is not None:
        st.restore(saved, run_hash, model, opt, sched, aug_gen, rank.rank, rank.world_size)

    def save() -> None:
        states = [ckpt.generator_state(aug_gen)]
        if rank.active:
            states = [None] * rank.world_size
            dist.all_gather_object(states, ckpt.generator_state(aug_gen))
        if rank.rank == 0:
            ckpt.save_atomic(st.pack(run_hash, model, opt, sched, states), run_dir / ckpt.LAST)

    def eval_now() -> Evaluation:
        return evaluate(model, exp, val_ps, "flip" if exp.flip_test else "single", data=val_data, loss_fn=loss_fn,
                        batch_size=opts.eval_batch_size, bf16=bf16, channels_last=channels_last)

    show = opts.progress and rank.rank == 0
    bar = _progress(exp, st, show)
    b_local, ran = s.batch_size // rank.world_size, 0
    kept: tuple[int, Evaluation | None] = (-1, None)
    while not st.done:
        order = epoch_order(exp, st.epoch, len(train_data)).to(device)
        model.train()
        t0 = time.perf_counter()
        for it in range(st.iteration, s.iters_per_epoch):
            start = it * s.batch_size + rank.rank * b_local
            batch = make_batch(train_data, order[start:start + b_local], aug, exp.model.input_size, aug_gen,
                               exp.data.sigma)
            inputs = batch.inputs.contiguous(memory_format=torch.channels_last) if channels_last else batch.inputs
            with precision(device, bf16):
                outputs = fwd(inputs)
            loss = loss_fn(outputs, batch.targets, batch.weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            st.loss_sum += loss.detach()
            st.iteration, ran = it + 1, ran + 1
            bar.update(1)
            if after_step is not None:
                after_step(ran)
            if st.iteration == s.iters_per_epoch:
                break
            if st.iteration % opts.log_every == 0:
                bar.set_postfix(loss=f"{_checked_loss(st, rank, exp, run_dir):.3g}", refresh=False)
            if opts.checkpoint_every and st.iteration % opts.checkpoint_every == 0:
                _checked_loss(st, rank, exp, run_dir)
                st.train_seconds += time.perf_counter() - t0
                t0 = time.perf_counter()
                save()
        train_loss = _checked_loss(st, rank, exp, run_dir)
        bar.set_postfix(loss=f"{train_loss:.3g}", refresh=False)
        st.train_seconds += time.perf_counter() - t0
        st.images += s.iters_per_epoch * s.batch_size
        ev = eval_now() if rank.rank == 0 else None
        score = _broadcast(ev.table.get(exp.select_metric, math.nan) if ev else math.nan, rank)
        _end_epoch(st, exp, model, opt, sched, score, train_loss, ev)
        if ev is not None and (s.kind == "step" or st.best_epoch == st.epoch):
            kept = (st.epoch, ev)  # the selected epoch's evaluation, if it is this one
        if show:
            bar.write(_epoch_line(exp, st), file=sys.stdout)
            sys.stdout.flush()  # a background sweep's log shows each epoch as it ends
        save()
    bar.close()

    if exp.schedule.kind == "plateau" and st.best_state is not None:
        model.load_state_dict(st.best_state)
    selected = st.selected_epoch(plateau=s.kind == "plateau")
    if rank.rank != 0:
        evaluation = None
    elif kept[0] == selected:
        evaluation = kept[1]  # same weights, same eval-mode pass: no need to run it again
    else:
        evaluation = eval_now()
    if rank.rank == 0:
        ckpt.save_atomic({"hash": run_hash, "model": model.state_dict(), "epoch": selected},
                         run_dir / ckpt.FINAL)
    if rank.active:
        dist.barrier()  # the final weights exist before any rank looks for them (KPTransfer sources)
    return TrainResult(model=model, evaluation=evaluation, history=st.history, selected_epoch=selected,
                       stopped_early=st.stopped_early, train_seconds=st.train_seconds,
                       wall_seconds=st.wall_now(), images=st.images, params=count_params(model), macs=macs,
                       device=device, precision=prec, channels_last=channels_last,
                       world_size=rank.world_size, run_dir=run_dir)


def _end_epoch(st: ckpt.LoopState, exp: Experiment, model, opt, sched, score: float, train_loss: float,
               ev: Evaluation | None) -> None:
    """Log the epoch, track the best score, step the schedule, decide whether to stop."""
    s = exp.schedule
    st.epoch, st.iteration, st.loss_sum = st.epoch + 1, 0, 0.0
    entry = {"epoch": st.epoch, "lr": opt.param_groups[0]["lr"], "train_loss": train_loss,
             "train_seconds": st.train_seconds, "score": score}
    if ev is not None:
        entry.update({"val_loss": ev.loss, **{f"val_{k}": v for k, v in ev.table.items()}})
        # Per visibility too (val_invisible_Hard, val_self_occluded_Mean, ...), so that claims about
        # occluded joints can be traced over training (lib.gap_curves); "all" is the table above.
        entry.update({f"val_{vis}_{k}": v for vis, table in ev.tables.items() if vis != "all"
                      for k, v in table.items()})
    st.history.append(entry)
    if score > st.best_score:
        st.best_score, st.best_epoch, st.since_best = score, st.epoch, 0
        if s.kind == "plateau":
            st.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    else:
        st.since_best += 1
    if s.kind == "plateau":
        sched.step(score)
    else:
        sched.step()
    st.stopped_early = s.kind == "plateau" and s.early_stop > 0 and st.since_best >= s.early_stop
    st.done = st.stopped_early or st.epoch >= s.epochs


def _checked_loss(st: ckpt.LoopState, rank: Distributed, exp: Experiment, run_dir: Path) -> float:
    """Mean training loss of the epoch so far (one host sync); :class:`NonFiniteLoss` if NaN/inf."""
    total = torch.as_tensor(st.loss_sum, dtype=torch.float32).detach().clone()
    if rank.active:
        dist.all_reduce(total)
        total /= rank.world_size
    value = float(total) / max(1, st.iteration)
    if not math.isfinite(value):
        raise NonFiniteLoss(
            f"{exp.name}: the training loss became {value} in epoch {st.epoch + 1} (by iteration {st.iteration}). "
            f"The last good checkpoint {run_dir / ckpt.LAST} (epoch {st.epoch}) is kept; resuming would repeat this, "
            "so lower the learning rate or check the data (the config, hence the run folder, then changes)")
    return value


def _broadcast(value: float, rank: Distributed) -> float:
    """Rank 0's validation score, for every rank's scheduler and early stopping."""
    if not rank.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _progress(exp: Experiment, st: ckpt.LoopState, show: bool):
    from tqdm import tqdm  # only here: the engine itself does not need it

    s = exp.schedule
    # The bar only on a terminal (a background sweep's log gets the epoch lines, not bar redraws).
    return tqdm(total=s.epochs * s.iters_per_epoch, initial=st.epoch * s.iters_per_epoch + st.iteration,
                desc=exp.name, disable=not (show and sys.stderr.isatty()), dynamic_ncols=True, leave=False)


def _epoch_line(exp: Experiment, st: ckpt.LoopState) -> str:
    h = st.history[-1]
    mean = f"Mean {h['val_Mean']:.1f}, " if exp.select_metric != "Mean" and "val_Mean" in h else ""
    return (f"{exp.name} s{exp.seed} epoch {h['epoch']}/{exp.schedule.epochs}: loss {h['train_loss']:.3g}, "
            f"val loss {h.get('val_loss', math.nan):.3g}, {mean}{exp.select_metric} {h['score']:.1f}, lr {h['lr']:.2g}, "
            f"{h['train_seconds'] / 60:.1f} min")

