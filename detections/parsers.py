"""JSON parsing that only lets through what can be stored.

PostgreSQL cannot store NUL characters, lone surrogates or infinite numbers in text or jsonb, and
deeply nested JSON exhausts the recursion limit: each would otherwise surface as a 500.
"""

import json
import math

from rest_framework.exceptions import ParseError

MAX_DEPTH = 20


def _reject_unstorable(value, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ParseError(f"JSON is nested deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        if "\x00" in value:
            raise ParseError("JSON strings may not contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError("JSON strings may not contain unpaired surrogates.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_unstorable(key, depth + 1)
            _reject_unstorable(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _reject_unstorable(item, depth + 1)


def json_body_parse(raw: bytes):
    """The body as JSON, or ParseError naming what is wrong with it."""
    if not raw:
        raise ParseError("The request body is empty; a JSON object is expected.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("The request body is not UTF-8.") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ParseError(f"JSON is nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:
        raise ParseError(f"Malformed JSON: {exc}") from None
    _reject_unstorable(data)
    return data


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """A number too large for a float (1e400) would be stored as Infinity, which jsonb refuses."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value
