"""Build the book: execute every chapter notebook with papermill, then render with Jupyter Book.

Usage: ``python book/build.py [-p NAME VALUE ...] [--only NOTEBOOK ...]``. Parameters given with
``-p`` are read as YAML (``-p seeds "[0, 1]"``, ``-p profile book``) and passed to every chapter
being built that declares them; a name that none of them declares is an error, as is an
``--only`` name that is not a chapter of ``_toc.yml``. Without ``-p profile``, a chapter that
reads training records shows the ``cpu`` profile's records when ``results/cpu/`` holds any of
its experiments, else ``smoke`` (:func:`lib.params.book_profile`, what the chapter itself shows
when opened with ``profile = None``).

Notebooks are executed from ``notebooks/`` into ``book/chapters/`` (git-ignored) through a
temporary file: only a chapter that ran to the end replaces its page (an atomic rename). A
chapter that fails keeps its previous good page; its failed execution is left beside it as
``<name>.failed.ipynb`` (with the traceback), the other chapters still run, and the build then
stops before rendering, naming the failed chapters (exit status 1). A broken chapter therefore
never renders as if it were fine. After rendering, ``book/check_pages.py`` reads every page and
the build exits 1 if one shows a traceback, a warning or a ``nan`` interval, or if a chapter of
``_toc.yml`` has no page.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import papermill
import yaml

from lib.params import CHAPTER_EXPERIMENTS, book_profile

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "book" / "chapters"


class BuildError(RuntimeError):
    """A bad ``--only`` or ``-p``, or a chapter that failed: one line for the user."""


def chapter_notebooks() -> list[Path]:
    """The notebooks named in ``_toc.yml`` under ``book/chapters/``, in book order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    out = []
    for entry in entries:
        if entry.startswith("book/chapters/"):
            src = ROOT / "notebooks" / (Path(entry).name + ".ipynb")
            if not src.exists():
                raise BuildError(f"_toc.yml names {entry}, but {src} does not exist")
            out.append(src)
    return out


def select(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """The notebooks named by ``--only`` (file name or stem), in book order; all of them without it."""
    if not only:
        return notebooks
    known = {n.name: n for n in notebooks} | {n.stem: n for n in notebooks}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise BuildError(f"--only {', '.join(unknown)}: not a chapter; chapters: "
                         f"{', '.join(n.stem for n in notebooks)}")
    wanted = {known[name] for name in only}
    return [n for n in notebooks if n in wanted]


def chapter_parameters(notebooks: list[Path], given: dict[str, str]) -> dict[Path, dict]:
    """Each notebook's parameters from ``-p NAME VALUE`` (values read as YAML) and the book's profile.

    A name that none of ``notebooks`` declares in its parameters cell is a :class:`BuildError`
    (``papermill.inspect_notebook`` lists them), so a typo never builds the default book silently.
    """
    declared = {nb: set(papermill.inspect_notebook(str(nb))) for nb in notebooks}
    everywhere = set().union(*declared.values()) if declared else set()
    unknown = [name for name in given if name not in everywhere]
    if unknown:
        raise BuildError(f"-p {', '.join(unknown)}: no chapter being built declares it; they declare "
                         f"{', '.join(sorted(everywhere))}")
    out = {}
    for nb, names in declared.items():
        params = {k: yaml.safe_load(v) for k, v in given.items() if k in names}
        if "profile" in names and "profile" not in params and nb.stem in CHAPTER_EXPERIMENTS:
            params["profile"] = book_profile(nb.stem, ROOT / "results")
        out[nb] = params
    return out


def execute(notebook: Path, params: dict, dest_dir: Path = CHAPTERS, cwd: Path = ROOT) -> Path:
    """Run ``notebook`` into ``dest_dir/<name>``, replacing the page only if every cell ran.

    papermill writes a temporary file beside the page; on success it is renamed over the page.
    On failure it becomes ``<name>.failed.ipynb`` (the page is untouched) and a one-line
    :class:`BuildError` names the chapter and the error.
    """
    dest = dest_dir / notebook.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    failed = dest.with_name(f"{notebook.stem}.failed.ipynb")
    failed.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{notebook.stem}.", suffix=".tmp.ipynb")
    os.close(fd)
    start = time.time()
    print(f"executing {notebook.name} {params or ''}", flush=True)
    try:
        papermill.execute_notebook(str(notebook), tmp, parameters=params, cwd=str(cwd), progress_bar=False,
                                   kernel_name="python3")
        os.replace(tmp, dest)
    except Exception as e:  # noqa: BLE001 - any failure of the chapter (cell error, dead kernel) keeps the old page
        if os.path.exists(tmp) and os.path.getsize(tmp):  # papermill wrote the run up to the failing cell
            os.replace(tmp, failed)
        kept = f"its previous page {dest.name} is kept" if dest.exists() else "it has no page yet"
        what = f"{e.ename}: {e.evalue}" if hasattr(e, "ename") else f"{type(e).__name__}: {e}"
        where = f"; the failed run with its traceback: {failed}" if failed.exists() else ""
        raise BuildError(f"chapter {notebook.stem} failed ({' '.join(what.split())[:300]}); {kept}{where}") from None
    finally:
        if os.path.exists(tmp):  # an empty run, or an interrupted build
            os.unlink(tmp)
    print(f"  done in {time.time() - start:.0f} s", flush=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"), help="notebook parameter")
    ap.add_argument("--only", action="append", default=None, metavar="NOTEBOOK",
                    help="execute only this chapter (file name or stem; repeatable), then render")
    args = ap.parse_args(argv)
    try:
        notebooks = select(chapter_notebooks(), args.only)
        params = chapter_parameters(notebooks, dict(args.p))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failures = []
    for nb in notebooks:
        try:
            execute(nb, params[nb])
        except BuildError as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            failures.append(nb.stem)
    if failures:
        print(f"error: {len(failures)} chapter(s) failed: {', '.join(failures)}; the book was not rendered",
              file=sys.stderr)
        return 1
    jb = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jb), "build", str(ROOT), "--builder", "html", "--warningiserror", "--keep-going"], check=True,
                   cwd=ROOT)
    # book/check_pages.py: one line per traceback, warning, nan interval or unbuilt chapter; non-zero if any
    if subprocess.run([sys.executable, str(ROOT / "book" / "check_pages.py")], cwd=ROOT).returncode:
        print("error: the rendered book shows the problems above", file=sys.stderr)
        return 1
    print(f"book: {ROOT / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
