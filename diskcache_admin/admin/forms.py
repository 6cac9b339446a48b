"""Forms of the admin pages: the key search (GET) and the confirmations (POST)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from ..conf import conf
from ..inspection.base import Adapter, KeyQuery, MatchMode, Order

MATCH_CHOICES = [("prefix", "starts with"), ("glob", "glob (* ? [])"), ("substring", "contains")]
ORDER_CHOICES = [("key", "key"), ("size", "size"), ("stored", "stored"), ("expires", "expires")]
EXPIRED_CHOICES = [("", "all"), ("no", "live only"), ("yes", "expired only")]
PAGE_SIZES = (25, 50, 100, 200)


class KeySearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=10_000)
    match = forms.ChoiceField(choices=MATCH_CHOICES, required=False, initial="prefix")
    family = forms.CharField(required=False, max_length=1000)
    tag = forms.CharField(required=False, max_length=1000)
    expired = forms.ChoiceField(choices=EXPIRED_CHOICES, required=False)
    o = forms.ChoiceField(choices=ORDER_CHOICES, required=False, label="Sort by")
    desc = forms.BooleanField(required=False, label="descending")
    per_page = forms.TypedChoiceField(
        choices=[(n, n) for n in PAGE_SIZES], coerce=int, required=False, empty_value=None
    )
    cursor = forms.CharField(required=False, widget=forms.HiddenInput, max_length=20_000)

    def __init__(self, *args: Any, adapter: Adapter | None = None, **kwargs: Any) -> None:
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

    def query(self, *, with_cursor: bool = True) -> KeyQuery:
        """The adapter query; call after ``is_valid()``. Invalid fields fall back to defaults.

        Keys under ``DISKCACHE_ADMIN_HIDDEN_PREFIXES`` are always excluded.
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
    version = forms.IntegerField(required=False)


class ConfirmForm(forms.Form):
    confirm = forms.CharField(widget=forms.HiddenInput, initial="yes")

    def clean_confirm(self) -> str:
        value: str = self.cleaned_data["confirm"]
        if value != "yes":
            raise forms.ValidationError("Confirm the action.")
        return value


class TypeAliasForm(ConfirmForm):
    """A confirmation that only passes when the user types the alias name."""

    typed = forms.CharField(label="Type the alias name to confirm", strip=True)

    def __init__(self, *args: Any, alias: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alias = alias

    def clean_typed(self) -> str:
        typed: str = self.cleaned_data["typed"]
        if typed != self.alias:
            raise forms.ValidationError(f"Type {self.alias!r} exactly to confirm.")
        return typed


class TagForm(forms.Form):
    tag = forms.CharField(max_length=1000)


class TouchForm(forms.Form):
    timeout = forms.IntegerField(
        required=False,
        min_value=0,
        label="Expire in (seconds)",
        help_text="0 expires the entry now.",
    )
    never = forms.BooleanField(required=False, label="Never expire")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("never") and cleaned.get("timeout") is None:
            raise forms.ValidationError("Give a number of seconds or tick 'Never expire'.")
        return cleaned

    def new_timeout(self) -> float | None:
        if self.cleaned_data.get("never"):
            return None
        return float(self.cleaned_data["timeout"])
