"""The policy alone: keys, cacheability and invalidation with RequestFactory, no view run."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import RequestFactory, override_settings
from django.utils import translation

from diskcache_admin.decorators import CachePolicy, cached_view, memoize

rf = RequestFactory()


def never_called(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    raise AssertionError("the policy tests never run the view")


def get(path: str = "/", user: Any = None, **extra: Any) -> HttpRequest:
    request: Any = rf.get(path, **extra)
    request.user = user or SimpleNamespace(is_authenticated=False, pk=None)
    return request  # type: ignore[no-any-return]


def policy(key: Any = "club:{slug}", **options: Any) -> CachePolicy:
    view: Any = cached_view(key, **options)(never_called)
    result: CachePolicy = view.cache_policy
    return result


def test_a_format_key_is_filled_with_the_view_arguments() -> None:
    assert policy().key_for(get(), slug="chess") == "club:chess"
    assert policy("club:{0}:{1}").key_for(get(), "chess", 2) == "club:chess:2"


def test_a_missing_argument_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="needs the view argument 'slug'"):
        policy().key_for(get())


def test_a_key_callable_gets_the_request_and_may_return_none() -> None:
    def key(request: HttpRequest, slug: str) -> str | None:
        return None if request.GET.get("preview") else f"club:{slug}"

    assert policy(key).key_for(get(), slug="go") == "club:go"
    assert policy(key).key_for(get("/?preview=1"), slug="go") is None
    with pytest.raises(TypeError, match="not str"):
        policy(lambda request: 3).key_for(get())


@pytest.mark.parametrize(
    ("vary_on", "path", "extra", "expected"),
    [
        (["GET:page"], "/?page=2&utm=x", {}, "club:go|GET:page=2"),
        (["GET:page"], "/?page=", {}, "club:go|GET:page="),
        (["GET:page"], "/", {}, "club:go|GET:page"),
        (["GET:page"], "/?page=1&page=2", {}, "club:go|GET:page=1,2"),
        (["GET:q"], "/?q=a%7Cb%2Cc", {}, "club:go|GET:q=a%7Cb%2Cc"),
        (["header:Accept"], "/", {"HTTP_ACCEPT": "text/html"}, "club:go|header:accept=text%2Fhtml"),
        (["header:X-Tenant"], "/", {}, "club:go|header:x-tenant"),
        (["header:X-Tenant"], "/", {"HTTP_X_TENANT": ""}, "club:go|header:x-tenant="),
        (["user", "GET:page"], "/?page=3", {}, "club:go|user=anonymous|GET:page=3"),
    ],
)
def test_vary_on_spellings(vary_on: list[str], path: str, extra: Any, expected: str) -> None:
    assert policy(vary_on=vary_on).key_for(get(path, **extra), slug="go") == expected


def test_vary_on_the_user_and_the_language() -> None:
    checked = policy(vary_on=["user", "language"])
    member = SimpleNamespace(is_authenticated=True, pk=7)
    with translation.override("fr"):
        assert checked.key_for(get(user=member), slug="go") == "club:go|user=7|language=fr"
    request = get()
    request.LANGUAGE_CODE = "de"  # what LocaleMiddleware sets
    assert checked.key_for(request, slug="go") == "club:go|user=anonymous|language=de"


def test_per_user_true_adds_the_user() -> None:
    assert policy(per_user=True).key_for(get(), slug="go") == "club:go|user=anonymous"


def test_unknown_vary_spellings_fail_early() -> None:
    with pytest.raises(ValueError, match="GET:<param>"):
        policy(vary_on=["cookie:sessionid"])
    with pytest.raises(ValueError, match="Unknown vary_on"):
        policy(vary_on=["GET:"])


def test_request_rules() -> None:
    checked = policy()
    assert checked.refusal(get()) is None
    assert checked.refusal(rf.post("/")) == "POST requests are never cached"
    member = SimpleNamespace(is_authenticated=True, pk=1)
    assert "authenticated" in (checked.refusal(get(user=member)) or "")
    assert "Authorization" in (checked.refusal(get(HTTP_AUTHORIZATION="Basic x")) or "")
    assert policy(per_user=False).refusal(get(user=member)) is None
    assert policy(vary_on=["user"]).refusal(get(user=member)) is None
    assert policy(timeout=0).refusal(get()) == "timeout is 0"


def test_is_cacheable_needs_no_view() -> None:
    checked = policy()
    assert checked.is_cacheable(get(), HttpResponse("x"))
    assert not checked.is_cacheable(get(), HttpResponse("x", status=404))
    assert not checked.is_cacheable(rf.head("/"), HttpResponse("x"))
    assert not checked.is_cacheable(get(), StreamingHttpResponse([b"x"]))
    private = HttpResponse("x", headers={"Cache-Control": "PRIVATE"})
    assert checked.refusal(get(), private) == "the response says Cache-Control: private"
    star = HttpResponse("x", headers={"Vary": " * "})
    assert checked.refusal(get(), star) == "the response says Vary: *"
    accept = HttpResponse("x", headers={"Vary": "Accept-Language"})
    assert "accept-language" in (checked.refusal(get(), accept) or "")
    assert policy(vary_on=["language"]).is_cacheable(get(), accept)
    csrf_request = get()
    csrf_request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    assert checked.refusal(csrf_request, HttpResponse("x")) == "the response used the CSRF token"


def test_invalidation_without_running_the_view(backend: str) -> None:
    checked = policy(vary_on=["GET:page"])
    before = checked.storage_key(get("/?page=1"), slug="go")
    assert before == checked.storage_key(get("/?page=1"), slug="go")
    assert before != checked.storage_key(get("/?page=2"), slug="go")
    assert checked.invalidate(slug="go") is True
    after = checked.storage_key(get("/?page=1"), slug="go")
    assert after != before
    assert checked.invalidate(slug="elsewhere") is False


def test_a_callable_key_is_invalidated_with_a_request(backend: str) -> None:
    checked = policy(lambda request, slug: f"club:{slug}")
    key = checked.storage_key(get(), slug="go")
    assert key is not None
    cache.set(key, "stored")
    with pytest.raises(TypeError, match="request="):
        checked.invalidate(slug="go")
    assert checked.invalidate(slug="go", request=get()) is True
    assert cache.get(key) is None
    assert checked.invalidate_key("club:go") is False


def test_payloads_survive_a_json_serializer(tmp_cache_dir: str) -> None:
    json_cache = {
        "default": {
            "BACKEND": "diskcache_admin.backend.DiskCache",
            "LOCATION": tmp_cache_dir,
            "OPTIONS": {"SERIALIZER": "json"},
        }
    }
    calls: list[str] = []

    @cached_view("json:{slug}")
    def page(request: HttpRequest, slug: str) -> HttpResponse:
        calls.append(slug)
        return HttpResponse("caf\xe9".encode(), content_type="text/plain; charset=latin-1")

    @memoize()
    def nothing() -> None:
        calls.append("nothing")

    with override_settings(CACHES=json_cache):
        first, second = page(get(), slug="x"), page(get(), slug="x")
        nothing()
        nothing()
    assert second["X-Cache"] == "hit"
    assert second.content == first.content == "caf\xe9".encode()
    assert second["Content-Type"] == "text/plain; charset=latin-1"
    assert calls == ["x", "nothing"]
