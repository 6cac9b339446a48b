"""Forms of the admin pages: the key search (GET) and the confirmations (POST)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils.translation import gettext, gettext_lazy

from ..conf import conf
from ..inspection import KeyQuery, MatchMode, Order
from .helpers import key_from_token

if TYPE_CHECKING:
    from .visibility import VisibleAdapter

_ = gettext_lazy
MATCH_CHOICES = [
    ("prefix", _("starts with")),
    ("glob", _("glob (* ? [])")),
    ("substring", _("contains")),
]
ORDER_CHOICES = [
    ("key", _("key")),
    ("size", _("size")),
    ("stored", _("stored")),
    ("expires", _("expires")),
]
EXPIRED_CHOICES = [("", _("all")), ("no", _("live only")), ("yes", _("expired only"))]
PAGE_SIZES = (25, 50, 100, 200)
# Numbers a backend can take: SQLite integers are signed 64-bit.
INT64 = 2**63
# More keys than any page shows (200): a longer selection is not from these pages.
MAX_SELECTED = 1000
# Ten years: longer than any sensible expiry, small enough for every backend's arithmetic.
MAX_TIMEOUT = 10 * 366 * 24 * 3600
BAD_CURSOR = gettext_lazy("The page cursor is not valid; start from the first page.")


def cursor_parts(cursor: str) -> list[Any] | None:
    """The parts of a page cursor if every one is a value a backend can take, else None.

    Cursors are opaque to the admin, but they come back from the URL: whatever the adapter
    does with them, a part must be a plain scalar (no lists, no objects), an integer within
    64 bits, a finite float, or text that is valid UTF-8. Anything else is refused here with a
    400 rather than reaching the backend.
    """
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        parts = json.loads(text)
    except (binascii.Error, ValueError, RecursionError):
        return None
    if not isinstance(parts, list):
        return None
    for part in parts:
        if part is None or isinstance(part, bool):
            continue
        if isinstance(part, int):
            if not -INT64 < part < INT64:
                return None
        elif isinstance(part, float):
            if not math.isfinite(part):
                return None
        elif isinstance(part, str):
            try:
                part.encode("utf-8")
            except UnicodeEncodeError:
                return None
        else:
            return None
    return parts


class KeySearchForm(forms.Form):
    q = forms.CharField(required=False, label=_("Search"), max_length=10_000)
    match = forms.ChoiceField(
        choices=MATCH_CHOICES, required=False, initial="prefix", label=_("Match")
    )
    family = forms.CharField(required=False, max_length=1000)
    tag = forms.CharField(required=False, max_length=1000)
    expired = forms.ChoiceField(choices=EXPIRED_CHOICES, required=False)
    o = forms.ChoiceField(choices=ORDER_CHOICES, required=False, label=_("Sort by"))
    desc = forms.BooleanField(required=False, label=_("descending"))
    per_page = forms.TypedChoiceField(
        choices=[(n, n) for n in PAGE_SIZES], coerce=int, required=False, empty_value=None
    )
    cursor = forms.CharField(required=False, widget=forms.HiddenInput, max_length=20_000)

    def __init__(self, *args: Any, adapter: VisibleAdapter | None = None, **kwargs: Any) -> None:
        if args and args[0] is not None:
            # Show the defaults in the selects when the query string leaves them out.
            data = args[0].copy()
            data.setdefault("per_page", str(PAGE_SIZES[1]))
            args = (data, *args[1:])
        super().__init__(*args, **kwargs)
        self.default_order: str = "key"
        self.default_match: str = "prefix"
        if adapter is not None:
            if adapter.orders and "key" not in adapter.orders:
                self.default_order = adapter.orders[0]
            if adapter.match_modes and "prefix" not in adapter.match_modes:
                self.default_match = adapter.match_modes[0]
            # Offer only what the adapter can serve.
            match = self.fields["match"]
            assert isinstance(match, forms.ChoiceField)
            match.choices = [c for c in MATCH_CHOICES if c[0] in adapter.match_modes]
            order = self.fields["o"]
            assert isinstance(order, forms.ChoiceField)
            order.choices = [c for c in ORDER_CHOICES if c[0] in adapter.orders]
            for name in ("family", "tag", "expired"):
                if name not in adapter.key_filters:
                    del self.fields[name]

    def clean_cursor(self) -> str:
        cursor: str = self.cleaned_data["cursor"]
        if cursor and cursor_parts(cursor) is None:
            raise forms.ValidationError(BAD_CURSOR)
        return cursor

    def query(self, *, with_cursor: bool = True) -> KeyQuery:
        """The adapter query; call after ``is_valid()`` returned True.

        Keys under ``DISKCACHE_ADMIN_HIDDEN_PREFIXES`` are excluded here and again by the
        adapter wrapper (:class:`~diskcache_admin.admin.visibility.VisibleAdapter`).
        """
        data: dict[str, Any] = getattr(self, "cleaned_data", {})
        expired = {"yes": True, "no": False}.get(data.get("expired") or "")
        return KeyQuery(
            search=data.get("q") or "",
            match=cast(MatchMode, data.get("match") or self.default_match),
            family=data.get("family") or None,
            tag=data.get("tag") or None,
            expired=expired,
            order=cast(Order, data.get("o") or self.default_order),
            descending=bool(data.get("desc")),
            cursor=(data.get("cursor") or None) if with_cursor else None,
            limit=data.get("per_page") or 50,
            exclude_prefixes=conf.HIDDEN_PREFIXES,
        )

    def has_filter(self) -> bool:
        query = self.query()
        return bool(
            query.search or query.family or query.tag is not None or query.expired is not None
        )


class LookupForm(forms.Form):
    """Open one key by name: the only way in on backends that cannot list keys."""

    key = forms.CharField(max_length=10_000, strip=False)
    version = forms.IntegerField(required=False, min_value=-INT64 + 1, max_value=INT64 - 1)

    def clean_key(self) -> str:
        key: str = self.cleaned_data["key"]
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise forms.ValidationError(gettext_lazy("The key is not valid text.")) from None
        return key


class KeyTokensField(forms.Field):
    """The selected keys, as tokens (``k=...&k=...``); cleans to the stored keys."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        if not isinstance(value, (list, tuple)):
            raise forms.ValidationError(gettext_lazy("Select keys from the key list."))
        if len(value) > MAX_SELECTED:
            raise forms.ValidationError(
                gettext_lazy("Select at most %(limit)s keys at a time."),
                params={"limit": MAX_SELECTED},
            )
        raw_keys = []
        for token in value:
            raw_key = key_from_token(str(token))
            if raw_key is None:
                raise forms.ValidationError(gettext_lazy("A selected key is not a valid token."))
            raw_keys.append(raw_key)
        return list(dict.fromkeys(raw_keys))  # a key selected twice is deleted once


