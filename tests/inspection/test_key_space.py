"""Which stored keys belong to a Redis alias: a property test of KeySpace, no server needed."""

from __future__ import annotations

from django.core.cache import caches
from hypothesis import given, settings
from hypothesis import strategies as st

from diskcache_admin.inspection import _common
from diskcache_admin.inspection.redis import key_space

from .conftest import configure

REDIS = "django.core.cache.backends.redis.RedisCache"
DJANGO_REDIS = "django_redis.cache.RedisCache"

# Any str Django accepts as a key part (no lone surrogates: they cannot be encoded as UTF-8).
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
versions = st.integers(min_value=-(10**6), max_value=10**12)


def made(prefix: str, key: str, version: int) -> bytes:
    return f"{prefix}:{version}:{key}".encode()


@settings(max_examples=150, deadline=None)
@given(
    prefix=text,
    inner=versions,
    key=text,
    version=versions,
    backend=st.sampled_from([REDIS, DJANGO_REDIS]),
)
def test_each_key_belongs_to_exactly_one_alias(
    prefix: str, inner: int, key: str, version: int, backend: str
) -> None:
    nested = f"{prefix}:{inner}"
    with configure(
        outer={"BACKEND": backend, "LOCATION": "redis://127.0.0.1:1/0", "KEY_PREFIX": prefix},
        inner={"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0", "KEY_PREFIX": nested},
    ):
        outer_space, inner_space = key_space(caches["outer"]), key_space(caches["inner"])
    # The inner alias's keys are its own, never the outer one's (the longer prefix wins).
    inner_key = made(nested, key, version)
    assert inner_space.owns(inner_key)
    assert not outer_space.owns(inner_key)
    # An outer key that cannot be read as an inner one is the outer alias's alone.
    outer_key = made(prefix, key, version)
    assert outer_space.owns(outer_key) is not inner_space.owns(outer_key)


@settings(max_examples=150, deadline=None)
@given(prefix=text, key=text, version=versions)
def test_every_made_key_is_owned_and_splits_back(prefix: str, key: str, version: int) -> None:
    with configure(
        only={"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0", "KEY_PREFIX": prefix}
    ):
        cache = caches["only"]
        space = key_space(cache)
        raw = cache.make_key(key, version=version)
        assert space.owns(raw.encode())
        assert _common.split_key(cache, raw) == (key, prefix, version)


@settings(max_examples=150, deadline=None)
@given(prefix=text, junk=st.binary(max_size=12), key=text)
def test_a_version_str_int_would_not_write_is_not_the_alias(
    prefix: str, junk: bytes, key: str
) -> None:
    with configure(
        only={"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0", "KEY_PREFIX": prefix}
    ):
        space = key_space(caches["only"])
    try:
        canonical = str(int(junk.decode("ascii"))).encode() == junk
    except (UnicodeDecodeError, ValueError):
        canonical = False
    raw = prefix.encode() + b":" + junk + b":" + key.encode()
    if not canonical and b":" not in junk:
        assert not space.owns(raw)
