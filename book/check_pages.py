"""Check the built book's HTML pages for what a reader must never see, and for chapters with no page.

Usage: ``python book/check_pages.py [--html DIR] [--toc FILE]`` after ``jupyter-book build``
(``book/build.py`` runs it last). It prints one line per problem, ``<page>: <problem>``, and
exits 1 if there is any. A page fails on

* a Python traceback: MyST-NB's error box (``<div class="output traceback ...">``) or the text
  ``Traceback (most recent call last)`` anywhere outside a code cell's source;
* a ``stderr`` output box (``<div class="output stderr ...">``), named a Python warning when its
  text has ``SomethingWarning:`` in it: a chapter that warns shows the warning to every reader;
* ``nan`` inside an interval (``[nan, 3.1]``, ``[+1.2, nan]``) in the page's text: an interval
  that could not be computed must say why (:func:`lib.present.ci_text`), never print ``nan``.

and the book fails on a file of ``_toc.yml`` (root, chapters, parts, sections) that has no page
under the HTML folder: a chapter dropped from the build would otherwise go unnoticed.

Only the standard library and PyYAML (which Jupyter Book itself needs): it runs wherever the book
is built.
"""

from __future__ import annotations

import argparse
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

#: ``nan`` as an interval bound: a bracketed pair with ``nan`` in it (``[nan, 3.1]``, ``[+1.2, nan]``),
#: or ``nan`` and a number either side of a comma (``(nan, 2.0)``); word-bounded, so that neither
#: "Hannan, 3" nor prose such as "a NaN, then" matches.
NAN_INTERVAL = re.compile(r"\[[^\[\]\n]{0,60}?\bnan\b[^\[\]\n]{0,60}?\]"
                          r"|[+-]?\bnan\s*,\s*[+-]?(?:\d[\d.]*|nan\b)|[+-]?\b\d[\d.]*\s*,\s*[+-]?nan\b", re.IGNORECASE)
#: A Python warning as ``warnings`` prints it: ``path:line: UserWarning: message``.
WARNING = re.compile(r"\b\w*Warning: .*")
TRACEBACK = "Traceback (most recent call last)"
#: Elements whose text a reader does not see as prose (``<style>`` holds a Styler's CSS).
_HIDDEN = {"script", "style", "template"}
#: Elements without a closing tag: never on the open-element stack.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
         "wbr"}
#: Inline elements: the text on either side of them runs on; every other tag separates text.
_INLINE = {"a", "abbr", "b", "code", "em", "i", "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub",
           "sup", "u", "var"}
#: Folders of the HTML build that hold no pages of the book.
_NOT_PAGES = {"_static", "_sources", "_images", "_downloads"}


class _Page(HTMLParser):
    """A page's visible text outside code cells' sources, and the text of each error or stderr output box."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, str | None]] = []  # (tag, hides its text, output box kind)
        self.text: list[str] = []
        self.boxes: list[tuple[str, list[str]]] = []  # (kind, text) of each traceback or stderr box

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INLINE:
            self.text.append("\n")  # `<td>foo</td><td>nan, 1</td>` must not read "foonan, 1"
        if tag in _VOID:
            return
        classes = set((dict(attrs).get("class") or "").split())
        hidden = tag in _HIDDEN or "cell_input" in classes
        box = None
        if "output" in classes:
            box = "traceback" if "traceback" in classes else "stderr" if "stderr" in classes else None
        if box:
            self.boxes.append((box, []))
        self.stack.append((tag, hidden, box))

    def handle_endtag(self, tag: str) -> None:
        if tag not in _INLINE:
            self.text.append("\n")
        for i in range(len(self.stack) - 1, -1, -1):  # tolerate unclosed inner elements
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if any(hidden for _, hidden, _ in self.stack):
            return
        self.text.append(data)
        if any(box for _, _, box in self.stack):
            self.boxes[-1][1].append(data)


def _first_line(text: str, limit: int = 120) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:limit] + ("..." if len(line) > limit else "")


def page_problems(html: str) -> list[str]:
    """What is wrong with one rendered page (its HTML text): tracebacks, stderr and warnings, ``nan`` intervals."""
    page = _Page()
    page.feed(html)
    page.close()
    problems = []
    for kind, parts in page.boxes:
        text = "".join(parts)
        if kind == "traceback":
            lines = [ln.strip() for ln in text.splitlines() if re.match(r"\s*\w*(Error|Exception|Interrupt)\b", ln)]
            problems.append(f"error output: {_first_line(lines[-1] if lines else text)}")
        elif (m := WARNING.search(text)) is not None:
            problems.append(f"Python warning in an output: {_first_line(m.group(0))}")
        else:
            problems.append(f"stderr output: {_first_line(text)}")
    text = "".join(page.text)
    if TRACEBACK in text and not any(kind == "traceback" for kind, _ in page.boxes):
        problems.append(f"contains {TRACEBACK!r}")
    for m in dict.fromkeys(m.group(0) for m in NAN_INTERVAL.finditer(text)):
        start = text.find(m)
        context = " ".join(text[max(0, start - 40): start + len(m) + 20].split())
        problems.append(f"nan in an interval: {m!r} in ...{context}...")
    return problems


def toc_files(toc: Path) -> list[str]:
    """Every ``file`` of a Jupyter Book ``_toc.yml`` (root first, then parts, chapters and sections), without suffix."""
    data = yaml.safe_load(toc.read_text())
    out = [data["root"]] if "root" in data else []

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                out.append(entry["file"])
            for key in ("chapters", "sections", "parts"):
                walk(entry.get(key, []))

    walk([{k: data[k]} for k in ("chapters", "sections", "parts") if k in data])
    return [str(Path(f).with_suffix("")) if Path(f).suffix in (".md", ".ipynb") else f for f in out]


def pages(html_root: Path) -> list[Path]:
    """The book's HTML pages under ``html_root`` (not the theme's or Sphinx's support files)."""
    return sorted(p for p in html_root.rglob("*.html") if not _NOT_PAGES & set(p.relative_to(html_root).parts[:-1]))


def check_book(html_root: Path, toc: Path) -> list[str]:
    """One line per problem, ``<page>: <problem>``: every page's :func:`page_problems`, then the
    ``_toc.yml`` files without a page."""
    if not html_root.is_dir():
        return [f"{html_root}: no HTML build here (run jupyter-book build first)"]
    problems = []
    for page in pages(html_root):
        name = page.relative_to(html_root).as_posix()
        problems += [f"{name}: {p}" for p in page_problems(page.read_text(errors="replace"))]
    for f in toc_files(toc):
        if not (html_root / f"{f}.html").is_file():
            problems.append(f"{f}: in {toc.name} but has no page in {html_root.name}/ (not built)")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the HTML build (default: %(default)s)")
    ap.add_argument("--toc", type=Path, default=ROOT / "_toc.yml", help="the table of contents (default: %(default)s)")
    args = ap.parse_args(argv)
    problems = check_book(args.html, args.toc)
    for p in problems:
        print(p, file=sys.stderr)
    n = len(pages(args.html)) if args.html.is_dir() else 0
    print(f"checked {n} pages: {len(problems)} problem(s)" if problems else f"checked {n} pages: ok",
          file=sys.stderr if problems else sys.stdout)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