class KeySelectionForm(forms.Form):
    """The keys "delete selected" acts on, and where to go afterwards."""

    k = KeyTokensField(required=False)
    next = forms.CharField(required=False, max_length=10_000)


class ConfirmForm(forms.Form):
    confirm = forms.CharField(widget=forms.HiddenInput, initial="yes")

    def clean_confirm(self) -> str:
        value: str = self.cleaned_data["confirm"]
        if value != "yes":
            raise forms.ValidationError(_("Confirm the action."))
        return value


class TypeAliasForm(ConfirmForm):
    """A confirmation that only passes when the user types the alias name."""

    typed = forms.CharField(label=_("Type the alias name to confirm"), strip=True, max_length=1000)

    def __init__(self, *args: Any, alias: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alias = alias

    def clean_typed(self) -> str:
        typed: str = self.cleaned_data["typed"]
        if typed != self.alias:
            raise forms.ValidationError(
                gettext("Type “{alias}” exactly to confirm.").format(alias=self.alias)
            )
        return typed


class TagForm(forms.Form):
    tag = forms.CharField(max_length=1000)


class TouchForm(forms.Form):
    timeout = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_TIMEOUT,
        label=_("Expire in (seconds)"),
        help_text=_("0 expires the entry now."),
    )
    never = forms.BooleanField(required=False, label=_("Never expire"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("never") and cleaned.get("timeout") is None:
            raise forms.ValidationError(_("Give a number of seconds or tick “Never expire”."))
        return cleaned

    def new_timeout(self) -> float | None:
        if self.cleaned_data.get("never"):
            return None
        return float(self.cleaned_data["timeout"])
