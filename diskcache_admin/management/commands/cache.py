"""``manage.py cache``: read, write and maintain any cache alias from the shell.

Every subcommand goes through :mod:`diskcache_admin.inspection`, so it works on each backend
whose adapter has the capability and fails with a clear message on the others.

Exit statuses (the table in ``docs/cli.rst`` is the reference): 0 done; 1 the answer is "no"
(missing key, problems remain, clear cancelled) or something failed while running (the
backend, the audit database); 2 the command cannot work as given (bad arguments or input,
unknown alias, an operation the backend cannot do, a change to a per-process store);
130 interrupted with Ctrl-C.

Everything user-controlled that the command prints (keys, values, tags, messages quoting
them) goes through :func:`~diskcache_admin.management.cli.render.escape` first.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any, NoReturn

from django.conf import settings
from django.core.cache.backends.base import InvalidCacheKey
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from diskcache_admin import audit
from diskcache_admin.conf import conf
from diskcache_admin.inspection import all_adapters, get_adapter
from diskcache_admin.inspection.base import (
    Activity,
    Adapter,
    Capability,
    FamilyActivity,
    InsightUnavailable,
    InspectionError,
    KeyActivity,
    KeyInfo,
    Removal,
    Stats,
    Unsupported,
    accepts,
)
from diskcache_admin.inspection.kinds import kind_of_alias
from diskcache_admin.management.cli import render
from diskcache_admin.management.cli.progress import (
    Progress,
    call_with_progress,
    is_terminal,
)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

NEVER = ("never", "none")

# Django's options that every manage.py command takes. Django puts them on the command's own
# parser only, so after a subcommand (``cache set k v --settings=x``) argparse would refuse
# them; each subparser accepts them too. They have no default there (SUPPRESS), so a value
# given before the subcommand is not overwritten by the subparser's.
GLOBAL_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("-v", "--verbosity"), {"type": int, "choices": [0, 1, 2, 3]}),
    (("--settings",), {}),
    (("--pythonpath",), {}),
    (("--traceback",), {"action": "store_true"}),
    (("--no-color",), {"action": "store_true"}),
    (("--force-color",), {"action": "store_true"}),
    (("--skip-checks",), {"action": "store_true"}),
)

# Arguments that must be text: what the shell passes for bytes that are not UTF-8 becomes
# lone surrogates (PEP 383), which no cache key, tag or string value can hold.
TEXT_ARGUMENTS = {"key": "KEY", "value": "VALUE", "tag": "TAG", "pattern": "PATTERN"}


class CliParser(CommandParser):
    """Django's parser with escaped error messages and exit status 2 in-process too.

    argparse quotes the offending argument in its messages; it is user input like any key.
    """

    def error(self, message: str) -> NoReturn:
        message = render.escape(message)
        if self.called_from_command_line:
            super().error(message)  # prints the usage and exits with status 2
        raise CommandError(_("Error: %(message)s") % {"message": message}, returncode=EXIT_USAGE)


# Every whole-number option is bounded: a count past this is a typo, and an unbounded one reached
# SQLite (64-bit integers), islice (sys.maxsize) or datetime arithmetic as a traceback.
MAX_COUNT = 1_000_000_000
# --older-than: a date this many days back is still one datetime can hold.
MAX_DAYS = 36_500
# --batch-size: a batch's removed rows are held in memory and its write lock holds every other
# writer; past this a "batch" is the single transaction batching exists to avoid.
MAX_BATCH_SIZE = 1_000_000


def positive_int(text: str, maximum: int = MAX_COUNT) -> int:
    """A whole number from 1 to ``maximum``; else an argparse error (exit status 2)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("%(text)s is not a whole number") % {"text": render.quote(text)}
        ) from None
    if number < 1:
        raise argparse.ArgumentTypeError(
            _("%(text)s is not a positive number") % {"text": render.quote(text)}
        )
    if number > maximum:
        raise argparse.ArgumentTypeError(
            _("%(text)s is more than %(maximum)s")
            % {"text": render.quote(text), "maximum": f"{maximum:,}"}
        )
    return number


def days(text: str) -> int:
    return positive_int(text, MAX_DAYS)


def batch_size(text: str) -> int:
    return positive_int(text, MAX_BATCH_SIZE)


