"""A progress bar for long subcommands: tqdm on a terminal, silence when piped.

tqdm is an optional dependency (the ``progress`` extra); without it the commands work the
same, only without a bar.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any, TypeVar

T = TypeVar("T")


def is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty())


class Progress:
    """Counts what a long operation reports, and draws it when ``stream`` is shown.

    ``total`` may be a callable so that an estimate that costs a query is only made when a
    bar is actually drawn.
    """

    def __init__(
        self,
        stream: IO[str] | None,
        description: str,
        *,
        total: int | Callable[[], int | None] | None = None,
        unit: str = "entries",
    ) -> None:
        self.done = 0
        # Whether the operation reports its batches; if not, ``done`` stays 0 whatever happened.
        self.tracked = False
        self._bar: Any = None
        if stream is None:
            return
        try:
            from tqdm import tqdm
        except ImportError:  # the optional extra is not installed: no bar, same behaviour
            return
        self._bar = tqdm(
            total=total() if callable(total) else total,
            desc=description,
            unit=f" {unit}",
            file=stream,
            leave=False,
            dynamic_ncols=True,
        )

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def advance(self, count: int) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def accepts_progress(method: Callable[..., Any]) -> bool:
    """Whether an adapter method takes a ``progress`` callback (the contract leaves it open)."""
    try:
        return "progress" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def call_with_progress(method: Callable[..., T], progress: Progress, **kwargs: Any) -> T:
    """Call ``method``, letting it report each batch to ``progress`` when it can."""
    if accepts_progress(method):
        kwargs["progress"] = progress.advance
        progress.tracked = True
    return method(**kwargs)
