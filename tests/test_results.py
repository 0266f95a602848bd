"""The results cache (lib.results, lib.runner): atomic records, reuse, provenance, recomputable metrics."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lib import checkpoint as ckpt
from lib import runner
from lib.data import load_poseset
from lib.errors import DataFileError
from lib.experiments import make_experiment
from lib.metrics import pck_hits, pck_table
from lib.results import load_record, record_path, records, write_record
from lib.runner import run_dir, run_experiment
from lib.train import RunOptions

REPO = Path(__file__).resolve().parents[1]


def opts(tmp_path: Path) -> RunOptions:
    # fp32 pinned: "auto" picks bf16 on CPUs with native bf16, and these tests compare runs bit for bit
    return RunOptions(device="cpu", checkpoint_dir=str(tmp_path / "runs"), progress=False, precision="fp32")


def test_record_path_names_profile_dataset_experiment_seed_and_hash(tmp_path):
    e = make_experiment("kpt/a-frozen", "smoke", "lspet", seed=3)
    p = record_path(e, tmp_path)
    assert p.parent == tmp_path / "smoke" / "lspet"
    assert p.name.startswith("kpt-a-frozen-s3-") and p.suffix == ".json" and len(p.stem.split("-")[-1]) == 8


def test_write_is_atomic_and_complete(tmp_path):
    path = tmp_path / "p" / "d" / "x-s0-00000000.json"

    class Boom:
        def __array__(self, *a, **k):
            raise RuntimeError("killed while writing")

    with pytest.raises(RuntimeError, match="killed"):
        write_record(path, {"experiment": "x"}, {"pred": Boom()})
    assert list(path.parent.iterdir()) == []  # neither a JSON nor a temporary file is left
    write_record(path, {"experiment": "x", "seed": 0, "metrics": {"Mean": float("nan")}},
                 {"hits": np.ones((2, 3), bool)})
    rec = load_record(path)
    assert rec.metrics["Mean"] is None  # strict JSON: nan is stored as null
    assert rec.arrays()["hits"].shape == (2, 3) and oct(path.stat().st_mode & 0o777) == "0o644"
    path.with_suffix(".npz").unlink()
    with pytest.raises(ValueError, match="missing"):
        load_record(path)


@pytest.mark.slow
def test_cache_round_trip_provenance_and_recomputable_metrics(tmp_path, monkeypatch):
    exp = make_experiment("pbn/mi5-d1-w64", "tiny")
    res = tmp_path / "results"
    rec = run_experiment(exp, opts(tmp_path), results_dir=res)
    d = rec.data
    assert rec.path == record_path(exp, res) and rec.path.with_suffix(".npz").exists()
    assert d["experiment"] == exp.name and d["seed"] == 0 and d["config"]["model"]["stacks"] == exp.model.stacks
    assert len(d["history"]) == exp.schedule.epochs and d["model"]["params"] > 0 and d["model"]["macs"] > 0
    last = d["history"][-1]  # every visibility's table each epoch, for lib.gap_curves
    assert last["val_visible_Mean"] == pytest.approx(d["metrics_by_visibility"]["visible"]["Mean"])
    assert {"val_invisible_Hard", "val_self_occluded_Mean", "val_other_occluded_Mean"} <= set(last)
    prov = d["provenance"]
    assert {"git", "device_name", "torch", "numpy", "date"} <= set(prov) and prov["device"] == "cpu"
    assert d["run"]["images_per_s"] > 0 and d["run"]["wall_s"] > 0 and d["run"]["precision"] == "fp32"
    assert d["run"]["memory_format"] == "channels_last"  # the engine default on every device
    assert set(d["per_joint"]) == {"all", "visible", "invisible"} and "l_ankle" in d["per_joint"]["all"]
    # metrics recompute exactly from the stored hits, and from the stored predictions up to float16 rounding
    a = rec.arrays()
    table = pck_table(a["hits"], a["evaluated"], a["joint_ids"].tolist())
    assert all(table[k] == pytest.approx(rec.metrics[k]) for k in table if rec.metrics[k] is not None)
    val = load_poseset("synthetic", "val", resolution=exp.data.resolution, limit=exp.data.val_limit)
    hits, evaluated = pck_hits(a["pred"].astype(np.float64), val.joints, val.annotated, val.norm, d["threshold"])
    assert (evaluated == a["evaluated"]).all() and (hits == a["hits"]).mean() > 0.99

    def no_training(*args, **kwargs):
        raise AssertionError("a cached record must not retrain")

    monkeypatch.setattr(runner, "train", no_training)
    assert run_experiment(exp, opts(tmp_path), results_dir=res).data == d
    monkeypatch.undo()
    again = run_experiment(exp, opts(tmp_path), results_dir=res, force=True)
    assert again.data["provenance"]["date"] >= d["provenance"]["date"]
    assert again.metrics == d["metrics"] and (again.arrays()["pred"] == a["pred"]).all()  # CPU: bit-identical
    df = records("tiny", "synthetic", results_dir=res)
    assert list(df["experiment"]) == [exp.name] and {"Mean", "Hard", "params", "images_per_s"} <= set(df.columns)
    assert records("tiny", "lspet", results_dir=res).empty


@pytest.mark.slow
def test_kptransfer_runs_its_source_first_and_reuses_it(tmp_path):
    res = tmp_path / "results"
    frozen = make_experiment("kpt/a-frozen", "tiny")
    rec = run_experiment(frozen, opts(tmp_path), results_dir=res)
    src = load_record(record_path(frozen.init, res))
    assert src.experiment == "kpt/a-source" and rec.data["config"]["init"]["name"] == "kpt/a-source"
    final = ckpt.load(run_dir(frozen.init, opts(tmp_path)) / ckpt.FINAL)["model"]
    model = ckpt.load(run_dir(frozen, opts(tmp_path)) / ckpt.FINAL)["model"]
    assert all(torch.equal(model[k], final[k]) for k in final if k.startswith(("stem.", "stacks.0.")))
    assert rec.data["model"]["trainable_params"] < rec.data["model"]["params"]
    assert set(rec.data["joint_ids"]) == set(frozen.eval_joints)
    assert "Mean" in rec.metrics and not {"Head", "Sho."} & set(rec.metrics)  # S2 of split (a): limbs only


@pytest.mark.slow
def test_cli_lists_runs_and_reuses(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    listed = subprocess.run([sys.executable, "-m", "lib.train", "--list"], cwd=REPO, env=env, capture_output=True,
                            text=True, check=True).stdout.split()
    assert "pbn/mi5-d1-w64" in listed and "kpt/d-random" in listed and len(listed) == 43
    cmd = [sys.executable, "-m", "lib.train", "kpt/c-source", "--profile", "tiny", "--seed", "1", "--json", "--quiet",
           "--results", str(tmp_path / "r"), "--checkpoint-dir", str(tmp_path / "c")]
    first, second = (json.loads(subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                                               check=True).stdout.splitlines()[-1]) for _ in range(2))
    assert (first["cached"], second["cached"]) == (False, True) and first["metrics"] == second["metrics"]
    assert first["seed"] == 1 and Path(first["record"]).exists()
    bad = subprocess.run([sys.executable, "-m", "lib.train", "pbn/linear", "--profile", "book", "--device", "cpu",
                          "--results", str(tmp_path / "r")], cwd=REPO, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "--allow-slow" in bad.stderr


def test_damaged_record_is_one_error_naming_it(tmp_path, monkeypatch):
    exp = make_experiment("pbn/mi5-d1-w64", "tiny")
    path = write_record(record_path(exp, tmp_path), {"experiment": exp.name, "seed": 0}, {"hits": np.ones((4, 16), bool)})
    path.write_text(path.read_text()[:20])

    def no_training(*args, **kwargs):
        raise AssertionError("a damaged record is reported, not silently retrained over")

    monkeypatch.setattr(runner, "train", no_training)
    with pytest.raises(DataFileError, match=f"{path.name}: is not a readable result record.*delete {path.name} and "
                                            f"{path.with_suffix('.npz').name} .*rerun the experiment"):
        run_experiment(exp, opts(tmp_path), results_dir=tmp_path)


@pytest.mark.slow
def test_damaged_last_checkpoint_is_moved_aside_and_the_run_starts_fresh(tmp_path):
    exp = make_experiment("pbn/mi5-d1-w64", "tiny")
    clean = run_experiment(exp, opts(tmp_path / "clean"), results_dir=tmp_path / "clean")
    folder = run_dir(exp, opts(tmp_path))
    folder.mkdir(parents=True)
    (folder / ckpt.LAST).write_bytes(b"PK\x03\x04" + bytes(300))  # a zip header, then nothing
    with pytest.warns(UserWarning, match="last.pt is not a readable checkpoint.*moved it to last.pt.corrupt"):
        rec = run_experiment(exp, opts(tmp_path), results_dir=tmp_path / "results")
    assert (folder / "last.pt.corrupt").is_file()
    assert rec.metrics == clean.metrics  # a fresh run, as if there had been no checkpoint (CPU: bit-identical)


@pytest.mark.slow
def test_damaged_final_weights_of_a_source_are_retrained(tmp_path):
    res = tmp_path / "results"
    source = make_experiment("kpt/a-source", "tiny")
    run_experiment(source, opts(tmp_path), results_dir=res)
    final = run_dir(source, opts(tmp_path)) / ckpt.FINAL
    good = ckpt.load(final)["model"]
    final.write_bytes(final.read_bytes()[: final.stat().st_size // 2])
    with pytest.warns(UserWarning, match="final.pt is not a readable checkpoint.*moved it to final.pt.corrupt"):
        weights = runner.source_weights(source, opts(tmp_path), res)
    assert {"hash", "model"} <= set(ckpt.read(final))  # readable again (retraining clears the run folder)
    assert all(torch.equal(weights[k], good[k]) for k in good)  # retrained: the same weights (CPU)
