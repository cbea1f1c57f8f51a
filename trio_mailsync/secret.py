"""A string that never shows itself in a repr, a traceback or a log line.

A leaf module (standard library only) below every layer: the protocol layer
wraps passwords and tokens in commands with it, the rest of the library keeps
them in settings and credentials with it.
"""

from __future__ import annotations

import hmac
from typing import NoReturn, final

__all__ = ["Secret"]


@final
class Secret:
    """Wraps a password or token so that printing it prints ``'***'``.

    Call :meth:`reveal` at the single place the value must go on the wire.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The value itself, at the one place it must go on the wire."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Secret is immutable")


def as_secret(value: str | Secret) -> Secret:
    """attrs converter: accept plain strings where a secret is expected."""
    return value if isinstance(value, Secret) else Secret(value)
