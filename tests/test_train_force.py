"""``python -m lib.train --force`` never overwrites a record in the repository's results/ (the refusal comes
before any training)."""

from __future__ import annotations

import pytest

from lib import train
from lib.experiments import make_experiment
from lib.results import DEFAULT_RESULTS, record_path

COMMITTED = ("pbn/linear", "smoke", "synthetic", 0)  # a record committed under results/smoke/synthetic/


def test_force_on_a_committed_record_refuses_in_one_line_naming_results_dir(capsys):
    path = record_path(make_experiment(*COMMITTED))
    assert path.is_relative_to(DEFAULT_RESULTS) and path.exists()
    before = path.read_bytes()
    name, profile, dataset, seed = COMMITTED
    code = train.main([name, "--profile", profile, "--dataset", dataset, "--seed", str(seed), "--force"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: --force would overwrite the record ")
    assert "results/smoke/synthetic/pbn-linear-s0-" in err[0]
    assert "--results DIR" in err[0] and "python -m lib.recheck" in err[0]
    assert path.read_bytes() == before


def test_force_with_the_whole_sweep_refuses_before_training(capsys):
    assert train.main(["--all", "--profile", "smoke", "--dataset", "synthetic", "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --force would overwrite ") and " records in " in err and "\n" not in err


def test_force_elsewhere_is_allowed(tmp_path):
    exp = make_experiment(*COMMITTED)
    elsewhere = record_path(exp, tmp_path)
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_text("{}")  # a record of the same run in another folder may be overwritten
    train.refuse_overwrite([exp], str(tmp_path))
    with pytest.raises(ValueError, match="--results DIR"):
        train.refuse_overwrite([exp], None)
    with pytest.raises(ValueError, match="--results DIR"):
        train.refuse_overwrite([exp], str(DEFAULT_RESULTS))  # the same folder, named explicitly
