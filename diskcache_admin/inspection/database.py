"""Django's DatabaseCache: its table, read through Django's connection for the cache's database.

The table holds the made key (``cache_key``), the base64 of the pickled value and the expiry.
Keys are paged by keyset on ``cache_key`` (its primary key) or on ``(expires, cache_key)``;
searches narrow the scan with ``LIKE`` and are then matched exactly in Python, because ``LIKE``
folds case on some databases and not on others.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import pickle
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar

from django.conf import settings
from django.core.cache.backends.db import DatabaseCache
from django.db import DatabaseError, connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.timezone import now as tz_now

from . import _common
from .base import (
    Adapter,
    Capability,
    InspectionError,
    KeyInfo,
    KeyPage,
    KeyQuery,
    MatchMode,
    Order,
    Removal,
    Stats,
)

_BATCH = 200


def _like_escape(text: str) -> str:
    # "!" rather than a backslash: MySQL treats a backslash in a string literal as an escape.
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


class DatabaseAdapter(Adapter):
    capabilities = frozenset(
        {
            Capability.STATS,
            Capability.LIST_KEYS,
            Capability.SEARCH,
            Capability.KEY_INFO,
            Capability.PEEK,
            Capability.SET,
            Capability.DELETE,
            Capability.TOUCH,
            Capability.CLEAR,
            Capability.EXPIRE,
        }
    )
    orders: ClassVar[tuple[Order, ...]] = ("key", "expires")
    match_modes: ClassVar[tuple[MatchMode, ...]] = ("prefix", "glob", "substring")
    key_filters = frozenset({"family", "expired"})
    _backend_label = "DatabaseCache"

    cache: DatabaseCache

    def location(self) -> str:
        return f"table {self.cache._table} in database {self._db(write=False)!r}"  # type: ignore[attr-defined]

    # -- plumbing ----------------------------------------------------------------------------

    def _error_types(self) -> tuple[type[BaseException], ...]:
        return (DatabaseError,)

    def _db(self, *, write: bool) -> str:
        model = self.cache.cache_model_class
        db = router.db_for_write(model) if write else router.db_for_read(model)
        return str(db)

    def _connection(self, *, write: bool = False) -> BaseDatabaseWrapper:
        return connections[self._db(write=write)]

    def _sql(self, connection: BaseDatabaseWrapper, template: str) -> str:
        """``template`` with ``{table}``, ``{key}``, ``{value}``, ``{expires}`` quoted."""
        quote = connection.ops.quote_name
        return template.format(
            table=quote(self.cache._table),  # type: ignore[attr-defined]
            key=quote("cache_key"),
            value=quote("value"),
            expires=quote("expires"),
        )

    def _run(
        self, template: str, params: Sequence[Any] = (), *, write: bool = False
    ) -> tuple[list[tuple[Any, ...]], int]:
        connection = self._connection(write=write)
        try:
            with connection.cursor() as cursor:
                cursor.execute(self._sql(connection, template), list(params))
                rows = cursor.fetchall() if cursor.description else []
                return [tuple(row) for row in rows], cursor.rowcount
        except DatabaseError as exc:
            raise InspectionError(
                f"Cache {self.alias!r} (DatabaseCache, {self.location()}): {exc}"
            ) from exc

    def _to_datetime(self, value: Any) -> datetime:
        connection = self._connection()
        expression = models.Expression(output_field=models.DateTimeField())
        converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(
            connection
        )
        for converter in converters:
            value = converter(value, expression, connection)
        assert isinstance(value, datetime)
        return value

    @staticmethod
    def _epoch(value: datetime) -> float | None:
        if value.year >= 9999:  # Django stores "never expires" as datetime.max
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc) if settings.USE_TZ else value
        return value.timestamp()

    def _adapt(self, value: datetime) -> Any:
        return self._connection().ops.adapt_datetimefield_value(value)

    def _now(self) -> Any:
        return self._adapt(tz_now())

    def _info(self, raw_key: str, size: int | None, expires: Any, now: float) -> KeyInfo:
        epoch = self._epoch(self._to_datetime(expires))
        return _common.key_info_for(
            self.cache,
            raw_key,
            size=size,
            expires=epoch,
            expired=epoch is not None and epoch < now,
        )

    # -- description -------------------------------------------------------------------------

    def stats(self) -> Stats:
        rows, _ = self._run(
            "SELECT COUNT(*), SUM(LENGTH({value})),"
            " SUM(CASE WHEN {expires} < %s THEN 1 ELSE 0 END) FROM {table}",
            [self._now()],
        )
        count, size, expired = rows[0]
        return Stats(
            entries=int(count),
            expired=int(expired or 0),
            size=int(size or 0),
            max_entries=self.cache._max_entries,
        )

    # -- keys --------------------------------------------------------------------------------

    def _prefilter(self, query: KeyQuery) -> tuple[str, list[Any]]:
        conditions: list[str] = []
        params: list[Any] = []
        literal = ""
        if query.search:
            if query.match == "glob":
                literal = query.search
                for position, char in enumerate(query.search):
                    if char in "*?[":
                        literal = query.search[:position]
                        break
            else:
                literal = query.search
        if literal:
            conditions.append("{key} LIKE %s ESCAPE '!'")
            params.append(f"%{_like_escape(literal)}%")
        if query.expired is True:
            conditions.append("{expires} < %s")
            params.append(self._now())
        elif query.expired is False:
            conditions.append("{expires} >= %s")
            params.append(self._now())
        return " AND ".join(conditions) or "1 = 1", params

    def _scan(self, query: KeyQuery) -> Iterator[tuple[KeyInfo, tuple[Any, str]]]:
        """Every matching key in the query's order, after its cursor, in batches."""
        where, params = self._prefilter(query)
        descending = query.descending
        op, direction = ("<", "DESC") if descending else (">", "ASC")
        after = _common.keyset_after(self.kind, query)
        now = tz_now().timestamp()
        while True:
            conditions, values = [where], list(params)
            if after is not None:
                if query.order == "key":
                    conditions.append(f"{{key}} {op} %s")
                    values.append(after[1])
                else:
                    moment = self._adapt(datetime.fromisoformat(after[0]))
                    conditions.append(
                        f"({{expires}} {op} %s OR ({{expires}} = %s AND {{key}} {op} %s))"
                    )
                    values.extend([moment, moment, after[1]])
            order_by = (
                f"{{key}} {direction}"
                if query.order == "key"
                else f"{{expires}} {direction}, {{key}} {direction}"
            )
            rows, _ = self._run(
                "SELECT {key}, LENGTH({value}), {expires} FROM {table}"
                f" WHERE {' AND '.join(conditions)} ORDER BY {order_by} LIMIT {_BATCH}",
                values,
            )
            for raw_key, size, expires in rows:
                moment = self._to_datetime(expires)
                after = (moment.isoformat(), raw_key)
                info = self._info(raw_key, size, expires, now)
                if _common.query_matches(query, info, now):
                    yield info, after
            if len(rows) < _BATCH:
                return

    def keys(self, query: KeyQuery) -> KeyPage:
        self.check_query(query)
        found: list[KeyInfo] = []
        last: tuple[Any, str] | None = None
        more = False
        for info, position in self._scan(query):
            if len(found) == query.limit:
                more = True
                break
            found.append(info)
            last = position
        cursor = None
        if more and last is not None:
            cursor = _common.keyset_cursor(self.kind, query, *last)
        return KeyPage(found, cursor)

    def iter_keys(self, pattern: str | None = None) -> Iterator[KeyInfo]:
        query = KeyQuery(search=pattern or "", match="glob")
        return (info for info, _position in self._scan(query))

    def _matching(self, query: KeyQuery) -> list[KeyInfo]:
        query = dataclasses.replace(query, order="key", cursor=None)
        self.check_query(query)
        return [info for info, _position in self._scan(query)]

    def delete_matching(self, query: KeyQuery) -> Removal:
        found = self._matching(query)
        deleted = self.delete([info.raw_key for info in found])
        return Removal(deleted, sum(info.size or 0 for info in found))

    def key_info(self, raw_key: str) -> KeyInfo | None:
        rows, _ = self._run(
            "SELECT {key}, LENGTH({value}), {expires} FROM {table} WHERE {key} = %s", [raw_key]
        )
        if not rows:
            return None
        return self._info(rows[0][0], rows[0][1], rows[0][2], tz_now().timestamp())

    def _stored(self, raw_key: str) -> tuple[str, int] | None:
        rows, _ = self._run("SELECT {value} FROM {table} WHERE {key} = %s", [raw_key])
        if not rows:
            return None
        text: str = self._connection().ops.process_clob(rows[0][0])
        return text, len(text)

    def _decode(self, stored: str, size: int | None) -> Any:
        _common.check_size(size)
        try:
            pickled = base64.b64decode(stored.encode())
        except binascii.Error as exc:
            raise InspectionError(f"The stored value is not valid base64: {exc}.") from exc
        return _common.unpickle(pickle.loads, pickled)

    # -- changes -----------------------------------------------------------------------------

    def delete(self, raw_keys: list[str]) -> int:
        deleted = 0
        for chunk in _common.chunks(raw_keys, 500):
            marks = ", ".join(["%s"] * len(chunk))
            _rows, count = self._run(
                f"DELETE FROM {{table}} WHERE {{key}} IN ({marks})", chunk, write=True
            )
            deleted += max(count, 0)
        return deleted

    def touch(self, raw_key: str, timeout: float | None) -> bool:
        expires_at = self.cache.get_backend_timeout(timeout)
        if expires_at is None:
            moment = datetime.max
        else:
            moment = datetime.fromtimestamp(
                expires_at, tz=timezone.utc if settings.USE_TZ else None
            )
        _rows, count = self._run(
            "UPDATE {table} SET {expires} = %s WHERE {key} = %s AND {expires} >= %s",
            [self._adapt(moment.replace(microsecond=0)), raw_key, self._now()],
            write=True,
        )
        return count > 0

    def clear_preview(self) -> Removal:
        rows, _ = self._run("SELECT COUNT(*), SUM(LENGTH({value})) FROM {table}")
        return Removal(int(rows[0][0]), int(rows[0][1] or 0))

    def clear(self) -> Removal:
        before = self.clear_preview()
        _rows, count = self._run("DELETE FROM {table}", write=True)
        return Removal(max(count, 0), before.size if count == before.count else None)

    def expire(self, progress: Callable[[int], None] | None = None) -> Removal:
        _rows, count = self._run(
            "DELETE FROM {table} WHERE {expires} < %s", [self._now()], write=True
        )
        return Removal(max(count, 0))
