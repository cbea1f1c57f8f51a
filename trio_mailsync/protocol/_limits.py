"""Caps that keep a hostile or broken server from exhausting memory or the stack."""

from __future__ import annotations

import attrs

__all__ = ["Limits"]

_KIB = 1024
_MIB = 1024 * _KIB

# The parser is iterative, but the typed views built from its output (body
# structures, mainly) recurse once per level, so the depth is kept well under
# Python's recursion limit whatever the caller configures.
MAX_CONFIGURABLE_DEPTH = 256


def _positive(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, not {value}")


def _depth(inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    _positive(inst, attribute, value)
    if value > MAX_CONFIGURABLE_DEPTH:
        raise ValueError(f"{attribute.name} must be at most {MAX_CONFIGURABLE_DEPTH}, not {value}")


@attrs.frozen(kw_only=True)
class Limits:
    """Per-connection bounds on what the server may send.

    Exceeding any of them raises :class:`RemoteProtocolError`. The defaults
    allow a UID SEARCH result for about a million messages on one line and a
    message of 64 MiB in one literal.
    """

    #: Longest line, without its CRLF, between two literals.
    max_line_length: int = attrs.field(default=8 * _MIB, validator=_positive)
    #: Largest single literal.
    max_literal_size: int = attrs.field(default=64 * _MIB, validator=_positive)
    #: Largest whole response, lines and literals together.
    max_response_size: int = attrs.field(default=128 * _MIB, validator=_positive)
    #: Deepest nesting of parenthesized lists.
    max_depth: int = attrs.field(default=64, validator=_depth)
    #: Most memory the untagged responses one command claims may take while it runs
    #: (they are kept for its completion): each counts its bytes plus 512 for its objects.
    #: A server answering one STATUS with an endless stream of STATUS data would otherwise
    #: grow memory without end. Commands that stream their data (``UidFetch(stream=True)``)
    #: hold one response at a time and are not counted.
    max_command_data: int = attrs.field(default=128 * _MIB, validator=_positive)
