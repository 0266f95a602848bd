"""book/build.py: a failed chapter leaves its previous page, bad --only and -p names are errors.

Throwaway notebooks in ``tmp_path`` (one cell each) stand in for the chapters, except in the last
test, which runs the two chapters that draw real people under the ``cpu`` profile without data.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import book_scripts

ROOT = Path(__file__).resolve().parent.parent


build = book_scripts.load("build")


def notebook(path: Path, parameters: str, body: str) -> Path:
    """A notebook with a ``parameters`` cell and one cell of ``body``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python"}
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


def test_only_selects_by_stem_or_file_name_in_book_order(tmp_path):
    nbs = [tmp_path / f"{n}.ipynb" for n in ("00_a", "01_b", "02_c")]
    assert build.select(nbs, None) == nbs
    assert build.select(nbs, ["02_c", "00_a.ipynb"]) == [nbs[0], nbs[2]]


def test_unknown_only_name_is_an_error_naming_the_chapters(tmp_path):
    nbs = [tmp_path / "03_pbn.ipynb"]
    with pytest.raises(build.BuildError, match=r"--only 03_pnb: not a chapter; chapters: 03_pbn"):
        build.select(nbs, ["03_pnb"])


def test_parameters_go_to_the_chapters_that_declare_them(tmp_path):
    a = notebook(tmp_path / "01_a.ipynb", "seeds = None\nn = 1", "pass")
    b = notebook(tmp_path / "02_b.ipynb", "n = 1", "pass")
    params = build.chapter_parameters([a, b], {"seeds": "[0, 1]", "n": "3"})
    assert params == {a: {"seeds": [0, 1], "n": 3}, b: {"n": 3}}


def test_undeclared_parameter_is_an_error(tmp_path):
    a = notebook(tmp_path / "01_a.ipynb", "seeds = None", "pass")
    with pytest.raises(build.BuildError, match=r"-p seedz: no chapter being built declares it; they declare seeds"):
        build.chapter_parameters([a], {"seedz": "0"})


def test_main_reports_bad_names_in_one_line_and_exits_2(capsys):
    assert build.main(["--only", "no_such_chapter"]) == 2
    assert build.main(["--only", "03_pbn", "-p", "no_such_parameter", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("error: --only no_such_chapter") and "03_pbn" in err[0]
    assert err[1].startswith("error: -p no_such_parameter: no chapter being built declares it")


@pytest.mark.slow
def test_success_replaces_the_page_and_failure_keeps_it(tmp_path):
    pages = tmp_path / "chapters"
    good = notebook(tmp_path / "03_x.ipynb", "value = 1", "print('page', value)")
    build.execute(good, {"value": 2}, dest_dir=pages, cwd=tmp_path)
    page = (pages / "03_x.ipynb").read_text()
    assert "page 2" in page

    notebook(good, "value = 1", "raise ValueError('broken chapter')")
    with pytest.raises(build.BuildError, match=r"chapter 03_x failed \(ValueError: broken chapter\); "
                                               r"its previous page 03_x.ipynb is kept"):
        build.execute(good, {"value": 3}, dest_dir=pages, cwd=tmp_path)
    assert (pages / "03_x.ipynb").read_text() == page  # the last good page, untouched
    assert "broken chapter" in (pages / "03_x.failed.ipynb").read_text()
    assert sorted(p.name for p in pages.iterdir()) == ["03_x.failed.ipynb", "03_x.ipynb"]  # no temporary left


@pytest.mark.slow
def test_failure_without_a_previous_page_leaves_no_page(tmp_path):
    pages = tmp_path / "chapters"
    bad = notebook(tmp_path / "04_y.ipynb", "value = 1", "1 / 0")
    with pytest.raises(build.BuildError, match=r"chapter 04_y failed \(ZeroDivisionError: .*\); it has no page yet"):
        build.execute(bad, {}, dest_dir=pages, cwd=tmp_path)
    assert not (pages / "04_y.ipynb").exists()


@pytest.mark.slow
@pytest.mark.parametrize("chapter", ["03_pbn", "04_kptransfer"])
def test_chapters_that_draw_real_people_render_the_cpu_records_without_data(chapter, tmp_path, monkeypatch):
    """`make book` on a machine without the datasets: the committed ``cpu`` records still render, and
    a gallery that would rebuild LSP Extended's people says why it cannot instead of failing the chapter.
    (Where ``.cache/packs`` already holds LSP Extended's packed people the galleries draw from them; a
    clean clone, as in CI, has none.)"""
    if not any((ROOT / "results" / "cpu").glob("*/*.json")):
        pytest.skip("no cpu records committed")
    monkeypatch.delenv("POSE_DATA", raising=False)
    page = build.execute(ROOT / "notebooks" / f"{chapter}.ipynb", {"profile": "cpu"}, dest_dir=tmp_path, cwd=ROOT)
    text = page.read_text()
    assert "Failure gallery: profile `cpu`, dataset `lspet`" in text
    if not any((ROOT / ".cache" / "packs").glob("lspet-val-*")):
        assert "The validation people cannot be rebuilt here (no data root" in text
