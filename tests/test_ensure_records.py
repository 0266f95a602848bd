"""lib.runner.ensure_records: what a chapter's ``train_missing`` trains before lib.record_source reads the records."""

from __future__ import annotations

import pytest

from lib.engine import RunOptions
from lib.experiments import make_experiment
from lib.results import find_record, record_path
from lib.runner import ensure_records


@pytest.mark.slow
def test_ensure_records_trains_what_has_no_record_sources_first(tmp_path):
    opts = RunOptions(device="cpu", precision="fp32", checkpoint_dir=str(tmp_path / "runs"), progress=False,
                      cache_dir=str(tmp_path / "packs"))
    results = tmp_path / "results"
    transfer, source = (make_experiment(f"kpt/a-{role}", "tiny", seed=0) for role in ("transfer", "source"))
    trained = ensure_records([transfer, source, transfer], opts, results_dir=results)
    assert [e.name for e in trained] == ["kpt/a-source", "kpt/a-transfer"]  # once each, the source first
    assert all(find_record(e, results) is not None for e in (source, transfer))
    assert ensure_records([transfer, source], opts, results_dir=results) == []  # nothing missing: nothing trained
    before = record_path(source, results).stat().st_mtime_ns
    assert [e.name for e in ensure_records([source], opts, results_dir=results, force=True)] == ["kpt/a-source"]
    assert record_path(source, results).stat().st_mtime_ns != before  # retrained: the record was rewritten
