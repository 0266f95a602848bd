"""Build the book: execute every chapter notebook with papermill, then render with Jupyter Book.

Usage: ``python book/build.py [-p NAME VALUE ...] [--only NOTEBOOK]``. Parameters given with ``-p``
are passed to every notebook that declares them (e.g. ``-p profile book``). Without ``-p profile``,
a chapter that reads training records shows the ``cpu`` profile's records when ``results/cpu/``
holds any of its experiments (:func:`default_profile`), else the notebook's own default
(``smoke``, the profile the notebooks' regression tests run). Notebooks are
executed from ``notebooks/`` into ``book/chapters/`` (git-ignored); a notebook that fails stops
the build with papermill's error, so a broken chapter never renders as if it were fine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import papermill
import yaml

ROOT = Path(__file__).resolve().parent.parent


def chapter_notebooks() -> list[Path]:
    """The notebooks named in ``_toc.yml`` under ``book/chapters/``, in book order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    out = []
    for entry in entries:
        if entry.startswith("book/chapters/"):
            src = ROOT / "notebooks" / (Path(entry).name + ".ipynb")
            if not src.exists():
                sys.exit(f"_toc.yml names {entry}, but {src} does not exist")
            out.append(src)
    return out


#: The experiments a chapter reads, by name prefix (None: any). Chapters not listed read no records.
CHAPTER_EXPERIMENTS: dict[str, str | None] = {"00_intro": None, "03_pbn": "pbn-", "04_kptransfer": "kpt-"}


def default_profile(notebook: Path, results: Path = ROOT / "results") -> str | None:
    """``"cpu"`` when ``results/cpu/`` holds a record of the chapter's experiments, else None."""
    if notebook.stem not in CHAPTER_EXPERIMENTS:
        return None
    prefix = CHAPTER_EXPERIMENTS[notebook.stem] or ""
    found = any(p.name.startswith(prefix) for p in (results / "cpu").glob("*/*.json"))
    return "cpu" if found else None


def execute(notebook: Path, parameters: dict[str, str]) -> None:
    dest = ROOT / "book" / "chapters" / notebook.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    declared = papermill.inspect_notebook(str(notebook))
    params = {k: yaml.safe_load(v) for k, v in parameters.items() if k in declared}
    if "profile" in declared and "profile" not in params and default_profile(notebook):
        params["profile"] = default_profile(notebook)
    start = time.time()
    print(f"executing {notebook.relative_to(ROOT)} {params or ''}", flush=True)
    papermill.execute_notebook(
        str(notebook), str(dest), parameters=params, cwd=str(ROOT), progress_bar=False, kernel_name="python3"
    )
    print(f"  done in {time.time() - start:.0f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"), help="notebook parameter")
    ap.add_argument("--only", help="execute only this notebook (file name), then render")
    args = ap.parse_args()
    for nb in chapter_notebooks():
        if args.only is None or nb.name == args.only or nb.stem == args.only:
            execute(nb, dict(args.p))
    jb = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jb), "build", str(ROOT), "--builder", "html", "--warningiserror", "--keep-going"], check=True, cwd=ROOT)
    print(f"book: {ROOT / '_build' / 'html' / 'index.html'}")


if __name__ == "__main__":
    main()
