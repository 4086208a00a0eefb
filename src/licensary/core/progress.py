"""A progress bar for the long commands (`licensary demo`, `licensary reconcile`), drawn by
rich on a terminal and nothing otherwise: a pipe, a log file or a test's buffer gets only
the command's own output, never the bar's control codes."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def _stream(out: Any) -> Any:
    # Django's OutputWrapper ends every write with a newline; rich writes control sequences
    # in pieces, so it gets the stream the wrapper writes to.
    return getattr(out, "_out", out)


def on_terminal(out: Any) -> bool:
    isatty = getattr(_stream(out), "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def progress_bar(
    out: Any, *, description: str, total: int, quiet: bool = False
) -> Iterator[Callable[[int], None]]:
    """`with progress_bar(self.stdout, description=..., total=n) as done:` then `done(k)`
    after the k-th unit. The bar is shown only when `out` is a terminal and not `quiet`;
    write the command's results after the block, so that they never mix with the bar."""
    if quiet or not on_terminal(out):
        yield lambda completed: None
        return
    console = Console(file=_stream(out))
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(description, total=total)
        yield lambda completed: bar.update(task, completed=completed)
