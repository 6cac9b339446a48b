"""The codec signs every field of an entry with keyed BLAKE2b, and the store's key fingerprint."""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

import pytest

from diskcache_admin.engine import Codec, CorruptValue, Mode
from diskcache_admin.engine.codec import digest, entry_message, fingerprint_of, int_content

FIELDS: dict[str, Any] = {
    "key": ":1:key",
    "user_key": "key",
    "prefix": "",
    "version": 1,
    "expire_time": 1234.5,
    "tag": "t",
    "mode": int(Mode.PICKLE),
    "size": 7,
    "content": digest(b"payload"),
}


def sign(codec: Codec, **changes: Any) -> bytes:
    return codec.sign(**{**FIELDS, **changes})


def verify(codec: Codec, signature: object, **changes: Any) -> bool:
    return codec.verify(signature, **{**FIELDS, **changes})


@pytest.mark.parametrize("secret", [b"k", b"s" * 32, b"x" * 64, b"z" * 300])
def test_signatures_are_standard_keyed_blake2b(secret: bytes) -> None:
    codec = Codec([secret])
    key = secret if len(secret) <= 64 else hashlib.blake2b(secret).digest()
    expected = hashlib.blake2b(
        entry_message(**FIELDS), key=key, digest_size=32, person=b"dca-entry"
    ).digest()

    assert sign(codec) == expected


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("key", ":1:other"),
        ("user_key", "other"),
        ("prefix", "p"),
        ("version", 2),
        ("expire_time", 1234.5000001),
        ("expire_time", None),
        ("tag", None),
        ("tag", "u"),
        ("mode", int(Mode.JSON)),
        ("size", 8),
        ("content", digest(b"payloaD")),
    ],
)
def test_the_signature_covers_every_field(field: str, other: object) -> None:
    codec = Codec([b"secret"])
    signature = sign(codec)

    assert verify(codec, signature)
    assert not verify(codec, signature, **{field: other})


def test_an_integer_is_signed_over_its_value() -> None:
    codec = Codec([b"secret"])
    signature = sign(codec, mode=int(Mode.INT), size=8, content=int_content(5))

    assert verify(codec, signature, mode=int(Mode.INT), size=8, content=int_content(5))
    assert not verify(codec, signature, mode=int(Mode.INT), size=8, content=int_content(6))


def test_fields_of_the_wrong_type_from_a_forged_row_never_verify() -> None:
    codec = Codec([b"secret"])
    signature = sign(codec)

    assert not verify(codec, signature, version="1")
    assert not verify(codec, signature, key=b":1:key")
    assert not verify(codec, signature, expire_time="soon")
    assert not verify(codec, None)
    assert not verify(codec, signature[:-1])


def test_length_prefixes_keep_nul_bytes_and_colons_from_shifting_fields() -> None:
    codec = Codec([b"secret"])
    signature = sign(codec, key="a", user_key="b:c")

    assert not verify(codec, signature, key="a1:b", user_key="c")
    assert not verify(codec, signature, key="a\x00", user_key="b:c")
    assert not verify(codec, sign(codec, tag="-"), tag=None)


def test_fallback_keys_verify_but_never_sign() -> None:
    old, new = Codec([b"old"]), Codec([b"new", b"old"])
    signature = sign(old)

    assert verify(new, signature)
    assert sign(new) == sign(Codec([b"new"]))
    assert not verify(Codec([b"new"]), signature)


def test_the_fingerprint_is_a_keyed_hash_never_the_key() -> None:
    secret = b"secret-signing-key"
    codec = Codec([secret, b"fallback"])

    assert codec.fingerprint == fingerprint_of(secret)
    assert len(codec.fingerprint) == 16
    assert secret not in codec.fingerprint
    assert codec.fingerprint != Codec([b"other"]).fingerprint
    assert codec.owns(codec.fingerprint)
    assert codec.owns(fingerprint_of(b"fallback"))
    assert not codec.owns(fingerprint_of(b"other"))
    assert not codec.owns(None)


def test_decode_reports_corruption() -> None:
    assert Codec.decode("k", Mode.PICKLE, pickle.dumps({"a": 1})) == {"a": 1}
    with pytest.raises(CorruptValue):
        Codec.decode("k", Mode.PICKLE, b"not a pickle")
    with pytest.raises(CorruptValue):
        Codec.decode("k", 9, b"x")


def test_a_codec_needs_a_key_and_a_known_serializer() -> None:
    with pytest.raises(ValueError, match="signing key"):
        Codec([])
    with pytest.raises(ValueError, match="serializer"):
        Codec([b"k"], serializer="yaml")
