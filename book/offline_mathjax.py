"""Sphinx extension: equations render without a network, from a MathJax shipped with the build.

Sphinx loads MathJax from a CDN by default, so offline the book shows raw LaTeX (PBN Eq. 1,
the mutual information, stays ``$$ I(X;Y) = ... $$``). The PyPI package ``django-static-mathjax``
(a plain copy of MathJax 3's ``es5`` distribution, no Django needed at build time) provides the
files; this extension copies the ``tex-mml-chtml`` component with what it loads lazily (fonts,
TeX extensions, menu, accessibility) into ``_build/html/_static/mathjax/``, and ``_config.yml``
points ``mathjax_path`` at it (a relative ``mathjax_path`` is relative to ``_static``).

Enabled in ``_config.yml`` (``sphinx: local_extensions: offline_mathjax: book/``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: The MathJax component the book loads (what Sphinx's default CDN URL names).
COMPONENT = "tex-mml-chtml.js"
#: Where, under ``_static``, the copy goes (``mathjax_path: mathjax/tex-mml-chtml.js``).
TARGET = "mathjax"


def mathjax_es5() -> Path:
    """MathJax's ``es5`` folder inside the installed package; a clear error when it is missing."""
    try:
        import mathjax  # the django-static-mathjax package
    except ImportError as e:
        raise RuntimeError("the book needs the package django-static-mathjax for offline equations; install it "
                           "with `pip install -e .[book]` (make setup does)") from e
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (es5 / COMPONENT).is_file():
        raise RuntimeError(f"{es5 / COMPONENT} is missing: the installed django-static-mathjax is not a MathJax 3 "
                           "copy; reinstall it (pip install 'django-static-mathjax>=3.2.2,<4')")
    return es5


def _skip_other_bundles(folder: str, names: list[str]) -> list[str]:
    """Leave out the other combined components and the SVG output, which ``tex-mml-chtml`` never loads."""
    if Path(folder).name == "es5":
        return [n for n in names if n.endswith(".js") and n != COMPONENT]
    if Path(folder).name == "output":
        return [n for n in names if n == "svg"]
    return []


def copy_mathjax(outdir: str | Path) -> Path:
    """Copy the component and its lazily loaded files to ``<outdir>/_static/mathjax``."""
    dest = Path(outdir) / "_static" / TARGET
    shutil.copytree(mathjax_es5(), dest, ignore=_skip_other_bundles, dirs_exist_ok=True)
    return dest / COMPONENT


def _check(app, config) -> None:
    path = str(config.mathjax_path or "")
    if path != f"{TARGET}/{COMPONENT}":
        raise RuntimeError(f"_config.yml must set sphinx.config.mathjax_path to {TARGET}/{COMPONENT} (got {path!r}) "
                           "so that the book loads its own MathJax")
    mathjax_es5()


def _copy(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        copy_mathjax(app.outdir)


def setup(app) -> dict:
    app.connect("config-inited", _check)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
