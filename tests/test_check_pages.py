"""book/check_pages.py: each thing a reader must never see fails its page; a clean page passes.

The pages are small synthetic HTML files shaped as MyST-NB renders cells (``cell_input`` for the
source, ``output traceback`` / ``output stderr`` / ``output text_html`` for outputs), written to
``tmp_path`` with a ``_toc.yml`` beside them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import book_scripts

ROOT = Path(__file__).resolve().parent.parent


check = book_scripts.load("check_pages")


def cell(source: str, output: str) -> str:
    """One code cell as MyST-NB renders it: its source, then its output."""
    return (f'<div class="cell docutils container"><div class="cell_input docutils container">'
            f'<div class="highlight-ipython3 notranslate"><div class="highlight"><pre><span></span>{source}</pre>'
            f'</div></div></div><div class="cell_output docutils container">{output}</div></div>')


def page(*body: str) -> str:
    return ('<!DOCTYPE html><html><head><style>#T_v1 td { width: 9%; }</style>'
            '<script>var nan = [nan, 1];</script></head><body><main><article>'
            + "".join(body) + "</article></main></body></html>")


CLEAN = page(
    "<h1>Chapter</h1><p>Hannan, 3 and a NaN, then; intervals such as [1.2, 3.4] and [+0.5, +1.1] are fine.</p>",
    cell('assert "[nan" not in text  # Traceback (most recent call last)',
         '<div class="output text_html"><table class="dataframe"><tr><td>[61.2, 64.0]</td>'
         "<td>one seed: no interval</td><td>nan</td></tr></table></div>"),
    cell("print('ok')", '<div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre>'
                        "<span></span>ok\n</pre></div></div>"),
)

TRACEBACK_BOX = ('<div class="output traceback highlight-ipythontb notranslate"><div class="highlight"><pre>'
                 '<span></span>'
                 '<span class="gt">-----</span>\n<span class="ne">ZeroDivisionError</span>   Traceback (most recent '
                 'call last)\nCell In[1], line 1\n----&gt; 1 1/0\n<span class="ne">ZeroDivisionError</span>: '
                 "division by zero\n</pre></div></div>")


def test_a_clean_page_passes():
    assert check.page_problems(CLEAN) == []


@pytest.mark.parametrize("output, expected", [
    (TRACEBACK_BOX, "error output: ZeroDivisionError: division by zero"),
    ('<div class="output stream"><pre>Traceback (most recent call last):\n  File "x.py"\nKeyError: 3</pre></div>',
     "contains 'Traceback (most recent call last)'"),
    ('<div class="output stderr highlight-myst-ansi notranslate"><div class="highlight"><pre><span></span>'
     "/lib/x.py:3: RuntimeWarning: Mean of empty slice\n  np.mean(a)\n</pre></div></div>",
     "Python warning in an output: RuntimeWarning: Mean of empty slice"),
    ('<div class="output stderr highlight-myst-ansi notranslate"><pre>epoch 3/8 loss 0.1\n</pre></div>',
     "stderr output: epoch 3/8 loss 0.1"),
    ('<div class="output text_html"><table><tr><td>PBN</td><td>[nan, nan]</td></tr></table></div>',
     "nan in an interval: '[nan, nan]'"),
    ('<div class="output text_html"><table><tr><td>[+1.2, NaN]</td></tr></table></div>',
     "nan in an interval: '[+1.2, NaN]'"),
    ('<div class="output text_plain"><pre>estimate 1.5 (nan, 2.0)</pre></div>', "nan in an interval: 'nan, 2.0'"),
])
def test_each_kind_of_problem_fails_the_page(output, expected):
    problems = check.page_problems(page("<p>text</p>", cell("x", output)))
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_nan_in_prose_outside_outputs_is_found_too():
    assert check.page_problems(page("<p>The gain is +1.2 [nan, 3.0] points.</p>"))[0].startswith("nan in an interval")


def write_book(tmp_path: Path, pages: dict[str, str], toc: str) -> tuple[Path, Path]:
    html = tmp_path / "_build" / "html"
    for name, text in pages.items():
        (html / name).parent.mkdir(parents=True, exist_ok=True)
        (html / name).write_text(text)
    (html / "_static").mkdir(exist_ok=True)
    (html / "_static" / "broken.html").write_text(page(TRACEBACK_BOX))  # not a page of the book: never read
    (tmp_path / "_toc.yml").write_text(toc)
    return html, tmp_path / "_toc.yml"


TOC = """format: jb-book
root: book/chapters/00_intro
chapters:
- file: book/chapters/01_data
- file: book/design.md
  sections:
  - file: book/notes
"""


def test_the_book_passes_when_every_page_is_clean_and_built(tmp_path, capsys):
    html, toc = write_book(tmp_path, {"index.html": CLEAN, "book/chapters/00_intro.html": CLEAN,
                                      "book/chapters/01_data.html": CLEAN, "book/design.html": CLEAN,
                                      "book/notes.html": CLEAN}, TOC)
    assert check.toc_files(toc) == ["book/chapters/00_intro", "book/chapters/01_data", "book/design", "book/notes"]
    assert check.check_book(html, toc) == []
    assert check.main(["--html", str(html), "--toc", str(toc)]) == 0
    assert "checked 5 pages: ok" in capsys.readouterr().out


def test_a_toc_file_without_a_page_and_a_broken_page_are_reported_one_line_each(tmp_path, capsys):
    html, toc = write_book(tmp_path, {"book/chapters/00_intro.html": CLEAN,
                                      "book/chapters/01_data.html": page(cell("1/0", TRACEBACK_BOX)),
                                      "book/design.html": CLEAN}, TOC)
    problems = check.check_book(html, toc)
    assert problems == ["book/chapters/01_data.html: error output: ZeroDivisionError: division by zero",
                        "book/notes: in _toc.yml but has no page in html/ (not built)"]
    assert check.main(["--html", str(html), "--toc", str(toc)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == problems and err[-1] == "checked 3 pages: 2 problem(s)"


def test_no_build_at_all_is_a_problem(tmp_path):
    (tmp_path / "_toc.yml").write_text(TOC)
    problems = check.check_book(tmp_path / "_build" / "html", tmp_path / "_toc.yml")
    assert problems[0].endswith("run jupyter-book build first)")
