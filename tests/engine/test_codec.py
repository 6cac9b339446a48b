"""The codec signs what it stores with standard HMAC-SHA256, and verifies before decoding."""

from __future__ import annotations

import hmac
import pickle

import pytest

from diskcache_admin.engine import BadSignature, Codec, Mode
from diskcache_admin.engine.codec import _message


@pytest.mark.parametrize("secret", [b"k", b"s" * 32, b"x" * 64, b"y" * 65, b"z" * 300])
@pytest.mark.parametrize("payload", [b"", b"short", b"\x00" * 5000])
def test_signatures_are_standard_hmac_sha256(secret: bytes, payload: bytes) -> None:
    codec = Codec([secret])

    signature = codec.sign("key", Mode.PICKLE, payload)

    assert signature == hmac.digest(secret, _message("key", Mode.PICKLE, payload), "sha256")


def test_the_signature_covers_the_key_the_mode_and_the_payload() -> None:
    codec = Codec([b"secret"])
    signature = codec.sign("key", Mode.PICKLE, b"payload")

    assert codec.verify("key", Mode.PICKLE, b"payload", signature)
    assert not codec.verify("other", Mode.PICKLE, b"payload", signature)
    assert not codec.verify("key", Mode.JSON, b"payload", signature)
    assert not codec.verify("key", Mode.PICKLE, b"payloaD", signature)
    assert not codec.verify("key", Mode.PICKLE, b"payload", None)


def test_keys_with_nul_bytes_cannot_borrow_another_keys_signature() -> None:
    codec = Codec([b"secret"])
    signature = codec.sign("a", 1, b"x\x001\x00payload")

    assert not codec.verify("a\x001\x00x", 1, b"payload", signature)


def test_fallback_keys_verify_but_never_sign() -> None:
    old, new = Codec([b"old"]), Codec([b"new", b"old"])
    signature = old.sign("k", Mode.PICKLE, b"p")

    assert new.verify("k", Mode.PICKLE, b"p", signature)
    assert new.sign("k", Mode.PICKLE, b"p") == Codec([b"new"]).sign("k", Mode.PICKLE, b"p")
    assert not Codec([b"new"]).verify("k", Mode.PICKLE, b"p", signature)


def test_loads_refuses_before_unpickling() -> None:
    codec = Codec([b"secret"])
    payload = pickle.dumps({"a": 1})

    assert codec.loads("k", Mode.PICKLE, payload, codec.sign("k", Mode.PICKLE, payload)) == {"a": 1}
    with pytest.raises(BadSignature):
        codec.loads("k", Mode.PICKLE, payload, b"\x00" * 32)


def test_a_codec_needs_a_key_and_a_known_serializer() -> None:
    with pytest.raises(ValueError, match="signing key"):
        Codec([])
    with pytest.raises(ValueError, match="serializer"):
        Codec([b"k"], serializer="yaml")
