"""Screenshot the rendered book in headless Chromium, and fail on pages that show errors.

Usage: ``python book/screenshots.py [--out DIR]`` after ``make book``. For every HTML page of the
book's table of contents it writes ``DIR/<page>.png`` (a full-width screenshot) and checks the
page's HTML for signs of a broken chapter: what ``book/check_pages.py`` fails a page on (tracebacks,
stderr output and Python warnings, ``nan`` intervals), figures missing (a chapter notebook with no
image), tables missing. Needs Debian's ``chromium`` package.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from check_pages import page_problems  # book/check_pages.py: book/ is on sys.path when this runs as a script

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("no Chromium found: apt-get install chromium")


def screenshot(page: Path, out: Path, height: int) -> None:
    args = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
        f"--user-data-dir=/tmp/chromium-book-{out.stem}", f"--window-size=1400,{height}",
        f"--screenshot={out}", page.as_uri(),
    ]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


def redirect_target(page: Path) -> Path:
    """The page a meta-refresh redirect (Jupyter Book's ``index.html``) points to; headless Chromium
    hangs on the redirect itself instead of following it."""
    m = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', page.read_text(errors="replace"), re.I)
    return (page.parent / m.group(1)).resolve() if m else page


def check(page: Path) -> list[str]:
    """Problems visible in a rendered page's HTML."""
    html = page.read_text(errors="replace")
    problems = page_problems(html)
    if "chapters" in page.parts:
        if not re.search(r"<img[^>]+(\.png|data:image)", html):
            problems.append("no figure")
        if "<table" not in html:
            problems.append("no table")
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "screenshots")
    ap.add_argument("--height", type=int, default=2400)
    args = ap.parse_args()
    if not (HTML / "index.html").exists():
        sys.exit(f"{HTML / 'index.html'} does not exist: run `make book` first")
    args.out.mkdir(parents=True, exist_ok=True)
    failed = False
    pages = list(dict.fromkeys([redirect_target(HTML / "index.html")] + sorted((HTML / "book").rglob("*.html"))))
    for page in pages:
        name = page.relative_to(HTML).with_suffix("").as_posix().replace("/", "_")
        screenshot(page, args.out / f"{name}.png", args.height)
        problems = check(page)
        failed |= bool(problems)
        print(f"{name}: {'; '.join(problems) or 'ok'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
