"""Strict JSON for untrusted input.

Python's json module accepts duplicate keys (last one wins, so two parsers can disagree on what was signed),
NaN and Infinity (not JSON), lone UTF-16 surrogates (unencodable later, which would surface as a 500) and
arbitrary nesting. This module refuses all of them with one error type.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64


class StrictJsonError(ValueError):
    """The text is not acceptable JSON; the message names the rule, never the input."""


def _reject_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise StrictJsonError("duplicate object key")
        obj[key] = value
    return obj


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
def _finite_float(text: str) -> float:
    value = float(text)
    # 1e400 is valid JSON syntax but no double: Python makes it inf, which no JSON encoder can write back.
    if value in (float("inf"), float("-inf")):
        raise StrictJsonError("number out of range")
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_reject_constant, parse_float=_finite_float)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_tree(value: Any) -> None:
    # Iterative walk: the point is to bound depth, so it must not recurse itself.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > MAX_DEPTH:
                raise StrictJsonError(f"nesting deeper than {MAX_DEPTH}")
            for key, child in node.items():
                if _has_lone_surrogate(key):
                    raise StrictJsonError("lone surrogate in string")
                stack.append((child, depth + 1))
        elif isinstance(node, list):
            if depth > MAX_DEPTH:
                raise StrictJsonError(f"nesting deeper than {MAX_DEPTH}")
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str) and _has_lone_surrogate(node):
            raise StrictJsonError("lone surrogate in string")


def loads(data: str | bytes) -> Any:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StrictJsonError("not UTF-8") from exc
    try:
        value = _DECODER.decode(data)
    except json.JSONDecodeError as exc:
        raise StrictJsonError(f"syntax error at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise StrictJsonError(f"nesting deeper than {MAX_DEPTH}") from exc
    except StrictJsonError:
        raise
    except ValueError as exc:  # integers longer than sys.get_int_max_str_digits()
        raise StrictJsonError("number too large") from exc
    # The walk is only needed when the text could break a rule: enough brackets to nest past the limit, or a
    # \uD800-\uDFFF escape (decoded UTF-8 itself can never hold a surrogate).
    if data.count("[") + data.count("{") > MAX_DEPTH or _SURROGATE_ESCAPE.search(data):
        _check_tree(value)
    return value


# Bound once: json.dumps with keyword arguments builds a new encoder on every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def dumps_compact(value: Any) -> str:
    return _COMPACT(value)
