"""Today's code still finds every committed record and rescores it identically.

Committed records are the study's evidence. A change to a config dataclass, a profile or an
experiment that alters a config hash would orphan them silently (the sweep would retrain, the book
would say "no record"). For each record under ``results/`` this rebuilds its experiment from its
name, profile, dataset and seed, and checks that its config hash and the record's path are the
ones stored, and that the stored hits rescore to the stored metrics with today's metrics code.
"""

from pathlib import Path

import numpy as np
import pytest

from lib.experiments import config_hash, make_experiment
from lib.metrics import pck_table
from lib.results import DEFAULT_RESULTS, load_record, record_path

RECORDS = sorted(p for p in Path(DEFAULT_RESULTS).glob("*/*/*.json") if not p.name.startswith("."))


def test_there_are_committed_records_to_guard():
    assert len([p for p in RECORDS if p.parts[-3] == "cpu"]) >= 45


@pytest.mark.parametrize("path", RECORDS, ids=[f"{p.parts[-3]}/{p.parts[-2]}/{p.stem}" for p in RECORDS])
def test_committed_record_is_found_and_rescored_by_todays_code(path: Path):
    rec = load_record(path)
    d = rec.data
    exp = make_experiment(d["experiment"], d["profile"], d["dataset"], d["seed"])
    assert config_hash(exp) == d["hash"], "today's config hash orphans this record"
    assert record_path(exp) == path
    a = rec.arrays()
    table = pck_table(a["hits"], a["evaluated"], a["joint_ids"].tolist())
    for name, value in table.items():
        stored = d["metrics"].get(name)
        if stored is None or (isinstance(value, float) and np.isnan(value)):
            continue
        assert value == pytest.approx(stored, abs=1e-9), name
