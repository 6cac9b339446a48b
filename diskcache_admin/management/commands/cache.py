"""``manage.py cache``: read, write and maintain any cache alias from the shell.

Every subcommand goes through :mod:`diskcache_admin.inspection`, so it works on each backend
whose adapter has the capability and fails with a clear message on the others.

Exit statuses: 0 done; 1 the answer is "no" (missing key, problems remain, clear cancelled) or
the backend failed; 2 the command was wrong (bad arguments or input, unknown alias, an
operation the backend cannot do); 130 interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any, NoReturn

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from diskcache_admin import audit
from diskcache_admin.inspection import all_adapters, get_adapter
from diskcache_admin.inspection.base import (
    Adapter,
    Capability,
    InspectionError,
    KeyInfo,
    Removal,
    Stats,
    Unsupported,
)
from diskcache_admin.management.cli import render
from diskcache_admin.management.cli.progress import Progress, call_with_progress, is_terminal

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

NEVER = ("never", "none")


def positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return number


def timeout_arg(text: str) -> float | None:
    """Seconds, or ``never``/``none`` for an entry that does not expire."""
    if text.strip().lower() in NEVER:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (or 'never')")
    return seconds


class Command(BaseCommand):
    help = (
        "Read, write and maintain a cache alias: get, set, store, delete, expire, evict, clear, "
        "path, check, stats, keys. Run 'cache SUBCOMMAND --help' for each one."
    )
    # A maintenance tool must keep working on the healthy aliases while another alias (or an
    # unrelated app) fails a system check; a broken alias is reported when it is used.
    requires_system_checks: list[str] = []
    # Lets tests and callers feed 'store KEY -' without replacing sys.stdin.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(
            dest="subcommand", metavar="SUBCOMMAND", title="subcommands", required=True
        )

        def add(name: str, summary: str) -> argparse.ArgumentParser:
            sub: argparse.ArgumentParser = subcommands.add_parser(
                name, help=summary, description=summary
            )
            sub.add_argument(
                "--alias", default="default", help="the CACHES alias (default: %(default)s)"
            )
            return sub

        def add_version(sub: argparse.ArgumentParser) -> None:
            sub.add_argument(
                "--version", type=int, default=None, help="key version (default: the alias's)"
            )

        def add_timeout(sub: argparse.ArgumentParser) -> None:
            sub.add_argument(
                "--timeout",
                type=timeout_arg,
                default=argparse.SUPPRESS,
                metavar="SECONDS",
                help="seconds until it expires, or 'never' (default: the alias's TIMEOUT)",
            )

        sub = add("get", "Print a value; exit status 1 when the key is missing.")
        sub.add_argument("key")
        add_version(sub)
        sub.add_argument("--json", action="store_true", help="print a JSON document")

        sub = add("set", "Store VALUE (a string, or JSON with --json) under KEY.")
        sub.add_argument("key")
        sub.add_argument("value")
        add_timeout(sub)
        sub.add_argument("--json", action="store_true", help="parse VALUE as JSON")
        sub.add_argument("--tag", default=None, help="tag the entry (DiskCache)")
        add_version(sub)

        sub = add("store", "Store a file's bytes under KEY ('-' reads standard input).")
        sub.add_argument("key")
        sub.add_argument("file")
        add_timeout(sub)
        sub.add_argument("--tag", default=None, help="tag the entry (DiskCache)")
        add_version(sub)

        sub = add("delete", "Delete keys; reports how many existed.")
        sub.add_argument("keys", nargs="+", metavar="KEY")
        add_version(sub)

        add("expire", "Purge expired entries; reports how many and how many bytes.")

        sub = add("evict", "Remove the entries stored with TAG.")
        sub.add_argument("tag")

        sub = add("clear", "Remove every entry of the alias (for Redis: its KEY_PREFIX).")
        sub.add_argument(
            "--yes",
            "-y",
            "--noinput",
            "--no-input",
            dest="interactive",
            action="store_false",
            help="do not ask for confirmation",
        )
        sub.add_argument("--dry-run", action="store_true", help="only say what would go")
        sub.add_argument(
            "--flush-db",
            action="store_true",
            help="flush the whole server database, other aliases' and apps' data included",
        )

        add("path", "Print where the cache stores its data.")

        sub = add("check", "Integrity check; exit status 1 when problems remain.")
        sub.add_argument("--fix", action="store_true", help="repair what can be repaired")

        sub = add("stats", "Print the alias's statistics.")
        sub.add_argument("--json", action="store_true", help="print a JSON document")
        sub.add_argument("--all", action="store_true", help="every alias in CACHES")

        sub = add("keys", "List keys (glob PATTERN), streaming.")
        sub.add_argument("pattern", nargs="?", default=None)
        sub.add_argument("--limit", type=positive_int, default=None, help="stop after N keys")
        sub.add_argument("--json", action="store_true", help="one JSON object per line")

    # -- plumbing ----------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        self._stdout_stream: IO[str] = options.get("stdout") or sys.stdout
        self._stderr_stream: IO[str] = options.get("stderr") or sys.stderr
        self._stdin: IO[bytes] | None = options.get("stdin")
        handler = getattr(self, "do_" + options["subcommand"])
        try:
            handler(options)
        except Unsupported as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from exc
        except InspectionError as exc:
            message = str(exc)
            alias = options.get("alias", "")
            if repr(alias) not in message:
                message = f"Cache {alias!r}: {message}"
            raise CommandError(message, returncode=EXIT_FAILED) from exc
        except KeyboardInterrupt:
            raise CommandError("Interrupted.", returncode=EXIT_INTERRUPTED) from None

    def adapter(self, alias: str) -> Adapter:
        if alias not in settings.CACHES:
            known = ", ".join(repr(name) for name in settings.CACHES) or "none"
            raise CommandError(
                f"Unknown cache alias {alias!r}; the aliases in CACHES are: {known}.",
                returncode=EXIT_USAGE,
            )
        adapter = get_adapter(alias)
        if adapter.error is not None:
            raise CommandError(
                f"Cache {alias!r} cannot be inspected: {adapter.error}", returncode=EXIT_FAILED
            )
        return adapter

    @staticmethod
    def describe(adapter: Adapter) -> str:
        return f"cache {adapter.alias!r} ({adapter.backend_name})"

    def progress(
        self, description: str, total: int | Callable[[], int | None] | None = None
    ) -> Progress:
        shown = is_terminal(self._stderr_stream)
        return Progress(self._stderr_stream if shown else None, description, total=total)

    def audit(self, adapter: Adapter, action: str, summary: str) -> None:
        """Write the audit record the admin writes too (who = the OS user, via = cli)."""
        try:
            audit.record(
                alias=adapter.alias,
                action=action,
                summary=summary,
                user=None,
                via="cli",
                os_user=audit.current_os_user(),
            )
        except DatabaseError as exc:
            raise CommandError(
                f"{summary} But the audit record could not be written: {exc}",
                returncode=EXIT_FAILED,
            ) from exc

    def interrupted(self, adapter: Adapter, action: str, progress: Progress, what: str) -> NoReturn:
        """Record and report an operation stopped by Ctrl-C, then exit with status 130."""
        if not progress.tracked:
            done = "how many entries went is unknown (the backend does not report progress)"
        elif progress.done:
            done = f"{render.entries(progress.done)} removed"
        else:
            done = "nothing removed"
        self.audit(adapter, action, f"{what} of {self.describe(adapter)} interrupted: {done}.")
        hint = ""
        if adapter.can(Capability.CHECK):
            hint = f" 'cache check --alias {adapter.alias}' verifies the store."
        raise CommandError(
            f"Interrupted: {done}. What was removed stays removed; entries not yet removed are "
            f"intact.{hint}",
            returncode=EXIT_INTERRUPTED,
        )

    def timeout(self, adapter: Adapter, options: dict[str, Any]) -> float | None:
        if "timeout" in options:
            return options["timeout"]  # type: ignore[no-any-return]
        default: float | None = adapter.cache.default_timeout
        return default

    @staticmethod
    def expiry_text(timeout: float | None) -> str:
        return "never expires" if timeout is None else f"expires in {timeout:g} s"

    def write_bytes(self, data: bytes) -> None:
        buffer = getattr(self._stdout_stream, "buffer", None)
        if buffer is None:
            raise CommandError(
                "The value is bytes and this output takes only text; use --json.",
                returncode=EXIT_FAILED,
            )
        self._stdout_stream.flush()
        buffer.write(data)
        buffer.flush()

    # -- subcommands -------------------------------------------------------------------------

    def do_get(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        adapter.require_capability(Capability.PEEK)
        key, version = options["key"], options["version"]
        found, value = adapter.peek(adapter.make_raw_key(key, version))
        if options["json"]:
            document = render.get_document(adapter.alias, key, version, found, value)
            self.stdout.write(json.dumps(document, ensure_ascii=False))
        elif found and isinstance(value, (bytes, bytearray, memoryview)):
            self.write_bytes(bytes(value))
        elif found:
            self.stdout.write(render.value_text(value))
        if not found:
            raise CommandError(
                f"Key {key!r} not found in {self.describe(adapter)}.", returncode=EXIT_FAILED
            )

    def do_set(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        adapter.require_capability(Capability.SET)
        value: Any = options["value"]
        if options["json"]:
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise CommandError(
                    f"VALUE is not valid JSON: {exc}.", returncode=EXIT_USAGE
                ) from exc
        self.store_value(adapter, options, value, f"a {render.type_name(value)}")

    def do_store(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        adapter.require_capability(Capability.SET)
        path = options["file"]
        try:
            if path == "-":
                stream = self._stdin or sys.stdin.buffer
                data = stream.read()
            else:
                with open(path, "rb") as file:
                    data = file.read()
        except OSError as exc:
            name = "standard input" if path == "-" else repr(path)
            raise CommandError(
                f"Cannot read {name}: {exc.strerror or exc}.", returncode=EXIT_USAGE
            ) from exc
        self.store_value(adapter, options, data, render.human_size(len(data)))

    def store_value(self, adapter: Adapter, options: dict[str, Any], value: Any, what: str) -> None:
        key, tag, version = options["key"], options["tag"], options["version"]
        timeout = self.timeout(adapter, options)
        adapter.set(key, value, timeout, tag=tag, version=version)
        tagged = f", tag {tag!r}" if tag else ""
        summary = (
            f"Stored {key!r} ({what}{tagged}) in {self.describe(adapter)}; "
            f"it {self.expiry_text(timeout)}."
        )
        self.audit(adapter, options["subcommand"], summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def do_delete(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        adapter.require_capability(Capability.DELETE)
        keys: list[str] = list(dict.fromkeys(options["keys"]))
        raw_keys = [adapter.make_raw_key(key, options["version"]) for key in keys]
        deleted = adapter.delete(raw_keys)
        asked = render.plural(len(keys), "key")
        summary = f"Deleted {deleted:,} of {asked} from {self.describe(adapter)}."
        self.audit(adapter, "delete", summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def do_expire(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        adapter.require_capability(Capability.EXPIRE)
        with self.progress("Purging expired entries", total=lambda: self.expired(adapter)) as bar:
            try:
                removal = call_with_progress(adapter.expire, bar)
            except KeyboardInterrupt:
                self.interrupted(adapter, "expire", bar, "Purging expired entries")
        summary = f"Purged expired entries from {self.describe(adapter)}: {self.removed(removal)}."
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
        adapter.require_capability(Capability.EVICT_TAG)
        tag = options["tag"]
        with self.progress(f"Evicting tag {tag!r}") as bar:
            try:
                removal = call_with_progress(adapter.evict, bar, tag=tag)
            except KeyboardInterrupt:
                self.interrupted(adapter, "evict", bar, f"Evicting tag {tag!r}")
        summary = f"Evicted tag {tag!r} from {self.describe(adapter)}: {self.removed(removal)}."
        self.audit(adapter, "evict", summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def do_clear(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        if options["flush_db"]:
            self.flush_db(adapter, options)
            return
        adapter.require_capability(Capability.CLEAR)
        preview = adapter.clear_preview()
        scope = f"{self.describe(adapter)} at {adapter.location() or 'its location'}"
        if adapter.can(Capability.FLUSH_DB):
            # On a shared server database, clear is scoped to the alias's keys: say which.
            scope += f", keys with prefix {adapter.cache.key_prefix!r}"
        going = self.removed(preview)
        if options["dry_run"]:
            self.stdout.write(f"Would remove {going} from {scope}.")
            return
        if options["interactive"]:
            self.confirm(f"This removes {going} from {scope}.", "Clear")
        with self.progress(f"Clearing {adapter.alias}", total=preview.count) as bar:
            try:
                removal = call_with_progress(adapter.clear, bar)
            except KeyboardInterrupt:
                self.interrupted(adapter, "clear", bar, "Clearing")
        summary = f"Cleared {self.describe(adapter)}: removed {self.removed(removal)}."
        self.audit(adapter, "clear", summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def flush_db(self, adapter: Adapter, options: dict[str, Any]) -> None:
        adapter.require_capability(Capability.FLUSH_DB)
        target = (
            f"the WHOLE database at {adapter.location()} ({self.describe(adapter)}): every key "
            "in it, including other aliases' and other applications' data"
        )
        if options["dry_run"]:
            self.stdout.write(f"Would flush {target}.")
            return
        if options["interactive"]:
            self.confirm(f"This flushes {target}.", "Flush")
        try:
            adapter.flush_db()
        except KeyboardInterrupt:
            # One server command: either it ran or it did not; say so honestly.
            raise CommandError(
                "Interrupted: the flush may or may not have run on the server.",
                returncode=EXIT_INTERRUPTED,
            ) from None
        summary = f"Flushed the whole database at {adapter.location()} ({adapter.alias!r})."
        self.audit(adapter, "flush_db", summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def confirm(self, statement: str, action: str) -> None:
        """Ask before a destructive step; anything but 'yes' cancels it."""
        self.stdout.write(self.style.WARNING(statement))
        try:
            answer = input("Type 'yes' to continue, or 'no' to cancel: ")
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer.strip().lower() == "yes":
            return
        raise CommandError(
            f"{action} cancelled; nothing was removed (use --yes to skip the question).",
            returncode=EXIT_FAILED,
        )

    def do_path(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        location = adapter.location()
        if not location:
            raise CommandError(
                f"{self.describe(adapter).capitalize()} has no storage location.",
                returncode=EXIT_FAILED,
            )
        self.stdout.write(location)

    def do_check(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        adapter.require_capability(Capability.CHECK)
        with self.progress(f"Checking {adapter.alias}", total=None) as bar:
            try:
                problems = call_with_progress(adapter.check, bar, fix=options["fix"])
            except KeyboardInterrupt:
                raise CommandError(
                    "Interrupted: the check stopped early; repairs already made are kept.",
                    returncode=EXIT_INTERRUPTED,
                ) from None
        for problem in problems:
            status = "fixed" if problem.fixed else "PROBLEM"
            line = f"{status}: {problem.kind}: {render.printable(problem.detail)}"
            self.stdout.write(line, self.style.SUCCESS if problem.fixed else self.style.ERROR)
        remaining = sum(not problem.fixed for problem in problems)
        fixed = len(problems) - remaining
        if fixed:
            summary = f"Repaired {render.plural(fixed, 'problem')} in {self.describe(adapter)}."
            self.audit(adapter, "check", summary)
        if remaining:
            hint = "" if options["fix"] else " Run with --fix to repair what can be repaired."
            raise CommandError(
                f"{render.plural(remaining, 'problem')} left in {self.describe(adapter)}.{hint}",
                returncode=EXIT_FAILED,
            )
        done = f"fixed {render.plural(fixed, 'problem')}" if fixed else "no problems found"
        self.stdout.write(self.style.SUCCESS(f"Checked {self.describe(adapter)}: {done}."))

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
            self.stdout.write(json.dumps(output, ensure_ascii=False, default=str))
        if failed:
            names = ", ".join(repr(alias) for alias in failed)
            raise CommandError(f"No statistics from {names}.", returncode=EXIT_FAILED)

    def write_stats(self, adapter: Adapter, stats: Stats | None, error: str | None) -> None:
        location = adapter.location()
        heading = f"{self.describe(adapter)}" + (f" at {location}" if location else "")
        self.stdout.write(self.style.MIGRATE_HEADING(heading[0].upper() + heading[1:]))
        if error is not None:
            self.stdout.write(self.style.ERROR(f"  error: {error}"))
        elif stats is None:
            self.stdout.write("  no statistics available for this backend")
        else:
            rows = render.stats_lines(stats) or [("statistics", "none reported")]
            width = max(len(label) for label, _ in rows)
            for label, value in rows:
                self.stdout.write(f"  {label.ljust(width)}  {value}")

    def do_keys(self, options: dict[str, Any]) -> None:
        adapter = self.adapter(options["alias"])
        adapter.require_capability(Capability.LIST_KEYS)
        as_json = options["json"]
        # The listed keys show the way themselves on a terminal; the bar is for redirections.
        shown = is_terminal(self._stderr_stream) and not is_terminal(self._stdout_stream)
        bar = Progress(self._stderr_stream if shown else None, "Listing keys", unit="keys")
        keys: Iterator[KeyInfo] = adapter.iter_keys(options["pattern"] or None)
        try:
            for info in itertools.islice(keys, options["limit"]):
                if as_json:
                    self.stdout.write(json.dumps(render.key_json(info), ensure_ascii=False))
                else:
                    self.stdout.write(render.printable(info.key))
                bar.advance(1)
        except KeyboardInterrupt:
            raise CommandError(
                f"Interrupted after {render.plural(bar.done, 'key')}.", returncode=EXIT_INTERRUPTED
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
