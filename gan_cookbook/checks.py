"""Checks of arguments shared by every layer; imports nothing of the package.

Messages name the argument and end with what was received, as Keras' do:
``ValueError: `epochs` must be an integer of at least 1. Received: epochs=0``.
"""

from __future__ import annotations

import numbers
from typing import Any


def is_integer(value: Any) -> bool:
    """Whether ``value`` is a whole number type (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_integer(
    name: str,
    value: Any,
    minimum: int | None = 1,
    maximum: int | None = None,
    *,
    optional: bool = False,
) -> Any:
    """Returns ``value`` as an ``int`` when it is an integer in range.

    Args:
        name: The argument's name, as the message gives it.
        value: What was received.
        minimum: The smallest value allowed, or ``None`` for no bound. Defaults to 1.
        maximum: The largest value allowed, or ``None`` for no bound.
        optional: ``None`` is allowed (and returned). Defaults to False.

    Raises:
        ValueError: ``value`` is not an integer (``True`` and ``2.0`` are not) or is
            out of range; the message names ``name`` and the range.
    """
    if value is None and optional:
        return None
    in_range = is_integer(value) and (
        (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    )
    if in_range:
        return int(value)
    if minimum is not None and maximum is not None:
        expected = f"an integer from {minimum} to {maximum}"
    elif minimum is not None:
        expected = f"an integer of at least {minimum}"
    elif maximum is not None:
        expected = f"an integer of at most {maximum}"
    else:
        expected = "an integer"
    raise ValueError(f"`{name}` must be {expected}. Received: {name}={value!r}")
