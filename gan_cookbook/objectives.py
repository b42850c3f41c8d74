"""GAN objectives: the losses D and G are trained with, and the targets they are fed.

The loop's two calls stay the same for every objective: ``D.train_on_batch`` on real
and fake images with :attr:`Objective.real_target` and :attr:`Objective.fake_target`,
then ``d_on_g.train_on_batch`` on noise with :attr:`Objective.generator_target`.
What changes is D's output and the two compiled losses:

==================  =================  =============  ===========  ==========
name                D's output         D's loss       targets      G's loss
                                                      real / fake  (target)
==================  =================  =============  ===========  ==========
``standard``        probability        cross-entropy  1 / 0        BCE (1)
``least_squares``   score (linear)     squared error  1 / 0        MSE (1)
``hinge``           score (linear)     hinge          1 / -1       -D (-1)
``wasserstein``     score (linear)     mean(t * D)    -1 / 1       -D (-1)
==================  =================  =============  ===========  ==========

``standard`` is Goodfellow et al. (2014) with G's non-saturating loss;
``least_squares`` Mao et al. (2017), its 0-1 coding; ``hinge`` Lim and Ye (2017),
as Miyato et al. (2018) train it; ``wasserstein`` Arjovsky et al. (2017), whose
critic has clipped weights (:class:`~gan_cookbook.keras_objects.ClipWeights`) and
takes five steps per G step (``d_steps=5``).

A pair of one's own::

    w = objectives.get("wasserstein")
    critic.compile(optimizer=keras.optimizers.RMSprop(5e-5), loss=w.discriminator_loss)
    d_on_g = stack(generator, critic, keras.optimizers.RMSprop(5e-5),
                   loss=w.generator_loss)
    trainer = GANTrainer(generator, critic, d_on_g, objective="wasserstein", d_steps=5)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras

from gan_cookbook.keras_objects import WassersteinLoss

NAMES = ("standard", "least_squares", "hinge", "wasserstein")
"""The objectives :func:`get` knows."""

CLASS_LOSS = "sparse_categorical_crossentropy"
"""The loss of an auxiliary classifier's class head (ACGAN), on integer labels."""


@dataclass(frozen=True)
class Objective:
    """What D and G are trained to do.

    Attributes:
        name: One of :data:`NAMES`.
        discriminator_loss: D's compiled loss (a Keras loss, serializable).
        generator_loss: ``d_on_g``'s compiled loss.
        real_target: D's target for real images.
        fake_target: D's target for fakes.
        generator_target: ``d_on_g``'s target for G's images.
        probability: Whether D outputs a probability (ends in a sigmoid); the
            other objectives take an unbounded score (D ends in a linear layer).
        smoothable: Whether ``real_label`` below 1 (one-sided label smoothing)
            means anything: it scales the real target of a regression to 0 and 1,
            and would only shift a hinge or a critic's score.
    """

    name: str
    discriminator_loss: keras.losses.Loss
    generator_loss: keras.losses.Loss
    real_target: float
    fake_target: float
    generator_target: float
    probability: bool
    smoothable: bool

    @property
    def output_activation(self) -> str:
        """The activation D's last layer ends in: ``"sigmoid"`` or ``"linear"``."""
        return "sigmoid" if self.probability else "linear"

    def check_real_label(self, real_label: float) -> float:
        """Returns ``real_label``; ``ValueError`` if it is below 1 (one-sided label
        smoothing) where the targets are not smoothable."""
        if real_label != 1 and not self.smoothable:
            raise ValueError(
                "`real_label` below 1 is one-sided label smoothing, for the standard "
                f"and least_squares objectives; the {self.name} objective's targets "
                f"are fixed. Received: real_label={real_label!r}"
            )
        return real_label

    def check_losses(self, discriminator: keras.Model, d_on_g: keras.Model) -> None:
        """Raises ``ValueError`` unless D and ``d_on_g`` were compiled with this
        objective's losses (the first output's, for a D with a class head), in any
        of a loss's forms (:func:`loss_name`)."""
        for argument, model, expected, attribute in (
            ("discriminator", discriminator, self.discriminator_loss, "discriminator"),
            ("d_on_g", d_on_g, self.generator_loss, "generator"),
        ):
            loss = first_loss(model.loss)
            if loss_name(loss) != loss_name(expected):
                raise ValueError(
                    f"The {self.name} objective trains `{argument}` with the loss "
                    f"{loss_name(expected)} (objectives.get({self.name!r})."
                    f"{attribute}_loss): compile it with that loss, or choose the "
                    "objective its loss belongs to. "
                    f"Received: {argument} compiled with loss {loss_name(loss)}"
                )

    def check_output(self, discriminator: keras.Model) -> None:
        """Raises ``ValueError`` if D's (first) output ends in an activation that
        does not fit: a probability objective needs a sigmoid (unless the loss takes
        logits), a score objective must not squash its score."""
        activation = last_activation(discriminator)
        if activation is None:
            return  # a last layer of one's own: nothing to tell from it
        if self.probability and not from_logits(discriminator.loss):
            if activation != "sigmoid":
                raise ValueError(
                    f"The {self.name} objective's D outputs a probability: its last "
                    "layer must end in a sigmoid (or compile binary cross-entropy "
                    "with from_logits=True). "
                    f"Received: discriminator output activation {activation!r}"
                )
        elif not self.probability and activation in ("sigmoid", "tanh", "softmax"):
            raise ValueError(
                f"The {self.name} objective's D outputs an unbounded score: end it in "
                "a linear layer (Dense(1), or Activation('linear')), not "
                f"{activation}. Received: discriminator output activation "
                f"{activation!r}"
            )


