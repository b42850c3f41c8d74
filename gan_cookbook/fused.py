"""The fused engine: the classic step compiled into one function (JAX only).

:class:`FusedGANTrainer` runs exactly what :class:`~gan_cookbook.loop.GANTrainer`
runs, through the models' own ``train_step`` methods and optimizers: the fake batch
(G in training mode, noise from the trainer's seed generator), D's step with D
trainable, then ``d_on_g``'s step with D frozen. One ``jax.jit`` call a step instead
of three dispatches, and one host transfer for the logs. It is built on the classic
trainer's public hooks: :meth:`~GANTrainer.step`, :attr:`~GANTrainer.fake_batch` and
:meth:`~GANTrainer.labels_for`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from gan_cookbook.loop import GANTrainer, mean_logs
from gan_cookbook.noise import Noise
from gan_cookbook.objectives import Objective

StepFunction = Callable[[Any], tuple[dict[str, Any], dict[str, Any]]]


class FusedGANTrainer(GANTrainer):
    """:class:`~gan_cookbook.loop.GANTrainer` with both phases in one ``jax.jit``.

    The first step runs classic: that is when Keras builds the models' losses,
    metrics and train functions. With ``d_steps`` above 1, the compiled call runs
    the whole block: D's updates unrolled, then G's. Later steps run the compiled
    step, with the same results as the classic loop to float rounding. Arguments as
    :class:`~gan_cookbook.loop.GANTrainer` takes them.

    Raises:
        ValueError: Keras does not run on JAX.
    """

    engine = "fused"

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        d_on_g: keras.Model,
        noise: Noise | None = None,
        seed: int | None = None,
        real_label: float = 1.0,
        num_classes: int | None = None,
        objective: str | Objective = "standard",
        d_steps: int = 1,
    ):
        if keras.backend.backend() != "jax":
            raise ValueError(
                "`engine='fused'` runs on the JAX backend only "
                "(set KERAS_BACKEND=jax). "
                f"Received: engine='fused' on backend {keras.backend.backend()!r}"
            )
        super().__init__(
            generator,
            discriminator,
            d_on_g,
            noise,
            seed,
            real_label,
            num_classes,
            objective,
            d_steps,
        )
        self._compiled_step: StepFunction | None = None

    def step(
        self, real_images: Any, real_labels: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if self._compiled_step is None:
            logs = super().step(real_images, real_labels)
            self._compiled_step = compile_fused_step(self)
            return logs
        batch = (real_images,) if real_labels is None else (real_images, real_labels)
        return self._compiled_step(*batch)


def compile_fused_step(trainer: GANTrainer) -> StepFunction:
    """Both phases of ``trainer``'s step in one compiled function (JAX only).

    The models must have run one classic step first: that is when Keras builds
    their losses, metrics and optimizers.

    Returns:
        A function of a batch of real images (and their labels, for a conditional
        pair) that runs the step and returns D's and ``d_on_g``'s logs, on the host.
    """
    import jax  # FusedGANTrainer refuses any other backend

    discriminator, d_on_g = trainer.discriminator, trainer.d_on_g
    fake_batch = trainer.fake_batch

    def state_lists(model: keras.Model, discriminator_trainable: bool) -> tuple:
        discriminator.trainable = discriminator_trainable
        lists = (
            list(model.trainable_variables),
            list(model.non_trainable_variables),
            list(model.optimizer.variables),
            list(model.metrics_variables),
        )
        discriminator.trainable = True
        return lists

    discriminator_state = state_lists(discriminator, True)
    d_on_g_state = state_lists(d_on_g, False)
    fake_state = (
        list(fake_batch.trainable_variables),
        list(fake_batch.non_trainable_variables),
    )
    variables: list[Any] = []
    slots: dict[int, int] = {}
    for group in (*fake_state, *discriminator_state, *d_on_g_state):
        for variable in group:
            if id(variable) not in slots:
                slots[id(variable)] = len(variables)
                variables.append(variable)

    # train_on_batch starts every call from freshly reset metrics. The fused step
    # starts from the same reset values, kept on the device: resetting from the
    # host before each call was more than half of the step's host time.
    discriminator.reset_metrics()
    d_on_g.reset_metrics()
    reset_values = (
        [variable.value for variable in discriminator_state[3]],
        [variable.value for variable in d_on_g_state[3]],
    )

    def step(values, reset_values, batch, d_labels, g_labels):
        values = list(values)

        def get(group):
            return [values[slots[id(variable)]] for variable in group]

        def put(group, new_values):
            for variable, value in zip(group, new_values, strict=True):
                values[slots[id(variable)]] = value

        def train(model, state, reset, data, discriminator_trainable):
            # The trainable flag is read while tracing, as train_on_batch reads it.
            discriminator.trainable = discriminator_trainable
            put(state[3], reset)
            logs, new_state = model.train_step(
                tuple(get(group) for group in state), data
            )
            for group, new_values in zip(state, new_state, strict=True):
                put(group, new_values)
            return logs

        real_images, real_labels = (*batch, None)[:2]
        batch_size = trainer.block_batch_size(real_images)
        d_logs = []
        # d_steps D updates, unrolled: each on its own real batch and fresh fakes.
        for start in range(0, batch_size * trainer.d_steps, batch_size):
            # D's inputs and G's: images and noise, or [images, labels] and
            # [noise, labels] for a conditional pair (lists: a tuple is (x, y)).
            (d_inputs, g_inputs), fake_values = fake_batch.stateless_call(
                get(fake_state[0]),
                get(fake_state[1]),
                *trainer.d_step_batch(real_images, real_labels, start, batch_size),
                training=True,
            )
            put(fake_state[1], fake_values)
            d_data, g_data = trainer.model_batches(
                d_inputs, g_inputs, d_labels, g_labels
            )
            d_logs.append(
                train(discriminator, discriminator_state, reset_values[0], d_data, True)
            )
        g_logs = train(d_on_g, d_on_g_state, reset_values[1], g_data, False)
        discriminator.trainable = True
        return mean_logs(d_logs), g_logs, values

    compiled = jax.jit(step)

    def call(*batch: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        d_labels, g_labels = trainer.labels_for(trainer.block_batch_size(batch[0]))
        d_logs, g_logs, values = compiled(
            [variable.value for variable in variables],
            reset_values,
            batch,
            d_labels,
            g_labels,
        )
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
        # One host transfer for both models' logs.
        return jax.device_get((d_logs, g_logs))

    return call
