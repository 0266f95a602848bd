"""lib.runner.ensure_records: what a chapter's ``train_missing`` trains before lib.record_source reads the records."""

from __future__ import annotations

import pytest

from lib.engine import RunOptions
from lib.experiments import make_experiment
from lib.results import find_record, record_path
from lib.runner import chapter_training, ensure_records


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


@pytest.mark.slow
def test_chapter_training_follows_the_chapter_parameters(tmp_path):
    """A chapter's defaults train nothing; ``train_missing`` trains what has no record; ``use_cache = False`` all."""
    exp = make_experiment("pbn/linear", "tiny", seed=11)  # a seed no other test trains: its run folder is its own
    kw = dict(device="cpu", data_root=None, results_dir=tmp_path)
    assert chapter_training([exp], train_missing=False, use_cache=True, **kw) == []
    assert find_record(exp, tmp_path) is None  # the defaults only read records
    assert chapter_training([exp], train_missing=True, use_cache=True, **kw) == [exp]
    assert find_record(exp, tmp_path) is not None
    assert chapter_training([exp], train_missing=True, use_cache=True, **kw) == []  # it has a record now
    assert chapter_training([exp], train_missing=False, use_cache=False, **kw) == [exp]  # no cache: retrained
