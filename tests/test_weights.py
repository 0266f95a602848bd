"""lib.weights: shipped fp16 weights keep a model's predictions, are found by lib.inference, carry their
provenance and protocol scores, and refuse what is not a finished run's own weights."""

import json
import shutil

import numpy as np
import pytest
import torch

from lib import checkpoint as ckpt
from lib import inference as I
from lib import weights as W
from lib.errors import DataFileError
from lib.evaluate import evaluate
from lib.experiments import config_hash, make_experiment
from lib.models import build_model

NAME = "pbn/mi5-d1-w64"
#: Validation people for the round trip: more than the run's 16, so that agreement is measured on many joints.
PEOPLE = 200


@pytest.fixture(scope="module")
def run(tiny_runs):
    """A finished ``tiny`` run (the session's; fp32) and another one whose weights are not its."""
    tiny_runs.record(NAME)
    tiny_runs.record("pbn/deep")
    return {"exp": tiny_runs.experiment(NAME), "other": tiny_runs.experiment("pbn/deep"), **tiny_runs.dirs}


@pytest.fixture(scope="module")
def shipped(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("weights")
    path = W.export(run["exp"], checkpoint_dir=run["runs"], results_dir=run["results"], out_dir=out,
                    cache_dir=run["packs"])
    return {"out": out, "path": path}


def _export(run, **kw):
    return W.export(run["exp"], **{"checkpoint_dir": run["runs"], "results_dir": run["results"], "protocols": False,
                                   **kw})


def test_commands_default_to_the_shipped_run_that_fits_what_was_given(tmp_path):
    """``lib.predict`` / ``lib.inference eval`` without --profile/--seed use shipped weights: real photos first."""
    for profile, dataset, seed in (("cpu", "synthetic-mpii", 3), ("cpu", "lspet", 4), ("cpu", "lspet", 3),
                                   ("book", "lspet", 0)):
        name = f"{NAME.replace('/', '-')}-s{seed}-00000000"
        (tmp_path / profile / dataset).mkdir(parents=True, exist_ok=True)
        (tmp_path / profile / dataset / f"{name}.pt").write_bytes(b"")
        (tmp_path / profile / dataset / f"{name}.json").write_text(json.dumps(
            {"format": W.FORMAT, "experiment": NAME, "profile": profile, "dataset": dataset, "seed": seed}))
    assert W.default_run(NAME, out_dir=tmp_path) == ("book", "lspet", 0)
    assert W.default_run(NAME, "cpu", out_dir=tmp_path) == ("cpu", "lspet", 3)
    assert W.default_run(NAME, dataset="synthetic-mpii", out_dir=tmp_path) == ("cpu", "synthetic-mpii", 3)
    assert W.default_run(NAME, seed=4, out_dir=tmp_path) == ("cpu", "lspet", 4)
    # nothing shipped fits: the smoke profile's seed 0, or what was given
    assert W.default_run(NAME, "smoke", out_dir=tmp_path) == ("smoke", None, 0)
    assert W.default_run("pbn/deep", out_dir=tmp_path) == ("smoke", None, 0)
    assert W.default_run(NAME, "cpu", seed=9, out_dir=tmp_path) == ("cpu", None, 9)
    assert W.default_run(NAME, seed=9, out_dir=tmp_path) == ("smoke", None, 9)


# ---------------------------------------------------------------------------------------------
# what fp16 keeps


@pytest.mark.slow
def test_fp16_weights_keep_the_models_predictions(run, shipped):
    exp = run["exp"]
    _, fp32, _ = I.load_model(exp, checkpoint_dir=run["runs"])
    _, fp16, used = I.load_model(weights=shipped["path"], results_dir=run["results"])
    assert used == shipped["path"]
    ps = I.load_split(exp, limit=PEOPLE, cache_dir=run["packs"])
    a, b = evaluate(fp32, exp, ps, "single"), evaluate(fp16, exp, ps, "single")
    mask = a.evaluated
    agreement = float((a.hits[mask] == b.hits[mask]).mean())
    # a tiny model hits little, so hits alone would agree trivially: its flat heatmaps' argmax is the
    # hard case for rounding, and the decoded location itself must stay put almost everywhere
    same_place = float((a.pred == b.pred).all(-1)[mask].mean())
    print(f"fp16 round trip: hits agree on {agreement:.2%}, locations on {same_place:.2%} of {int(mask.sum())} "
          f"joints; Mean {a.table['Mean']:.2f} vs {b.table['Mean']:.2f}")
    assert mask.sum() > 1000 and agreement >= 0.995 and same_place >= 0.99
    assert abs(a.table["Mean"] - b.table["Mean"]) <= 0.5
    # the rounding is fp16's and no more: every weight within half an fp16 step of the original
    original = ckpt.read(I.weights_path(exp, run["runs"]))["model"]
    for key, value in W.load(shipped["path"]).items():
        assert value.dtype == original[key].dtype
        if value.is_floating_point():
            assert torch.equal(value, original[key].half().float()), key


@pytest.mark.slow
def test_the_file_is_fp16_with_its_provenance_and_protocol_scores(run, shipped):
    exp, path = run["exp"], shipped["path"]
    assert path == W.weights_file(exp, shipped["out"]) == W.find(exp, shipped["out"])
    assert path.relative_to(shipped["out"]).as_posix() == f"tiny/synthetic/pbn-mi5-d1-w64-s0-{config_hash(exp)[:8]}.pt"
    raw = torch.load(path, weights_only=True)
    assert {v.dtype for v in raw["model"].values() if v.is_floating_point()} == {torch.float16}
    assert set(raw) == {"format", "hash", "epoch", "dtype", "model"}  # no optimiser, no history
    info = W.meta(path)
    record = json.loads((run["results"] / "tiny" / "synthetic" / path.with_suffix(".json").name).read_text())
    assert info["hash"] == config_hash(exp) == record["hash"] and info["epoch"] == record["selected_epoch"]
    assert (info["experiment"], info["profile"], info["dataset"], info["seed"]) == (NAME, "tiny", "synthetic", 0)
    assert info["bytes"] == path.stat().st_size <= W.MAX_BYTES
    assert info["record"]["metrics"]["Mean"] == record["metrics"]["Mean"]
    assert info["record"]["git"] == record["provenance"]["git"]
    scores = info["protocols"]["scores"]
    assert set(scores) == set(W.PROTOCOL_ORDER) and info["protocols"]["people"] == exp.data.val_limit
    # the run's own people and fp32 weights in the record; fp16 weights here: the same score but for rounding
    assert abs(scores["single"]["Mean"] - record["metrics"]["Mean"]) <= 1.0


@pytest.mark.slow
def test_load_model_falls_back_to_shipped_weights_and_says_so(run, shipped, tmp_path, capsys):
    exp = run["exp"]
    got, model, path = I.load_model(exp, checkpoint_dir=tmp_path, weights_dir=shipped["out"])
    assert got == exp and path == shipped["path"] and not model.training
    assert I.describe_weights(path).startswith("shipped fp16 weights")
    assert I.describe_weights(I.weights_path(exp, run["runs"])).startswith("run weights")
    (entry,) = [e for e in I.list_runs(run["results"], tmp_path, weights_dir=shipped["out"]) if e.experiment == NAME]
    assert entry.shipped and entry.weights_exist and entry.weights == shipped["path"]
    with pytest.raises(FileNotFoundError, match="none shipped for this profile, dataset and seed; shipped "
                                                "weights of it: `--profile tiny --dataset synthetic --seed 0`"):
        I.load_model(make_experiment(NAME, "tiny", seed=5), checkpoint_dir=tmp_path, weights_dir=shipped["out"])
    assert W.main(["list", "--out-dir", str(shipped["out"])]) == 0
    assert NAME in capsys.readouterr().out


@pytest.mark.slow
def test_protocol_table_reads_the_cached_scores(run, shipped):
    table = W.protocol_table("tiny", out_dir=shipped["out"])
    assert list(table["protocol"]) == list(W.PROTOCOL_ORDER)
    assert set(table["experiment"]) == {NAME} and (table["people"] == run["exp"].data.val_limit).all()
    single = table.set_index("protocol").loc["single"]
    assert single["check"] == pytest.approx(single["Mean"] - single["record_mean"])
    assert table.set_index("protocol")["check"].drop("single").isna().all()
    assert {"Mean", "Hard", "Head", "hash", "record_commit", "sha256", "file"} <= set(table.columns)


@pytest.mark.slow
def test_a_damaged_shipped_file_is_a_one_line_error(shipped, tmp_path):
    copy = tmp_path / shipped["path"].name
    shutil.copy(shipped["path"], copy)
    shutil.copy(W.sidecar(shipped["path"]), W.sidecar(copy))
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match="sha256"):
        W.load(copy)


