"""Data-parallel training (DistributedDataParallel) with two CPU processes and the gloo backend.

The engine reads its rank from the environment exactly as under ``torchrun``; here two
processes are spawned directly so the test needs no launcher. As under ``torchrun``, the parent
hosts the rendezvous store (``TORCHELASTIC_USE_AGENT_STORE``) on a port the OS picks and keeps
bound for the whole test, so no other process can take the port between choosing and using it.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lib import checkpoint as ckpt
from lib.experiments import make_experiment
from lib.models import build_model
from lib.train import RunOptions, train


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE="2", TORCHELASTIC_USE_AGENT_STORE="True")
    torch.set_num_threads(1)
    exp = make_experiment("pbn/linear", "tiny")
    r = train(exp, RunOptions(device="cpu", checkpoint_dir=str(Path(out) / "runs"), progress=False))
    params = {n: p.detach().clone() for n, p in r.model.named_parameters()}
    torch.save({"params": params, "history": r.history, "evaluated": r.evaluation is not None,
                "images": r.images, "world": r.world_size}, Path(out) / f"rank{rank}.pt")
    dist.destroy_process_group()


@pytest.mark.slow
def test_two_cpu_processes_train_identical_weights(tmp_path):
    store = dist.TCPStore("127.0.0.1", 0, 2, is_master=True, timeout=timedelta(seconds=120), wait_for_workers=False)
    mp.spawn(_worker, args=(store.port, str(tmp_path)), nprocs=2, join=True)
    del store
    r0, r1 = (torch.load(tmp_path / f"rank{i}.pt", weights_only=True) for i in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["params"].keys() == r1["params"].keys()
    assert all(torch.equal(r0["params"][k], r1["params"][k]) for k in r0["params"])  # gradients were averaged
    exp = make_experiment("pbn/linear", "tiny")
    torch.manual_seed(exp.seed)
    fresh = dict(build_model(exp.model).named_parameters())  # the engine's initial weights
    assert any(not torch.equal(r0["params"][k], fresh[k].detach()) for k in fresh)  # and they trained
    losses = [[h["train_loss"] for h in r["history"]] for r in (r0, r1)]
    assert losses[0] == losses[1] and all(torch.isfinite(torch.tensor(losses[0])))  # all-reduced: the same
    assert r0["evaluated"] and not r1["evaluated"]  # only rank 0 evaluates
    assert "val_Mean" in r0["history"][-1] and "val_Mean" not in r1["history"][-1]
    assert r0["images"] == exp.schedule.epochs * exp.schedule.iters_per_epoch * exp.schedule.batch_size
    run = next((tmp_path / "runs").iterdir())
    last = ckpt.load(run / ckpt.LAST)
    assert last["world_size"] == 2 and len(last["aug"]) == 2 and not torch.equal(last["aug"][0], last["aug"][1])
    assert (run / ckpt.FINAL).exists()
