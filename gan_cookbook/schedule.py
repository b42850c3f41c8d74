"""Learning rates that fall to zero over a run, with Keras' own schedule.

GAN training at a constant rate ends wherever the last steps left G; a rate that
falls to zero at the run's last step lets the last epochs refine what G has found
(measured in ``gan_cookbook/recipes/mnist_quick.py``). Keras' optimizers take a
``keras.optimizers.schedules.LearningRateSchedule`` as their learning rate and
evaluate it from their step count inside their compiled update, on every backend
and in the fused engine alike; the step count is checkpointed with the optimizer,
so a resumed run goes on at the rate it stopped at.

A recipe asks for the decay with ``learning_rate_decay="linear"``; the schedule
needs the run's length in steps, which only the run knows (epochs, batch size and
images, each of which a command can change), so
:func:`~gan_cookbook.gan_model.build_gan_model` applies it with
:func:`decaying_optimizer` when it is given the run's steps.
"""

from __future__ import annotations

from typing import Any

import keras

from gan_cookbook.checks import check_integer

LEARNING_RATE_DECAYS = ("linear",)
"""The decays a recipe may ask for: ``"linear"``, from the optimizer's rate to 0."""


def check_learning_rate_decay(decay: Any) -> str | None:
    """``decay`` checked to be ``None`` or one of :data:`LEARNING_RATE_DECAYS`."""
    if decay is not None and decay not in LEARNING_RATE_DECAYS:
        raise ValueError(
            "`learning_rate_decay` must be None (constant rates) or one of "
            f"{', '.join(repr(name) for name in LEARNING_RATE_DECAYS)}. "
            f"Received: learning_rate_decay={decay!r}"
        )
    return decay


def decaying_optimizer(
    optimizer: keras.optimizers.Optimizer, steps: int
) -> keras.optimizers.Optimizer:
    """A fresh copy of ``optimizer`` whose learning rate falls linearly to 0.

    Args:
        optimizer: An optimizer with a constant learning rate that has not been
            built yet (its settings are copied through ``get_config``).
        steps: The step at which the rate reaches 0: the run's last. Later steps
            (none, in a run that knows its length) keep a rate of 0.

    Returns:
        The same kind of optimizer, its learning rate a
        ``keras.optimizers.schedules.PolynomialDecay`` of power 1 from the
        optimizer's rate at step 0 to 0 at step ``steps``.
    """
    steps = check_integer("steps", steps)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            "`optimizer` must be a keras.optimizers.Optimizer. "
            f"Received: optimizer={optimizer!r}"
        )
    config = optimizer.get_config()
    rate = config["learning_rate"]
    if not isinstance(rate, (int, float)):
        raise ValueError(
            "`optimizer` must have a constant learning rate to decay: this one "
            "follows a schedule already. Use the recipe's own schedule or "
            "learning_rate_decay, not both. "
            f"Received: learning_rate={rate!r}"
        )
    config["learning_rate"] = keras.optimizers.schedules.PolynomialDecay(
        float(rate), steps, end_learning_rate=0.0, power=1.0
    )
    return type(optimizer).from_config(config)
