"""lib.recheck: a record rerun from its own commit, compared epoch by epoch.

The slow tests build a throwaway git repository holding a copy of ``lib/`` (one commit), train a
``tiny`` record there with that commit's ``python -m lib.train`` (seconds), and recheck it.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lib import recheck as R

ROOT = Path(__file__).resolve().parent.parent
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]


# --------------------------------------------------------------------------- comparing


def row(epoch: int, **values) -> dict:
    return {"epoch": epoch, "lr": 1e-3, "train_loss": 0.25, "score": 40.0, "val_Mean": 41.5, "train_seconds": 9.0,
            **values}


def test_identical_histories_are_identical_whatever_the_timing():
    checks = R.compare_history([row(1), row(2)], [row(1, train_seconds=3.0), row(2, train_seconds=5.0)])
    assert [c.identical for c in checks] == [True, True]
    assert checks[0].line() == "epoch 1: identical (5 values, bit for bit)"


def test_a_difference_in_the_last_bit_is_found_and_sized():
    off = math.nextafter(0.25, 1.0)
    checks = R.compare_history([row(1), row(2)], [row(1), row(2, train_loss=off, val_Mean=41.0)])
    assert checks[0].identical and not checks[1].identical
    assert checks[1].differing == ("train_loss", "val_Mean") and checks[1].largest == "val_Mean"
    assert checks[1].max_abs_diff == pytest.approx(0.5)
    assert checks[1].line() == "epoch 2: differs in train_loss, val_Mean (largest: val_Mean by 0.5)"


def test_nan_equals_nan_but_not_a_number_and_missing_columns_differ():
    assert R.compare_history([row(1, val_loss=math.nan)], [row(1, val_loss=math.nan)])[0].identical
    check = R.compare_history([row(1, val_loss=math.nan)], [row(1, val_loss=0.1)])[0]
    assert check.differing == ("val_loss",) and check.max_abs_diff == math.inf
    assert R.compare_history([row(1, val_Hard=3.0)], [row(1)])[0].differing == ("val_Hard",)


def test_memory_format_is_read_off_a_spatial_kernel():
    conv = torch.nn.Conv2d(4, 8, 3)
    pointwise = torch.nn.Conv2d(4, 8, 1).weight.detach()
    assert R.memory_format_of({"a": pointwise, "b": conv.weight.detach()}) == "contiguous"
    conv.to(memory_format=torch.channels_last)
    assert R.memory_format_of({"a": pointwise, "b": conv.weight.detach()}) == "channels_last"
    assert R.memory_format_of({"bias": conv.bias}) is None


def test_settings_side_by_side_mark_what_differs_and_what_the_record_does_not_say():
    record = R.Setting("a" * 40, False, "AMD EPYC", None, "fp32", None, 2, "2.13.0+cpu")
    rerun = R.Setting("a" * 40, False, "AMD EPYC", None, "fp32", "channels_last", 1, "2.13.0+cpu")
    rows = {label: (a, b, same) for label, a, b, same in R.setting_rows(record, rerun)}
    assert rows["threads"] == ("2", "1", False) and rows["precision"] == ("fp32", "fp32", True)
    assert rows["memory format"] == ("not recorded", "channels_last", None)
    assert rows["native bf16"] == ("none", "none", True) and rows["commit"][2] is True
    dirty = R.setting_rows(R.Setting(**{**record.__dict__, "dirty": True}), rerun)
    assert dirty[0][1] == "aaaaaaaaaa + uncommitted changes" and dirty[0][3] is False


def test_command_takes_the_records_settings_where_the_commit_has_the_flags(tmp_path):
    data = {"experiment": "pbn/deep", "profile": "cpu", "dataset": "lspet", "seed": 2,
            "provenance": {"device": "cpu"}, "run": {"precision": "fp32"}}
    flags = {"--profile", "--device", "--precision", "--threads", "--allow-slow", "--results", "--checkpoint-dir"}
    cmd, missing = R.train_command(data, "lib.train", flags, tmp_path / "r", tmp_path / "c", 1, python="py")
    assert cmd == ["py", "-m", "lib.train", "pbn/deep", "--profile", "cpu", "--dataset", "lspet", "--seed", "2",
                   "--results", str(tmp_path / "r"), "--checkpoint-dir", str(tmp_path / "c"), "--device", "cpu",
                   "--precision", "fp32", "--threads", "1", "--allow-slow"]
    assert missing == []
    cmd, missing = R.train_command(data, "lib.cli", flags - {"--threads"}, tmp_path, tmp_path, 2, python="py")
    assert "--threads" not in cmd and missing == ["--threads 2"]


def test_a_transfer_run_gets_its_sources_weights_and_record_or_says_the_source_reruns(tmp_path):
    folder = tmp_path / "results" / "tiny" / "synthetic"
    folder.mkdir(parents=True)
    target = {"experiment": "kpt/a-transfer", "profile": "tiny", "dataset": "synthetic", "seed": 0,
              "config": {"init": {"name": "kpt/a-source"}}}
    (folder / "kpt-a-transfer-s0-11111111.json").write_text(json.dumps(target))
    (folder / "kpt-a-source-s0-22222222.json").write_text(json.dumps(
        {"experiment": "kpt/a-source", "seed": 0, "hash": "2222" * 16, "arrays": "kpt-a-source-s0-22222222.npz"}))
    (folder / "kpt-a-source-s0-22222222.npz").write_bytes(b"PK")
    weights, results, runs = tmp_path / "weights", tmp_path / "tmp-results", tmp_path / "tmp-runs"
    note = R.prepare_source(target, folder / "kpt-a-transfer-s0-11111111.json", weights, results, runs)
    assert note.endswith(f"no weights of it in {weights}, so kpt/a-source is rerun in full first")
    (weights / ("2222" * 16)).mkdir(parents=True)
    (weights / ("2222" * 16) / "final.pt").write_bytes(b"weights")
    note = R.prepare_source(target, folder / "kpt-a-transfer-s0-11111111.json", weights, results, runs)
    assert note.startswith("starts from kpt/a-source s0's final weights in ")
    assert (runs / ("2222" * 16) / "final.pt").read_bytes() == b"weights"
    assert (results / "tiny" / "synthetic" / "kpt-a-source-s0-22222222.npz").exists()
    assert R.prepare_source({**target, "config": {"init": None}}, folder / "x.json", weights, results, runs) is None


def test_a_record_without_a_commit_or_with_an_unknown_one_is_one_line(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"experiment": "pbn/deep", "history": [], "provenance": {"git": {"commit": None}}}))
    assert R.main([str(path)]) == 2
    path.write_text(json.dumps({"experiment": "pbn/deep", "history": [], "provenance": {"git": {"commit": "f" * 40}}}))
    assert R.main([str(path)]) == 2
    assert R.main([str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "error: r.json names no commit (made outside a git checkout); pass --commit REV"
    assert err[1].startswith("error: commit ffffffffff is not in ") and "--commit REV" in err[1]
    assert err[2].startswith("error: record ") and err[2].endswith("not found")


# --------------------------------------------------------------------------- rerunning (slow)


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory) -> tuple[Path, Path]:
    """A git repository with today's ``lib/`` as one commit, and a ``tiny`` pbn/deep record trained at it."""
    repo = tmp_path_factory.mktemp("recheck-repo")
    shutil.copytree(ROOT / "lib", repo / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / ".gitignore").write_text(".cache/\nresults/\n__pycache__/\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*GIT, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(repo), "commit", "-qm", "one commit"], check=True)
    subprocess.run([sys.executable, "-m", "lib.train", "pbn/deep", "--profile", "tiny", "--seed", "0", "--results",
                    "results", "--precision", "fp32", "--threads", "1", "--device", "cpu", "--quiet"],
                   cwd=repo, check=True, capture_output=True)
    (record,) = (repo / "results" / "tiny" / "synthetic").glob("pbn-deep-s0-*.json")
    return repo, record


def _worktrees(repo: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo), "worktree", "list"], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()


