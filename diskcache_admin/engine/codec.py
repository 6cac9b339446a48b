"""Turning values into signed bytes and back.

Every payload that could be unpickled carries an HMAC-SHA256 over the entry's full key, its mode
and the payload, so a row or value file written by anyone without the secret (or copied from
another key) is rejected *before* ``pickle.loads`` ever sees it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
from collections.abc import Sequence
from enum import IntEnum

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class Mode(IntEnum):
    """How a payload is encoded. Integers stay native so ``incr`` can run inside SQL."""

    INT = 0
    PICKLE = 1
    JSON = 2


class BadSignature(ValueError):
    """The payload's signature does not verify with any known key."""


class CorruptValue(ValueError):
    """The payload verified (or was unsigned) but could not be decoded."""


class UnserializableValue(pickle.PicklingError):
    """The value cannot be stored with the configured serializer."""


SERIALIZERS = ("pickle", "json")


def is_native_int(value: object) -> bool:
    # bool is an int subclass; it must round-trip as bool, so it is pickled instead.
    return type(value) is int and _INT64_MIN <= value <= _INT64_MAX


class Codec:
    """Serialises and signs values; ``keys[0]`` signs, every key verifies (for rotation)."""

    def __init__(
        self,
        keys: Sequence[bytes],
        serializer: str = "pickle",
        pickle_protocol: int = pickle.HIGHEST_PROTOCOL,
    ) -> None:
        if not keys:
            raise ValueError("Codec needs at least one signing key.")
        if serializer not in SERIALIZERS:
            raise ValueError(f"Unknown serializer {serializer!r}; expected one of {SERIALIZERS}.")
        self.keys = tuple(keys)
        self.serializer = serializer
        self.mode = Mode.PICKLE if serializer == "pickle" else Mode.JSON
        self.pickle_protocol = pickle_protocol

        self._macs = tuple(_HmacSha256(secret) for secret in self.keys)

    def sign(self, key: str, mode: int, payload: bytes) -> bytes:
        return self._macs[0].digest(_message(key, mode, payload))

    def verify(self, key: str, mode: int, payload: bytes, signature: bytes | None) -> bool:
        if signature is None:
            return False
        message = _message(key, mode, payload)
        if hmac.compare_digest(self._macs[0].digest(message), signature):
            return True  # the current key: every value written since the last rotation
        return any(hmac.compare_digest(mac.digest(message), signature) for mac in self._macs[1:])

    def dumps(self, key: str, value: object) -> tuple[int, bytes]:
        """Encode ``value``; raise :class:`UnserializableValue` with the key and type if not."""
        try:
            if self.mode is Mode.PICKLE:
                return Mode.PICKLE, pickle.dumps(value, self.pickle_protocol)
            return Mode.JSON, json.dumps(value, separators=(",", ":")).encode()
        # PickleError, not only PicklingError: a __getstate__/__reduce__ may raise either.
        except (pickle.PickleError, TypeError, AttributeError, ValueError, RecursionError) as exc:
            raise UnserializableValue(
                f"Cannot store the value for key {key!r}: a {type(value).__qualname__} cannot be"
                f" serialized with {self.serializer} ({exc})."
            ) from exc

    def loads(self, key: str, mode: int, payload: bytes, signature: bytes | None) -> object:
        """Verify, then decode. Never unpickles anything whose signature fails."""
        if not self.verify(key, mode, payload, signature):
            raise BadSignature(key)
        try:
            if mode == Mode.PICKLE:
                return pickle.loads(payload)
            if mode == Mode.JSON:
                return json.loads(payload)
        except Exception as exc:  # a verified payload that still fails is corruption
            raise CorruptValue(f"{key!r}: {exc}") from exc
        raise CorruptValue(f"{key!r}: unknown mode {mode}")


class _HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the padded key's two hash states computed once.

    ``hmac.digest`` redoes that key setup on every call, which is most of its cost for the short
    payloads a cache mostly holds; the output is identical (a test compares the two).
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) > _BLOCK:
            secret = hashlib.sha256(secret).digest()
        padded = secret.ljust(_BLOCK, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_BLOCK = 64  # SHA-256's block size in bytes


def _message(key: str, mode: int, payload: bytes) -> bytes:
    # The key's length goes first: keys may hold NUL bytes, and without it the key "a\x001\x00x"
    # and the key "a" would share messages (and so signatures) for suitably shaped payloads.
    encoded = key.encode("utf-8", "surrogatepass")
    return b"%d\x00%s\x00%d\x00%s" % (len(encoded), encoded, mode, payload)
