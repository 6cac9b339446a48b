"""Progress for long subcommands: a bar on a terminal, plain lines with ``--progress``, or none.

The bar is tqdm's, an optional dependency (the ``progress`` extra); without it a terminal gets
the plain lines instead. Either way progress goes to standard error only, so standard output
stays what a script reads.

An operation that reports its batches can also be stopped between two of them: while it runs,
the first Ctrl-C only asks it to stop, and the next progress report raises ``KeyboardInterrupt``
(after that batch committed); a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import IO, Any, TypeVar

from django.utils.translation import gettext as _

from diskcache_admin.inspection.base import accepts

T = TypeVar("T")

# Plain progress lines (a log file, a pipe, a terminal without tqdm): at most one this often.
LINE_INTERVAL = 2.0


def is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty())


class Progress:
    """Counts what a long operation reports, and shows it when ``stream`` is given.

    ``total`` may be a callable so that an estimate that costs a query is only made when
    progress is actually shown. ``plain``: lines of text (``done of total unit (percent),
    rate``) at most every :data:`LINE_INTERVAL` seconds, for a stream that is not a terminal;
    otherwise tqdm's bar (plain lines when tqdm is not installed).
    """

    def __init__(
        self,
        stream: IO[str] | None,
        description: str,
        *,
        total: int | Callable[[], int | None] | None = None,
        unit: str = "entries",
        plain: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.done = 0
        # Whether the operation reports its batches; if not, ``done`` stays 0 whatever happened.
        self.tracked = False
        # Set by the first Ctrl-C while the operation runs (see :meth:`stopping`).
        self.stop_requested = False
        self.total: int | None = total if isinstance(total, int) else None
        self.description = description
        self.unit = unit
        self._clock = clock
        self.started = clock()
        self._bar: Any = None
        self._lines: IO[str] | None = None
        self._last_line: float | None = None
        self._printed = -1  # ``done`` when the last line was written
        if stream is None:
            return
        if callable(total):
            self.total = total()
        if not plain:
            try:
                from tqdm import tqdm
            except ImportError:  # the optional extra is not installed: plain lines instead
                pass
            else:
                self._bar = tqdm(
                    total=self.total,
                    desc=description,
                    unit=f" {unit}",
                    file=stream,
                    leave=False,
                    dynamic_ncols=True,
                )
                return
        self._lines = stream

    @property
    def elapsed(self) -> float:
        return self._clock() - self.started

    def advance(self, count: int) -> None:
        """A batch of ``count`` more went (``expire``, ``evict``)."""
        self.report(self.done + count, None)

    def report(self, done: int, total: int | None = None) -> None:
        """``done`` so far of ``total`` (kept as it was when ``None``): the adapters' ``progress``
        callback for ``clear`` and ``check``. Raises ``KeyboardInterrupt`` once a stop was
        asked for (see :meth:`stopping`): the operation stops after the batch it reports."""
        if total is not None:
            self.total = total
        if self._bar is not None:
            if total is not None and self._bar.total != total:
                self._bar.total = total
            self._bar.update(done - self.done)
        self.done = done
        if self._lines is not None:
            now = self._clock()
            if self._last_line is None or now - self._last_line >= LINE_INTERVAL:
                self._write_line(now)
        if self.stop_requested:
            raise KeyboardInterrupt

    def line(self, now: float | None = None) -> str:
        """``Clearing 'default': 250,000 of 1,000,000 entries (25%), 180,000 entries/s``."""
        seconds = (self._clock() if now is None else now) - self.started
        if self.total:
            counted = _("%(done)s of %(total)s %(unit)s (%(percent)d%%)") % {
                "done": f"{self.done:,}",
                "total": f"{self.total:,}",
                "unit": self.unit,
                "percent": min(100, self.done * 100 // self.total),
            }
        else:
            counted = f"{self.done:,} {self.unit}"
        if seconds > 0:
            rate = _("%(rate)s %(unit)s/s") % {
                "rate": f"{self.done / seconds:,.0f}",
                "unit": self.unit,
            }
        else:
            rate = _("starting")
        return f"{self.description}: {counted}, {rate}"

    def _write_line(self, now: float) -> None:
        assert self._lines is not None
        self._last_line = now
        self._printed = self.done
        self._lines.write(self.line(now) + "\n")
        self._lines.flush()

    @contextmanager
    def stopping(self) -> Iterator[None]:
        """While an operation that reports its batches runs (in the main thread): the first
        Ctrl-C sets :attr:`stop_requested`, so the next :meth:`report` raises
        ``KeyboardInterrupt`` after the batch it reports; a second Ctrl-C raises it at once."""
        if (
            threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            # Only Python's own Ctrl-C is taken over: a signal another handler owns, or one the
            # process ignores (``nohup``, a background job of a script), is left as it is.
            yield
            return

        def handler(signum: int, frame: FrameType | None) -> None:
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._lines is not None:
            if self._last_line is not None and self._printed != self.done:
                self._write_line(self._clock())  # the log ends with how far it got
            self._lines = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def call_with_progress(
    method: Callable[..., T], progress: Progress, *, absolute: bool = False, **kwargs: Any
) -> T:
    """Call ``method``, letting it report each batch to ``progress`` when it can.

    ``absolute``: the method reports ``(done, total)`` (``clear``, ``check``), else each batch's
    count (``expire``, ``evict``). A method that reports can be stopped between batches with
    Ctrl-C (:meth:`Progress.stopping`); one that does not is interrupted wherever it is.
    """
    if not accepts(method, "progress"):
        return method(**kwargs)
    kwargs["progress"] = progress.report if absolute else progress.advance
    progress.tracked = True
    with progress.stopping():
        return method(**kwargs)