@pytest.mark.slow
def test_the_first_epoch_reruns_bit_for_bit_and_nothing_is_left_behind(tiny_repo):
    repo, record = tiny_repo
    before = sorted(p.name for p in record.parent.iterdir())
    report = R.recheck(record, epochs=1, log=lambda line: None)
    assert report.identical and [e.identical for e in report.epochs] == [True]
    assert all(same for label, _, _, same in report.settings if label != "memory format")
    assert ("memory format", "channels_last", "channels_last", True) in report.settings
    assert report.text().endswith("pbn/deep s0: 1 of 1 epochs identical to the record, bit for bit")
    assert len(_worktrees(repo)) == 1  # the temporary worktree is gone
    assert sorted(p.name for p in record.parent.iterdir()) == before  # the rerun wrote elsewhere


@pytest.mark.slow
def test_a_changed_record_and_its_dirty_tree_are_reported(tiny_repo):
    repo, record = tiny_repo
    data = json.loads(record.read_text())
    data["history"][0]["train_loss"] += 1e-6
    data["provenance"]["git"]["dirty"] = True
    changed = record.with_name("changed.json")
    changed.write_text(json.dumps(data))
    report = R.recheck(changed, epochs=1, log=lambda line: None)
    (epoch,) = report.epochs
    assert not report.identical and epoch.differing == ("train_loss",)
    assert epoch.max_abs_diff == pytest.approx(1e-6, rel=1e-3)
    assert any(n.startswith("note: the record was made with uncommitted changes") for n in report.notes)
    assert "settings that differ: commit" in report.text()


@pytest.mark.slow
def test_another_commits_memory_format_is_shown_beside_the_records(tiny_repo):
    repo, record = tiny_repo
    engine = repo / "lib" / "engine.py"
    text = engine.read_text()
    default = "channels_last = True if opts.channels_last is None else opts.channels_last"
    assert default in text
    engine.write_text(text.replace(default, default.replace("True if", "False if")))  # as before channels-last
    subprocess.run([*GIT, "-C", str(repo), "commit", "-qam", "contiguous by default"], check=True)
    try:
        report = R.recheck(record, epochs=1, commit="HEAD", log=lambda line: None)
    finally:
        subprocess.run([*GIT, "-C", str(repo), "revert", "--no-edit", "HEAD"], check=True, capture_output=True)
    assert ("memory format", "channels_last", "contiguous", False) in report.settings
    assert any(n.startswith("note: running commit ") for n in report.notes)