def _loss_fns() -> dict[str, Callable[[], tuple[Any, Any]]]:
    return {
        "standard": lambda: (
            keras.losses.BinaryCrossentropy(),
            keras.losses.BinaryCrossentropy(),
        ),
        "least_squares": lambda: (
            keras.losses.MeanSquaredError(),
            keras.losses.MeanSquaredError(),
        ),
        "hinge": lambda: (keras.losses.Hinge(), WassersteinLoss()),
        "wasserstein": lambda: (WassersteinLoss(), WassersteinLoss()),
    }


_TARGETS = {
    # real, fake, G's; probability; smoothable
    "standard": (1.0, 0.0, 1.0, True, True),
    "least_squares": (1.0, 0.0, 1.0, False, True),
    "hinge": (1.0, -1.0, -1.0, False, False),
    "wasserstein": (-1.0, 1.0, -1.0, False, False),
}


def get(name: str | Objective) -> Objective:
    """The objective called ``name`` (one of :data:`NAMES`), with fresh losses; an
    :class:`Objective` is returned as it is.

    Raises:
        ValueError: an unknown name.
    """
    if isinstance(name, Objective):
        return name
    if name not in NAMES:
        raise ValueError(
            f"`objective` must be one of {', '.join(NAMES)}. "
            f"Received: objective={name!r}"
        )
    discriminator_loss, generator_loss = _loss_fns()[name]()
    real, fake, generator, probability, smoothable = _TARGETS[name]
    return Objective(
        name,
        discriminator_loss,
        generator_loss,
        real,
        fake,
        generator,
        probability,
        smoothable,
    )


def loss_name(loss: Any) -> str:
    """A compiled loss's name, the same for its string, function and class forms:
    ``"mse"``, ``keras.losses.mean_squared_error`` and ``MeanSquaredError()`` are all
    ``"mean_squared_error"``."""
    if loss is None:
        return "none"
    if isinstance(loss, str):
        try:
            loss = keras.losses.get(loss)
        except ValueError:
            return loss
    if isinstance(loss, WassersteinLoss):
        return "wasserstein"
    function = getattr(loss, "fn", loss)  # a LossFunctionWrapper's function
    return getattr(function, "__name__", type(loss).__name__)


def first_loss(loss: Any) -> Any:
    """A model's compiled loss, or its first output's when it has several."""
    if isinstance(loss, (list, tuple)):
        return loss[0] if loss else None
    if isinstance(loss, dict):
        return next(iter(loss.values()), None)
    return loss


def from_logits(loss: Any) -> bool:
    """Whether a compiled loss (the first, of several) takes logits."""
    get_config = getattr(first_loss(loss), "get_config", None)
    return bool(get_config is not None and get_config().get("from_logits", False))


def last_activation(discriminator: keras.Model) -> str | None:
    """The activation D's first output ends in, as Keras names it, or ``None`` when
    its last operation is not a layer with an activation."""
    history = getattr(discriminator.outputs[0], "_keras_history", None)
    operation = getattr(history, "operation", None)
    activation = getattr(operation, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", None)
