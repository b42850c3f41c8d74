"""What a recipe feeds the loop: the noise G draws from and D's target for real images.

A leaf module: :class:`Noise` is a recipe setting, checked when the recipe is made, so
it imports no Keras until noise is drawn (:meth:`Noise.sample`), and
:func:`check_real_label` checks a recipe's ``real_label`` as the trainer does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Noise:
    """The distribution G's input is drawn from.

    Args:
        distribution: ``"uniform"`` (in ``[low, high)``) or ``"normal"``.
        low: Lower bound of the uniform distribution. Defaults to 0.
        high: Upper bound of the uniform distribution. Defaults to 1.
        mean: Mean of the normal distribution. Defaults to 0.
        stddev: Standard deviation of the normal distribution. Defaults to 1.
    """

    distribution: str = "uniform"
    low: float = 0.0
    high: float = 1.0
    mean: float = 0.0
    stddev: float = 1.0

    def __post_init__(self) -> None:
        if self.distribution not in ("uniform", "normal"):
            raise ValueError(
                '`distribution` must be "uniform" or "normal". '
                f"Received: distribution={self.distribution!r}"
            )
        if not self.low < self.high:
            raise ValueError(
                "`low` must be smaller than `high`. "
                f"Received: low={self.low}, high={self.high}"
            )
        if not self.stddev > 0:
            raise ValueError(
                f"`stddev` must be positive. Received: stddev={self.stddev}"
            )

    def sample(self, shape: Sequence[int], seed: Any = None) -> Any:
        """Draws a tensor of ``shape`` on the backend's device."""
        import keras  # a recipe is made, and checked, without a Keras backend

        if self.distribution == "uniform":
            return keras.random.uniform(
                shape, minval=self.low, maxval=self.high, seed=seed
            )
        return keras.random.normal(shape, mean=self.mean, stddev=self.stddev, seed=seed)


def check_real_label(real_label: float) -> float:
    """Returns ``real_label`` as a float if it is a target for real images, in
    (0.5, 1]."""
    if (
        isinstance(real_label, bool)
        or not isinstance(real_label, (int, float))
        or not 0.5 < real_label <= 1
    ):
        raise ValueError(
            "`real_label` must be D's target for real images, above 0.5 and at "
            "most 1 (0.9 for one-sided label smoothing). "
            f"Received: real_label={real_label!r}"
        )
    return float(real_label)