def _seconds(text: str, not_a_number: str, negative: str) -> float:
    """A finite number of seconds, zero or more; else the given message (``%(text)s``)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise argparse.ArgumentTypeError(not_a_number % {"text": render.quote(text)})
    if seconds < 0:
        raise argparse.ArgumentTypeError(negative % {"text": render.quote(text)})
    return seconds


def seconds_arg(text: str) -> float:
    """A finite number of seconds, zero or more."""
    return _seconds(
        text,
        _("%(text)s is not a number of seconds"),
        _("%(text)s is a negative number of seconds"),
    )


def timeout_arg(text: str) -> float | None:
    """Seconds (0 or more), or ``never``/``none`` for an entry that does not expire."""
    if text.strip().lower() in NEVER:
        return None
    return _seconds(
        text,
        _("%(text)s is not a number of seconds (or 'never')"),
        # Django would store an entry that is already expired; "expires in -5 s" is a typo.
        _(
            "%(text)s is a negative number of seconds (0 stores an entry that expires at "
            "once, 'never' one that does not expire)"
        ),
    )


class Command(BaseCommand):
    help = (
        "Read, write and maintain a cache alias: get, set, store, delete, expire, evict, clear, "
        "path, check, stats, keys, top, snapshot, audit. Run 'cache SUBCOMMAND --help' for each "
        "one. "
        "Django's options (--settings, --traceback, -v, ...) may also follow the subcommand."
    )
    # A maintenance tool must keep working on the healthy aliases while another alias (or an
    # unrelated app) fails a system check; a broken alias is reported when it is used.
    requires_system_checks: list[str] = []
    # Lets tests and callers feed 'store KEY -' without replacing sys.stdin.
    stealth_options = ("stdin",)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Django builds this parser itself; the subclass only changes how it reports errors
        # (an unknown subcommand or stray argument is quoted in the message).
        parser.__class__ = CliParser
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        # Django adds it only to commands that run system checks; every command accepts it.
        parser.add_argument("--skip-checks", action="store_true", help=_("Skip system checks."))
        subcommands = parser.add_subparsers(
            dest="subcommand",
            metavar="SUBCOMMAND",
            title=_("subcommands"),
            required=True,
            parser_class=CliParser,
        )

        def add(name: str, summary: str, *, alias: bool = True) -> argparse.ArgumentParser:
            sub: argparse.ArgumentParser = subcommands.add_parser(
                name, help=summary, description=summary
            )
            add_global_options(sub)
            if alias:
                sub.add_argument(
                    "--alias", default="default", help=_("the CACHES alias (default: %(default)s)")
                )
            return sub

        def add_version(sub: argparse.ArgumentParser) -> None:
            sub.add_argument(
                "--version", type=int, default=None, help=_("key version (default: the alias's)")
            )

        def add_timeout(sub: argparse.ArgumentParser) -> None:
            sub.add_argument(
                "--timeout",
                type=timeout_arg,
                default=argparse.SUPPRESS,
                metavar="SECONDS",
                help=_("seconds until it expires, or 'never' (default: the alias's TIMEOUT)"),
            )

        sub = add("get", _("Print a value; exit status 1 when the key is missing."))
        sub.add_argument("key")
        add_version(sub)
        sub.add_argument("--json", action="store_true", help=_("print a JSON document"))

        sub = add("set", _("Store VALUE (a string, or JSON with --json) under KEY."))
        sub.add_argument("key")
        sub.add_argument("value")
        add_timeout(sub)
        sub.add_argument("--json", action="store_true", help=_("parse VALUE as JSON"))
        sub.add_argument("--tag", default=None, help=_("tag the entry (DiskCache)"))
        add_version(sub)

        sub = add("store", _("Store a file's bytes under KEY ('-' reads standard input)."))
        sub.add_argument("key")
        sub.add_argument("file")
        add_timeout(sub)
        sub.add_argument("--tag", default=None, help=_("tag the entry (DiskCache)"))
        add_version(sub)

        sub = add("delete", _("Delete keys; reports how many existed."))
        sub.add_argument("keys", nargs="+", metavar="KEY")
        add_version(sub)

        add("expire", _("Purge expired entries; reports how many and how many bytes."))

        sub = add("evict", _("Remove the entries stored with TAG."))
        sub.add_argument("tag")

        sub = add("clear", _("Remove every entry of the alias (for Redis: its KEY_PREFIX)."))
        sub.add_argument(
            "--yes",
            "-y",
            "--noinput",
            "--no-input",
            dest="interactive",
            action="store_false",
            help=_("do not ask for confirmation"),
        )
        sub.add_argument("--dry-run", action="store_true", help=_("only say what would go"))
        sub.add_argument(
            "--flush-db",
            action="store_true",
            help=_("flush the whole server database, other aliases' and apps' data included"),
        )
        add_batch_options(sub)

        add("path", _("Print where the cache stores its data."))

        sub = add("check", _("Integrity check; exit status 1 when problems remain."))
        sub.add_argument("--fix", action="store_true", help=_("repair what can be repaired"))
        add_batch_options(sub)

        sub = add("stats", _("Print the alias's statistics."))
        sub.add_argument("--json", action="store_true", help=_("print a JSON document"))
        sub.add_argument("--all", action="store_true", help=_("every alias in CACHES"))

        sub = add("keys", _("List keys (glob PATTERN), streaming."))
        sub.add_argument("pattern", nargs="?", default=None)
        sub.add_argument("--limit", type=positive_int, default=None, help=_("stop after N keys"))
        sub.add_argument("--json", action="store_true", help=_("one JSON object per line"))

        sub = add(
            "top",
            _(
                "The keys read most (estimated from sampled reads), or with --misses those "
                "missed most, or with --families the key families."
            ),
        )
        sub.add_argument(
            "alias_name",
            nargs="?",
            default=None,
            metavar="ALIAS",
            help=_("the CACHES alias (same as --alias)"),
        )
        which = sub.add_mutually_exclusive_group()
        which.add_argument("--misses", action="store_true", help=_("the most-missed keys"))
        which.add_argument("--families", action="store_true", help=_("the key families"))
        sub.add_argument(
            "--limit", type=positive_int, default=20, help=_("show N rows (default: %(default)s)")
        )
        sub.add_argument("--json", action="store_true", help=_("print a JSON document"))

        sub = add(
            "snapshot",
            _("Record a statistics snapshot (for the admin's hit-ratio chart); run it from cron."),
            alias=False,
        )
        sub.add_argument(
            "aliases",
            nargs="*",
            metavar="ALIAS",
            help=_("the aliases (default: every alias that keeps snapshots)"),
        )
        sub.add_argument(
            "--min-interval",
            type=seconds_arg,
            default=0.0,
            metavar="SECONDS",
            help=_("skip an alias whose newest snapshot is younger than this"),
        )

        sub = add("audit", _("Maintain the audit trail."), alias=False)
        actions = sub.add_subparsers(
            dest="audit_action", metavar="ACTION", required=True, parser_class=CliParser
        )
        summary = _("Delete audit records older than DAYS days.")
        prune: argparse.ArgumentParser = actions.add_parser(
            "prune", help=summary, description=summary
        )
        add_global_options(prune)
        prune.add_argument("--older-than", type=days, required=True, metavar="DAYS", help=summary)
        prune.add_argument("--dry-run", action="store_true", help=_("only say how many would go"))

    # -- plumbing ----------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        self._stdout_stream: IO[str] = options.get("stdout") or sys.stdout
        self._stderr_stream: IO[str] = options.get("stderr") or sys.stderr
        self._stdin: IO[bytes] | None = options.get("stdin")
        try:
            self.check_text_arguments(options)
            self.dispatch(options)
            self._stdout_stream.flush()  # a closed pipe fails here, not at interpreter exit
        except BrokenPipeError:
            # `cache stats | head` (every subcommand, not only the keys listing).
            self.reader_went_away()
        except CommandError as exc:
            # The last line of defence: whatever a message quotes, nothing in it reaches the
            # terminal raw (escaping is idempotent on the parts already escaped).
            message = str(exc)
            if render.escape(message) == message:
                raise
            raise CommandError(render.escape(message), returncode=exc.returncode) from None

    def dispatch(self, options: dict[str, Any]) -> None:
        handler = getattr(self, "do_" + options["subcommand"])
        try:
            handler(options)
        except Unsupported as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        except InspectionError as exc:
            message = str(exc)
            alias = options.get("alias", "")
            if repr(alias) not in message and render.quote(alias) not in message:
                message = _("Cache %(alias)s: %(message)s") % {
                    "alias": render.quote(alias),
                    "message": message,
                }
            raise CommandError(message, returncode=EXIT_FAILED) from exc
        except InvalidCacheKey as exc:
            # The backend's own key rules (memcached's length and characters, for instance).
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        except KeyboardInterrupt:
            raise CommandError(_("Interrupted."), returncode=EXIT_INTERRUPTED) from None

    @staticmethod
    def check_text_arguments(options: dict[str, Any]) -> None:
        given = [(name, options.get(option)) for option, name in TEXT_ARGUMENTS.items()]
        given.extend(("KEY", key) for key in options.get("keys") or ())
        for name, text in given:
            if isinstance(text, str) and render.has_surrogates(text):
                raise CommandError(
                    _(
                        "%(name)s %(text)s is not valid UTF-8 text (the command line held "
                        "bytes that are not UTF-8); cache keys, tags and values given here "
                        "are text. Use 'store' to store bytes."
                    )
                    % {"name": name, "text": render.quote(text)},
                    returncode=EXIT_USAGE,
                )

    def adapter(self, alias: str) -> Adapter:
        if alias not in settings.CACHES:
            known = ", ".join(render.quote(name) for name in settings.CACHES) or _("none")
            raise CommandError(
                _("Unknown cache alias %(alias)s; the aliases in CACHES are: %(known)s.")
                % {"alias": render.quote(alias), "known": known},
                returncode=EXIT_USAGE,
            )
        adapter = get_adapter(alias)
        if adapter.error is not None:
            raise CommandError(
                _("Cache %(alias)s cannot be inspected: %(error)s")
                % {"alias": render.quote(alias), "error": adapter.error},
                returncode=EXIT_FAILED,
            )
        return adapter

    @staticmethod
    def describe(adapter: Adapter) -> str:
        return _("cache %(alias)s (%(backend)s)") % {
            "alias": render.quote(adapter.alias),
            "backend": render.escape(adapter.backend_name),
        }

    def warn(self, message: str) -> None:
        self.stderr.write(render.escape(message), self.style.WARNING)

    @staticmethod
    def is_process_local(adapter: Adapter) -> bool:
        return kind_of_alias(adapter.alias).is_process_local

    def reading(self, adapter: Adapter) -> None:
        """Before a read: warn that a per-process store is this process's own, not the server's."""
        if self.is_process_local(adapter):
            self.warn(
                _(
                    "Warning: %(cache)s keeps its entries in the memory of each process that "
                    "uses it. This command sees only its own store, not the one your server "
                    "processes use."
                )
                % {"cache": self.describe(adapter)}
            )

    def writing(self, adapter: Adapter, capability: Capability) -> None:
        """Before a change: refuse what would not reach the store, or could not be recorded."""
        adapter.require_capability(capability)
        if self.is_process_local(adapter):
            raise CommandError(
                _(
                    "%(cache)s keeps its entries in the memory of each process that uses it: "
                    "another process, such as this command, cannot reach the store your "
                    "server processes use. Nothing was changed."
                )
                % {"cache": self.capitalised(adapter)},
                returncode=EXIT_USAGE,
            )
        problem = audit.unavailable("cli")
        if problem is not None:
            raise CommandError(
                _("%(problem)s Nothing was changed.") % {"problem": problem},
                returncode=EXIT_FAILED,
            )

    def progress(
        self,
        description: str,
        total: int | Callable[[], int | None] | None = None,
        *,
        forced: bool = False,
    ) -> Progress:
        """Progress on standard error: a bar on a terminal; plain lines elsewhere when
        ``forced`` (``--progress``: a log file is no place for a redrawn bar); else nothing."""
        terminal = is_terminal(self._stderr_stream)
        shown = terminal or forced
        return Progress(
            self._stderr_stream if shown else None, description, total=total, plain=not terminal
        )

    @staticmethod
    def batch_options(
        adapter: Adapter, method: Callable[..., Any], options: dict[str, Any]
    ) -> dict[str, Any]:
        """``batch=`` for an adapter method that sizes its batches, from ``--batch-size``."""
        batch = options.get("batch_size")
        if batch is None:
            return {}
        if not accepts(method, "batch"):
            raise CommandError(
                _("%(cache)s does not work in batches; leave out --batch-size.")
                % {"cache": Command.describe(adapter)},
                returncode=EXIT_USAGE,
            )
        return {"batch": batch}

    def audit(self, adapter: Adapter | None, action: str, summary: str) -> None:
        """Write the audit record the admin writes too (who = the OS user, via = cli)."""
        try:
            audit.record(
                alias="" if adapter is None else adapter.alias,
                action=action,
                summary=summary,
                user=None,
                via="cli",
                os_user=audit.current_os_user(),
            )
        except DatabaseError as exc:
            raise CommandError(
                _("%(summary)s But the audit record could not be written: %(error)s")
                % {"summary": summary, "error": exc},
                returncode=EXIT_FAILED,
            ) from exc

    def remove_with_progress(
        self,
        adapter: Adapter,
        action: str,
        what: str,
        operation: Callable[..., Removal],
        *,
        total: int | Callable[[], int | None] | None = None,
        stopped: str | None = None,
        forced: bool = False,
        absolute: bool = False,
        **kwargs: Any,
    ) -> Removal:
        """``operation(**kwargs)`` (expire, evict, clear) under a progress bar labelled ``what``
        (``forced``: shown off a terminal too; ``absolute``: it reports ``(done, total)``);
        Ctrl-C goes to :meth:`interrupted`, which names it ``stopped`` (default ``what``)."""
        with self.progress(what, total=total, forced=forced) as bar:
            try:
                return call_with_progress(operation, bar, absolute=absolute, **kwargs)
            except KeyboardInterrupt:
                bar.close()  # before the message: a bar redrawn over it would hide it
                self.interrupted(adapter, action, bar, stopped or what)

    def interrupted(self, adapter: Adapter, action: str, progress: Progress, what: str) -> NoReturn:
        """Record and report an operation stopped by Ctrl-C, then exit with status 130."""
        if not progress.tracked:
            done = _("how many entries went is unknown (the backend does not report progress)")
        elif progress.done and progress.total:
            done = _("%(done)s of %(entries)s removed in %(seconds)s s") % {
                "done": f"{progress.done:,}",
                "entries": render.entries(max(progress.total, progress.done)),
                "seconds": f"{progress.elapsed:.1f}",
            }
        elif progress.done:
            done = _("%(entries)s removed") % {"entries": render.entries(progress.done)}
        else:
            done = _("nothing removed")
        self.audit(
            adapter,
            action,
            _("%(what)s of %(cache)s interrupted: %(done)s.")
            % {"what": what, "cache": self.describe(adapter), "done": done},
        )
        hint = ""
        if adapter.can(Capability.CHECK):
            hint = " " + _("'cache check --alias %(alias)s' verifies the store.") % {
                "alias": render.escape(adapter.alias)
            }
        if progress.tracked:
            # It stopped between two of its batches (or, at a second Ctrl-C, in one: rolled back).
            outcome = _(
                "Interrupted: %(done)s. The store is consistent: what was removed stays "
                "removed; entries not yet removed are intact."
            )
        else:
            outcome = _(
                "Interrupted: %(done)s. What was removed stays removed; entries not yet "
                "removed are intact."
            )
        raise CommandError(outcome % {"done": done} + hint, returncode=EXIT_INTERRUPTED)

    def timeout(self, adapter: Adapter, options: dict[str, Any]) -> float | None:
        if "timeout" in options:
            return options["timeout"]  # type: ignore[no-any-return]
        default: float | None = adapter.cache.default_timeout
        return default

    @staticmethod
    def expiry_text(timeout: float | None) -> str:
        if timeout is None:
            return _("never expires")
        return _("expires in %(seconds)s s") % {"seconds": f"{timeout:g}"}

    def write_bytes(self, data: bytes) -> None:
        buffer = getattr(self._stdout_stream, "buffer", None)
        if buffer is None:
            raise CommandError(
                _("The value is bytes and this output takes only text; use --json."),
                returncode=EXIT_USAGE,
            )
        self._stdout_stream.flush()
        buffer.write(data)
        buffer.flush()

    def write_value(self, value: Any) -> None:
        """A value on standard output: as is for a pipe or file, escaped for a terminal."""
        terminal = is_terminal(self._stdout_stream)
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            if not terminal:
                self.write_bytes(data)
                return
            # Raw bytes would be commands to the terminal: show them escaped, and say how to
            # get the bytes themselves.
            self.stdout.write(render.escape(data.decode("utf-8", "backslashreplace"), keep="\n"))
            self.warn(
                _(
                    "The value is %(size)s of bytes, shown escaped; redirect the output to a "
                    "file or a pipe for the bytes themselves."
                )
                % {"size": render.human_size(len(data))}
            )
            return
        text, truncated = render.value_text(value)
        if terminal:
            text = render.escape(text, keep="\n")
        elif render.has_surrogates(text):
            # A str may hold lone surrogates, which no encoding can write.
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        self.stdout.write(text)
        if truncated:
            self.warn(
                _(
                    "The value is shown as a preview, cut at its size limit (%(limit)s "
                    "characters, DISKCACHE_ADMIN_PREVIEW_LIMIT) or its depth limit."
                )
                % {"limit": f"{conf.PREVIEW_LIMIT:,}"}
            )

    # -- subcommands -------------------------------------------------------------------------

    def do_get(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        adapter.require_capability(Capability.PEEK)
        self.reading(adapter)
        key, version = options["key"], options["version"]
        found, value = adapter.peek(adapter.make_raw_key(key, version))
        if options["json"]:
            document = render.get_document(adapter.alias, key, version, found, value)
            self.stdout.write(render.json_text(document))
        elif found:
            self.write_value(value)
        if not found:
            raise CommandError(
                _("Key %(key)s not found in %(cache)s.")
                % {"key": render.quote(key), "cache": self.describe(adapter)},
                returncode=EXIT_FAILED,
            )

    def do_set(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        self.check_tag(adapter, options)
        value: Any = options["value"]
        if options["json"]:
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise CommandError(
                    _("VALUE is not valid JSON: %(error)s.") % {"error": exc},
                    returncode=EXIT_USAGE,
                ) from exc
        self.writing(adapter, Capability.SET)
        what = _("a %(type)s") % {"type": render.type_name(value)}
        self.store_value(adapter, options, value, what)

    def do_store(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        self.check_tag(adapter, options)
        self.writing(adapter, Capability.SET)
        path = options["file"]
        try:
            if path == "-":
                stream = self._stdin or sys.stdin.buffer
                data = stream.read()
            else:
                with open(path, "rb") as file:
                    data = file.read()
        except OSError as exc:
            name = _("standard input") if path == "-" else render.quote(path)
            raise CommandError(
                _("Cannot read %(name)s: %(error)s.")
                % {"name": name, "error": exc.strerror or exc},
                returncode=EXIT_USAGE,
            ) from exc
        self.store_value(adapter, options, data, render.human_size(len(data)))

    def check_tag(self, adapter: Adapter, options: dict[str, Any]) -> None:
        adapter.require_capability(Capability.SET)
        # Only a backend that can evict by tag stores one; the others would drop it silently.
        if options["tag"] is not None and not adapter.can(Capability.EVICT_TAG):
            raise CommandError(
                _("%(cache)s cannot tag entries; store the value without --tag.")
                % {"cache": self.capitalised(adapter)},
                returncode=EXIT_USAGE,
            )

    def capitalised(self, adapter: Adapter) -> str:
        described = self.describe(adapter)
        return described[0].upper() + described[1:]

    def store_value(self, adapter: Adapter, options: dict[str, Any], value: Any, what: str) -> None:
        key, tag, version = options["key"], options["tag"], options["version"]
        timeout = self.timeout(adapter, options)
        adapter.set(key, value, timeout, tag=tag, version=version)
        tagged = _(", tag %(tag)s") % {"tag": render.quote(tag)} if tag else ""
        summary = _("Stored %(key)s (%(what)s%(tagged)s) in %(cache)s; it %(expiry)s.") % {
            "key": render.quote(key),
            "what": what,
            "tagged": tagged,
            "cache": self.describe(adapter),
            "expiry": self.expiry_text(timeout),
        }
        self.audit(adapter, options["subcommand"], summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def do_delete(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        self.writing(adapter, Capability.DELETE)
        keys: list[str] = list(dict.fromkeys(options["keys"]))
        raw_keys = [adapter.make_raw_key(key, options["version"]) for key in keys]
        deleted = adapter.delete(raw_keys)
        summary = _("Deleted %(deleted)s of %(asked)s from %(cache)s.") % {
            "deleted": f"{deleted:,}",
            "asked": render.keys(len(keys)),
            "cache": self.describe(adapter),
        }
        self.audit(adapter, "delete", summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def do_expire(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        self.writing(adapter, Capability.EXPIRE)
        removal = self.remove_with_progress(
            adapter,
            "expire",
            _("Purging expired entries"),
            adapter.expire,
            total=lambda: self.expired(adapter),
        )
        summary = _("Purged expired entries from %(cache)s: %(removed)s.") % {
            "cache": self.describe(adapter),
            "removed": self.removed(removal),
        }
        self.audit(adapter, "expire", summary)
        self.stdout.write(self.style.SUCCESS(summary))

    @staticmethod
    def expired(adapter: Adapter) -> int | None:
        if not adapter.can(Capability.STATS):
            return None
        try:
            return adapter.stats().expired
        except InspectionError:  # only an estimate for the bar; the purge says what failed
            return None

    @staticmethod
    def removed(removal: Removal) -> str:
        return render.removal_text(removal.count, removal.size)

    def do_evict(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        self.writing(adapter, Capability.EVICT_TAG)
        tag = options["tag"]
        what = _("Evicting tag %(tag)s") % {"tag": render.quote(tag)}
        removal = self.remove_with_progress(adapter, "evict", what, adapter.evict, tag=tag)
        summary = _("Evicted tag %(tag)s from %(cache)s: %(removed)s.") % {
            "tag": render.quote(tag),
            "cache": self.describe(adapter),
            "removed": self.removed(removal),
        }
        self.audit(adapter, "evict", summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def do_clear(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        if options["flush_db"]:
            self.flush_db(adapter, options)
            return
        if options["dry_run"]:
            adapter.require_capability(Capability.CLEAR)
            self.reading(adapter)
        else:
            self.writing(adapter, Capability.CLEAR)
        extra = self.batch_options(adapter, adapter.clear, options)  # before asking for 'yes'
        preview = adapter.clear_preview()
        scope = _("%(cache)s at %(location)s") % {
            "cache": self.describe(adapter),
            "location": render.escape(adapter.location() or _("its location")),
        }
        if adapter.can(Capability.FLUSH_DB):
            # On a shared server database, clear is scoped to the alias's keys: say which.
            scope += _(", keys with prefix %(prefix)s") % {
                "prefix": render.quote(str(adapter.cache.key_prefix))
            }
        going = self.removed(preview)
        if options["dry_run"]:
            self.stdout.write(
                _("Would remove %(going)s from %(scope)s.") % {"going": going, "scope": scope}
            )
            return
        if options["interactive"]:
            self.confirm(
                _("This removes %(going)s from %(scope)s.") % {"going": going, "scope": scope},
                _("Clear cancelled"),
            )
        removal = self.remove_with_progress(
            adapter,
            "clear",
            _("Clearing %(alias)s") % {"alias": render.escape(adapter.alias)},
            adapter.clear,
            total=preview.count,
            stopped=_("Clearing"),
            forced=options["progress"],
            absolute=True,
            **extra,
        )
        summary = _("Cleared %(cache)s: removed %(removed)s.") % {
            "cache": self.describe(adapter),
            "removed": self.removed(removal),
        }
        self.audit(adapter, "clear", summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def flush_db(self, adapter: Adapter, options: dict[str, Any]) -> None:
        if options["dry_run"]:
            adapter.require_capability(Capability.FLUSH_DB)
            self.reading(adapter)
        else:
            self.writing(adapter, Capability.FLUSH_DB)
        location = render.escape(adapter.location())
        target = _(
            "the WHOLE database at %(location)s (%(cache)s): every key in it, including other "
            "aliases' and other applications' data"
        ) % {"location": location, "cache": self.describe(adapter)}
        if options["dry_run"]:
            self.stdout.write(_("Would flush %(target)s.") % {"target": target})
            return
        if options["interactive"]:
            self.confirm(_("This flushes %(target)s.") % {"target": target}, _("Flush cancelled"))
        try:
            adapter.flush_db()
        except KeyboardInterrupt:
            # One server command: either it ran or it did not; say so honestly.
            raise CommandError(
                _("Interrupted: the flush may or may not have run on the server."),
                returncode=EXIT_INTERRUPTED,
            ) from None
        summary = _("Flushed the whole database at %(location)s (%(alias)s).") % {
            "location": location,
            "alias": render.quote(adapter.alias),
        }
        self.audit(adapter, "flush_db", summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def confirm(self, statement: str, cancelled: str) -> None:
        """Ask before a destructive step; anything but 'yes' cancels it."""
        self.stdout.write(self.style.WARNING(statement))
        try:
            answer = input(_("Type 'yes' to continue, or 'no' to cancel: "))
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer.strip().lower() == "yes":
            return
        raise CommandError(
            _("%(cancelled)s; nothing was removed (use --yes to skip the question).")
            % {"cancelled": cancelled},
            returncode=EXIT_FAILED,
        )

    def do_path(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        self.reading(adapter)
        location = adapter.location()
        if not location:
            raise CommandError(
                _("%(cache)s has no storage location.") % {"cache": self.capitalised(adapter)},
                returncode=EXIT_FAILED,
            )
        # Exact for $(cache path) in a script; escaped like every other text on a terminal.
        self.stdout.write(render.escape(location) if is_terminal(self._stdout_stream) else location)

    def do_check(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        if options["fix"]:
            self.writing(adapter, Capability.CHECK)
        else:
            adapter.require_capability(Capability.CHECK)
            self.reading(adapter)
        extra = self.batch_options(adapter, adapter.check, options)
        with self.progress(
            _("Checking %(alias)s") % {"alias": render.escape(adapter.alias)},
            total=None,
            forced=options["progress"],
        ) as bar:
            try:
                problems = call_with_progress(
                    adapter.check, bar, absolute=True, fix=options["fix"], **extra
                )
            except KeyboardInterrupt:
                bar.close()
                self.check_interrupted(adapter, bar, fix=options["fix"])
        for problem in problems:
            status = _("fixed") if problem.fixed else _("PROBLEM")
            line = f"{status}: {render.escape(problem.kind)}: {render.escape(problem.detail)}"
            self.stdout.write(line, self.style.SUCCESS if problem.fixed else self.style.ERROR)
        remaining = sum(not problem.fixed for problem in problems)
        fixed = len(problems) - remaining
        if fixed:
            summary = _("Repaired %(problems)s in %(cache)s.") % {
                "problems": render.problems(fixed),
                "cache": self.describe(adapter),
            }
            self.audit(adapter, "check", summary)
        if remaining:
            hint = (
                "" if options["fix"] else " " + _("Run with --fix to repair what can be repaired.")
            )
            raise CommandError(
                _("%(problems)s left in %(cache)s.")
                % {"problems": render.problems(remaining), "cache": self.describe(adapter)}
                + hint,
                returncode=EXIT_FAILED,
            )
        if fixed:
            done = _("fixed %(problems)s") % {"problems": render.problems(fixed)}
        else:
            done = _("no problems found")
        self.stdout.write(
            self.style.SUCCESS(
                _("Checked %(cache)s: %(done)s.") % {"cache": self.describe(adapter), "done": done}
            )
        )

    def check_interrupted(self, adapter: Adapter, progress: Progress, *, fix: bool) -> NoReturn:
        """Say how far an interrupted check got (and record it after --fix), exit with 130."""
        if progress.tracked and progress.total:
            where = _("after verifying %(done)s of %(entries)s") % {
                "done": f"{progress.done:,}",
                "entries": render.entries(max(progress.total, progress.done)),
            }
        elif progress.tracked:
            where = _("after verifying %(entries)s") % {"entries": render.entries(progress.done)}
        else:
            where = _("early")
        summary = _("Check of %(cache)s interrupted %(where)s.") % {
            "cache": self.describe(adapter),
            "where": where,
        }
        if fix:
            # Repairs made before the interrupt are kept: the trail says the run was cut short.
            self.audit(adapter, "check", summary)
        message = _("Interrupted: the check stopped %(where)s; nothing is half done") % {
            "where": where
        }
        if fix:
            message += _(" (repairs already made are kept)")
        raise CommandError(
            message + ". " + _("Run it again to check everything."), returncode=EXIT_INTERRUPTED
        )

    def do_stats(self, options: dict[str, Any]) -> None:
        if options["all"]:
            adapters = list(all_adapters())
        else:
            adapter = self.adapter(options["alias"])
            adapter.require_capability(Capability.STATS)
            adapters = [adapter]
        documents: list[dict[str, Any]] = []
        failed = []
        for adapter in adapters:
            self.reading(adapter)
            stats: Stats | None = None
            error: str | None = None
            if adapter.error is not None:
                error = adapter.error
                failed.append(adapter.alias)
            elif adapter.can(Capability.STATS):
                try:
                    stats = adapter.stats()
                except InspectionError as exc:
                    if not options["all"]:
                        raise
                    error = str(exc)
                    failed.append(adapter.alias)
            if options["json"]:
                documents.append(render.cache_document(adapter, stats, error))
            else:
                self.write_stats(adapter, stats, error)
        if options["json"]:
            output: Any = {"caches": documents} if options["all"] else documents[0]
            self.stdout.write(render.json_text(output))
        if failed:
            names = ", ".join(render.quote(alias) for alias in failed)
            raise CommandError(
                _("No statistics from %(aliases)s.") % {"aliases": names}, returncode=EXIT_FAILED
            )

    def write_stats(self, adapter: Adapter, stats: Stats | None, error: str | None) -> None:
        location = adapter.location()
        heading = self.capitalised(adapter)
        if location:
            heading = _("%(cache)s at %(location)s") % {
                "cache": heading,
                "location": render.escape(location),
            }
        self.stdout.write(self.style.MIGRATE_HEADING(heading))
        if error is not None:
            self.stdout.write(
                self.style.ERROR("  " + _("error: %(error)s") % {"error": render.escape(error)})
            )
        elif stats is None:
            self.stdout.write("  " + _("no statistics available for this backend"))
        else:
            rows = render.stats_lines(stats) or [(_("statistics"), _("none reported"))]
            width = max(len(label) for label, _value in rows)
            for label, value in rows:
                self.stdout.write(f"  {label.ljust(width)}  {value}")

    def do_keys(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        adapter.require_capability(Capability.LIST_KEYS)
        self.reading(adapter)
        as_json = options["json"]
        # The listed keys show the way themselves on a terminal; the bar is for redirections.
        shown = is_terminal(self._stderr_stream) and not is_terminal(self._stdout_stream)
        bar = Progress(self._stderr_stream if shown else None, _("Listing keys"), unit="keys")
        keys: Iterator[KeyInfo] = adapter.iter_keys(options["pattern"] or None)
        try:
            for info in itertools.islice(keys, options["limit"]):
                if as_json:
                    self.stdout.write(render.json_text(render.key_json(info)))
                else:
                    self.stdout.write(render.escape(info.key))
                bar.advance(1)
        except KeyboardInterrupt:
            raise CommandError(
                _("Interrupted after %(keys)s.") % {"keys": render.keys(bar.done)},
                returncode=EXIT_INTERRUPTED,
            ) from None
        except BrokenPipeError:
            self.reader_went_away()
        finally:
            bar.close()
            close = getattr(keys, "close", None)
            if callable(close):
                close()

    def reader_went_away(self) -> None:
        """``cache keys | head``: stop quietly, as other Unix tools do."""
        if self._stdout_stream is sys.stdout:
            # Python would complain once more when it flushes stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)

    def do_top(self, options: dict[str, Any]) -> None:
        alias = options["alias_name"] or options["alias"]
        options["alias"] = alias  # so that a failure message names the alias given
        adapter = self.adapter(alias)
        if not adapter.can(Capability.INSIGHT):
            raise CommandError(
                f"{adapter.unsupported(Capability.INSIGHT)} {adapter.insight_reason}",
                returncode=EXIT_USAGE,
            )
        self.reading(adapter)
        limit = options["limit"]
        try:
            activity: Activity[KeyActivity] | Activity[FamilyActivity]
            if options["families"]:
                activity = adapter.families(limit)
            elif options["misses"]:
                activity = adapter.missed_keys(limit)
            else:
                activity = adapter.hot_keys(limit)
        except InsightUnavailable as exc:
            raise CommandError(
                _("%(cache)s: %(reason)s")
                % {"cache": self.capitalised(adapter), "reason": render.escape(str(exc))},
                returncode=EXIT_USAGE,
            ) from exc
        table = "families" if options["families"] else "misses" if options["misses"] else "hits"
        if options["json"]:
            self.stdout.write(render.json_text(render.activity_json(adapter, table, activity)))
            return
        self.write_activity(adapter, table, activity)

    def write_activity(
        self,
        adapter: Adapter,
        table: str,
        activity: Activity[KeyActivity] | Activity[FamilyActivity],
    ) -> None:
        titles = {
            "hits": _("Hot keys"),
            "misses": _("Most-missed keys"),
            "families": _("Key families"),
        }
        self.stdout.write(
            self.style.MIGRATE_HEADING(
                _("%(title)s of %(cache)s")
                % {"title": titles[table], "cache": self.describe(adapter)}
            )
        )
        note = _("Counts are estimates from %(method)s.") % {"method": activity.method}
        if activity.since is not None:
            note += " " + _("Recorded since %(when)s.") % {"when": render.when(activity.since)}
        self.stdout.write("  " + render.escape(note))
        if not activity.rows:
            self.stdout.write("  " + _("nothing recorded yet"))
            return
        rows = render.activity_rows(activity)
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        for row in rows:
            # Figures right-aligned; the key or family last, as long as it is.
            cells = [cell.rjust(width) for cell, width in zip(row[:-1], widths, strict=False)]
            self.stdout.write("  " + "  ".join([*cells, row[-1]]))

    def do_snapshot(self, options: dict[str, Any]) -> None:
        """One statistics snapshot per alias, for the admin's hit-ratio-over-time chart."""
        if options["aliases"]:
            adapters = [self.adapter(alias) for alias in dict.fromkeys(options["aliases"])]
            for adapter in adapters:
                adapter.require_capability(Capability.SNAPSHOTS)
        else:
            adapters = [
                adapter
                for adapter in all_adapters()
                if adapter.error is None and adapter.can(Capability.SNAPSHOTS)
            ]
            if not adapters:
                raise CommandError(
                    _("No cache in CACHES keeps statistics snapshots (DiskCache does)."),
                    returncode=EXIT_USAGE,
                )
        failed: list[str] = []
        for adapter in adapters:
            try:
                self.snapshot(adapter, options["min_interval"])
            except InspectionError as exc:
                # Cron runs all aliases: one busy store must not cost the others their snapshot.
                self.stderr.write(
                    render.escape(
                        _("No snapshot of %(cache)s: %(error)s")
                        % {"cache": self.describe(adapter), "error": exc}
                    )
                )
                failed.append(adapter.alias)
        if failed:
            raise CommandError(
                _("No snapshot of %(aliases)s.")
                % {"aliases": ", ".join(render.quote(alias) for alias in failed)},
                returncode=EXIT_FAILED,
            )

    def snapshot(self, adapter: Adapter, min_interval: float) -> None:
        if min_interval:
            latest = adapter.latest_snapshot()
            if latest is not None and time.time() - latest.taken < min_interval:
                self.stdout.write(
                    _("Skipped %(cache)s: its newest snapshot is %(age)s s old.")
                    % {
                        "cache": self.describe(adapter),
                        "age": f"{time.time() - latest.taken:.0f}",
                    }
                )
                return
        snapshot = adapter.take_snapshot()
        if adapter.latest_snapshot() is None:
            # The adapter records nothing for a store that does not exist yet (and creates
            # none): a reader must not create stores as a side effect.
            self.stdout.write(
                _("Nothing to record for %(cache)s: its store does not exist yet.")
                % {"cache": self.describe(adapter)}
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Took a snapshot of %(cache)s: %(entries)s, %(size)s, %(hits)s hits, "
                    "%(misses)s misses."
                )
                % {
                    "cache": self.describe(adapter),
                    "entries": render.entries(snapshot.entries),
                    "size": render.human_size(snapshot.size),
                    "hits": f"{snapshot.hits:,}",
                    "misses": f"{snapshot.misses:,}",
                }
            )
        )

    def do_audit(self, options: dict[str, Any]) -> None:
        """``audit prune --older-than DAYS``: the retention of the audit trail."""
        days: int = options["older_than"]
        try:
            count, cutoff = audit.prune(datetime.timedelta(days=days), dry_run=options["dry_run"])
        except DatabaseError as exc:
            raise CommandError(
                _("The audit records cannot be read or deleted: %(error)s") % {"error": exc},
                returncode=EXIT_FAILED,
            ) from exc
        records = render.counted(
            ngettext("%(count)s audit record", "%(count)s audit records", count), count
        )
        age = render.counted(ngettext("%(count)s day", "%(count)s days", days), days)
        context = {"records": records, "age": age, "cutoff": f"{cutoff:%Y-%m-%d %H:%M:%S %Z}"}
        if options["dry_run"]:
            self.stdout.write(
                _("Would remove %(records)s older than %(age)s (before %(cutoff)s).") % context
            )
            return
        summary = _("Removed %(records)s older than %(age)s (before %(cutoff)s).") % context
        # Deleting audit records is itself recorded, so the trail shows where it was cut.
        self.audit(None, "prune_audit", summary)
        self.stdout.write(self.style.SUCCESS(summary))


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    """``--progress`` and ``--batch-size``, for the subcommands that work in batches."""
    parser.add_argument(
        "--progress",
        action="store_true",
        help=_(
            "report progress on standard error even when it is not a terminal (plain lines: "
            "done/total and rate)"
        ),
    )
    parser.add_argument(
        "--batch-size",
        type=batch_size,
        default=None,
        metavar="N",
        help=_(
            "entries per batch (DiskCache; default: sized so that a batch holds the write lock "
            "about 50 ms)"
        ),
    )


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """Django's global options on a subparser (see :data:`GLOBAL_OPTIONS`)."""
    for flags, extra in GLOBAL_OPTIONS:
        parser.add_argument(*flags, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **extra)