# ---------------------------------------------------------------------------------------------
# refusals


def test_no_record_is_refused_with_the_training_command(tmp_path, capsys):
    rc = W.main(["export", NAME, "--profile", "tiny", "--dataset", "synthetic", "--seed", "0",
                 "--results", str(tmp_path / "results"), "--out-dir", str(tmp_path / "w")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "no record" in err and f"python -m lib.train {NAME} --profile tiny --dataset synthetic --seed 0" in err
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_no_final_weights_is_refused(run, tmp_path):
    with pytest.raises(FileNotFoundError, match="no .*final.pt.*--checkpoint-dir"):
        _export(run, checkpoint_dir=tmp_path / "runs", out_dir=tmp_path / "w")
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_weights_of_another_run_are_refused(run, tmp_path):
    runs = tmp_path / "runs"
    folder = ckpt.run_folder(config_hash(run["exp"]), runs)
    folder.mkdir(parents=True)
    shutil.copy(I.weights_path(run["other"], run["runs"]), folder / ckpt.FINAL)  # pbn/deep's in mi5's folder
    with pytest.raises(ValueError, match="not of the record"):
        _export(run, checkpoint_dir=runs, out_dir=tmp_path / "w")
    saved = ckpt.read(I.weights_path(run["exp"], run["runs"]))
    ckpt.save_atomic(dict(saved, epoch=saved["epoch"] + 7), folder / ckpt.FINAL)  # retrained after its record
    with pytest.raises(ValueError, match="selected epoch"):
        _export(run, checkpoint_dir=runs, out_dir=tmp_path / "w")
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_a_file_over_the_limit_is_refused(run, tmp_path, monkeypatch):
    monkeypatch.setattr(W, "MAX_BYTES", 10_000)
    with pytest.raises(ValueError, match="over the 10,000-byte limit"):
        _export(run, out_dir=tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_no_shipped_weights_is_an_empty_table_with_a_reason(tmp_path):
    table = W.protocol_table("cpu", out_dir=tmp_path)
    assert table.empty and {"protocol", "Mean", "Hard", "record_mean"} <= set(table.columns)
    assert "python -m lib.weights export" in table.attrs["reason"]


# ---------------------------------------------------------------------------------------------
# the models that ship fit


@pytest.mark.parametrize("dataset", ["lspet", "synthetic-mpii"])
@pytest.mark.parametrize("name", ["pbn/mi5-d1-w64", "pbn/deep"])
def test_the_cpu_models_that_ship_fit_in_the_limit(name, dataset):
    exp = make_experiment(name, "cpu", dataset, 3)
    state = build_model(exp.model).state_dict()
    size = len(W.fp16_bytes({"hash": config_hash(exp), "epoch": 24, "model": state}))
    floats = sum(v.numel() for v in state.values() if v.is_floating_point())
    assert 2 * floats < size <= W.MAX_BYTES  # two bytes a number, plus the container's overhead
    assert np.isclose(size, 2 * floats, rtol=0.15)
