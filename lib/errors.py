"""One error for a bad input file, and the one way command lines report it.

Every reader of the study's files (MPII json and json.gz, the official ``.mat`` ground truth and
predictions, LSP ``joints.mat``, photos, packs, result records, checkpoints) turns a truncated,
empty or garbage file into a :class:`DataFileError`: one line naming the file, what is wrong with
it and what to do. Command lines print that line instead of a traceback (:func:`run_main`).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

#: Exit status of a command line stopped by bad or missing input (argparse uses 2 as well).
EXIT_BAD_INPUT = 2


class DataFileError(ValueError):
    """A file that exists but cannot be used: ``str()`` is ``"<path>: <problem>; <fix>"``, one line.

    A ``ValueError`` so that callers catching ``ValueError`` for bad input keep working.
    """

    def __init__(self, path: str | Path, problem: str, fix: str) -> None:
        self.path, self.problem, self.fix = Path(path), one_line(problem), one_line(fix)
        super().__init__(f"{self.path}: {self.problem}; {self.fix}")


def one_line(text: object) -> str:
    """``text`` with its line breaks and runs of blanks folded into single spaces."""
    return " ".join(str(text).split())


def describe(exc: BaseException, limit: int = 120) -> str:
    """An exception as ``"Type: message"`` on one line, for the problem part of an error.

    A message longer than ``limit`` characters keeps its first sentence (parsers append advice
    such as "report a bug" that would mislead here), cut at ``limit``.
    """
    message = one_line(exc)
    if len(message) > limit:
        message = message.split(". ")[0][:limit].rstrip(".") + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def check_magic(path: str | Path, magic: bytes, kind: str, fix: str) -> None:
    """:class:`DataFileError` unless the file at ``path`` starts with ``magic`` (its format's
    signature), so that garbage gets "not a <kind>" rather than a parser's misleading complaint."""
    with open(path, "rb") as f:
        head = f.read(len(magic))
    if not head:
        raise DataFileError(path, "is empty", fix)
    if head != magic:
        raise DataFileError(path, f"is not a {kind} (its first bytes are {head!r}, not {magic!r})", fix)


def run_main(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None,
             catch: tuple[type[BaseException], ...] = ()) -> int:
    """Run a command line's ``main(argv)``; bad or missing input ends in one line, exit status 2.

    Catches :class:`DataFileError` and ``FileNotFoundError`` (a missing dataset or file), plus
    ``catch`` (e.g. ``ValueError`` where every ``ValueError`` of the command is an input message),
    and prints ``error: <message>`` to stderr. Anything else is a bug and keeps its traceback.
    Warnings are shown as one ``warning: <message>`` line each.
    """
    try:
        with warnings.catch_warnings():  # restores the warning display afterwards
            warnings.showwarning = _show_warning
            return int(main(argv) or 0)
    except (DataFileError, FileNotFoundError, *catch) as e:
        return report_error(e)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings of a command line as one ``warning: ...`` line on stderr (no source line)."""
    print(f"warning: {one_line(message)}", file=file or sys.stderr)


def report_error(message: BaseException | str) -> int:
    """Print ``error: <message>`` (one line) to stderr and return the exit status for bad input."""
    print(f"error: {one_line(message)}", file=sys.stderr)
    return EXIT_BAD_INPUT
