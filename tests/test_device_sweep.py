"""scripts/device_sweep.py: what a lent GPU is sent (the runs left, their sources first) and how
its records come back (never over an existing record, never outside results/)."""

import importlib.util
import io
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def device_sweep():
    spec = importlib.util.spec_from_file_location("device_sweep", ROOT / "scripts" / "device_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_left_skip_records_and_put_kptransfer_sources_first(device_sweep, tmp_path, monkeypatch):
    from lib import results

    names = "kpt/a-transfer,kpt/a-random"
    monkeypatch.setattr(results, "DEFAULT_RESULTS", tmp_path)  # no record at all
    left = [e.name for e in device_sweep.left_to_train("smoke", names, "0")]
    assert left == ["kpt/a-source", "kpt/a-transfer", "kpt/a-random"]


def _archive(path: Path, names: list[str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    return path


def test_unpack_adds_new_records_and_refuses_to_overwrite_or_escape(device_sweep, tmp_path, monkeypatch):
    monkeypatch.setattr(device_sweep, "ROOT", tmp_path)
    rec = "results/cpu/lspet/pbn-overlap-s1-0123abcd.json"
    archive = _archive(tmp_path / "records.tar.gz", [rec, rec.replace(".json", ".npz")])
    device_sweep.unpack(SimpleNamespace(archive=archive))
    assert (tmp_path / rec).read_text() == "{}"
    with pytest.raises(SystemExit, match="1 of its records exist already"):
        device_sweep.unpack(SimpleNamespace(archive=_archive(tmp_path / "again.tar.gz", [rec])))
    with pytest.raises(SystemExit, match="only files under results/"):
        device_sweep.unpack(SimpleNamespace(archive=_archive(tmp_path / "bad.tar.gz", ["results/../lib/x.py"])))
