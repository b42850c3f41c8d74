"""The fused engine: the classic step compiled into one function (JAX only).

:class:`FusedGANTrainer` runs exactly what :class:`~gan_cookbook.loop.GANTrainer`
runs, through the models' own ``train_step`` methods and optimizers: the fake batch
(G in training mode, noise from the trainer's seed generator), D's step with D
trainable, then ``d_on_g``'s step with D frozen. One ``jax.jit`` call a step instead
of three dispatches, and one host transfer for the logs. It is built on the classic
trainer's public hooks: :meth:`~GANTrainer.step`, :attr:`~GANTrainer.fake_batch` and
:meth:`~GANTrainer.labels_for`.

With ``steps_per_execution`` K above 1, one compiled call runs K whole steps, each
as above, with ``jax.lax.scan`` over K batches sliced from the epoch's batches on the
device (:meth:`~GANTrainer.stacked_batches`), carrying the variables' values from
step to step. The K steps' logs come back stacked, in one host transfer, and
:meth:`~GANTrainer.fit` hands them out one step at a time: callbacks, ``steps.csv``,
the NaN check and the progress bar still see every step. G's average is kept by its
optimizer inside each step (:mod:`gan_cookbook.average`), so it is the same for any K.
An epoch's last call may run fewer steps: its length is compiled too (once per
length), rather than run step by step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from gan_cookbook.checks import check_integer
from gan_cookbook.loop import GANTrainer, mean_logs, step_logs
from gan_cookbook.noise import Noise
from gan_cookbook.objectives import Objective

StepFunction = Callable[..., tuple[dict[str, Any], dict[str, Any]]]


class FusedGANTrainer(GANTrainer):
    """:class:`~gan_cookbook.loop.GANTrainer` with both phases in one ``jax.jit``.

    The first step runs classic: that is when Keras builds the models' losses,
    metrics and train functions (with ``steps_per_execution`` above 1 that step is
    undone, and every step runs in a call of several). With ``d_steps`` above 1,
    the compiled call runs the whole block: D's updates unrolled, then G's. Later
    steps run the compiled step, with the same results as the classic loop to
    float rounding. Arguments as
    :class:`~gan_cookbook.loop.GANTrainer` takes them, and:

    Args:
        steps_per_execution: Whole steps a compiled call runs in :meth:`fit`, at
            least 1: above 1, the host's cost of a call is paid once for that many
            steps. Defaults to 1.

    Raises:
        ValueError: Keras does not run on JAX, or ``steps_per_execution`` is not an
            integer of at least 1.
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
        steps_per_execution: int = 1,
    ):
        steps_per_execution = check_integer("steps_per_execution", steps_per_execution)
        if keras.backend.backend() != "jax":
            several = (
                f", steps_per_execution={steps_per_execution}"
                if steps_per_execution > 1
                else ""
            )
            raise ValueError(
                "`engine='fused'` (and with it `steps_per_execution` above 1) runs on "
                "the JAX backend only (set KERAS_BACKEND=jax; elsewhere use "
                "engine='classic' with steps_per_execution=1). "
                f"Received: engine='fused'{several} on backend "
                f"{keras.backend.backend()!r}"
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
        self.steps_per_execution = steps_per_execution
        self._compiled_step: StepFunction | None = None
        self._compiled_block: StepFunction | None = None
        # Each step's number as a device scalar, made once: a call's batches are
        # cut from the epoch's at a number that is data, so no offset compiles a
        # slice of its own and no number crosses to the device in a call.
        self._step_numbers: list[Any] = []

    def step(
        self, real_images: Any, real_labels: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if self._compiled_step is None:
            logs = super().step(real_images, real_labels)
            self._compiled_step = compile_fused_step(self)
            return logs
        batch = (real_images,) if real_labels is None else (real_images, real_labels)
        return self._compiled_step(*batch)

    def epoch_batches(self, images: Any, batch_size: int, labels: Any = None) -> Any:
        if self.steps_per_execution == 1:
            return super().epoch_batches(images, batch_size, labels)
        stacked = self.stacked_batches(images, batch_size, labels)
        steps = int(stacked[0].shape[0])
        if len(self._step_numbers) < steps:
            import jax  # this trainer runs on JAX only

            self._step_numbers = [
                jax.device_put(np.int32(number)) for number in range(steps)
            ]
        return stacked

    def train_block(
        self, batches: Any, first: int, steps: int
    ) -> list[dict[str, float]]:
        """Runs up to ``steps_per_execution`` steps from step ``first`` (fewer at
        the end of an epoch of ``steps``) in one compiled call; returns each step's
        logs. Every step runs compiled: before the first call, one classic step
        builds Keras' train functions and is undone (:meth:`_build_train_functions`),
        so a resumed run takes the straight run's steps, bit for bit."""
        if self.steps_per_execution == 1:
            return super().train_block(batches, first, steps)
        image_batches, label_batches = batches
        end = min(first + self.steps_per_execution, steps)
        block = [
            _cut(stacked, self._step_numbers[first], end - first)
            for stacked in (image_batches, label_batches)
            if stacked is not None
        ]
        if self._compiled_block is None:
            self._build_train_functions(*(batch[0] for batch in block))
            self._compiled_block = compile_fused_block(self)
        trainable = self.discriminator.trainable
        try:
            d_logs, g_logs = self._compiled_block(*block)
        finally:
            self.discriminator.trainable = trainable
        return [
            step_logs(
                {key: value[index] for key, value in d_logs.items()},
                {key: value[index] for key, value in g_logs.items()},
            )
            for index in range(end - first)
        ]

    def _build_train_functions(self, *batch: Any) -> None:
        """Runs one classic step, which is when Keras builds the models' losses,
        metrics and train functions, then puts back every variable a checkpoint
        holds: the step leaves nothing behind but what it built."""
        # Copies on the host: Keras' JAX train functions donate the buffers of
        # the variables they update.
        saved = {
            group: [keras.ops.convert_to_numpy(variable) for variable in variables]
            for group, variables in self.state_variables().items()
        }
        self.train_step(*batch)
        for group, variables in self.state_variables().items():
            for variable, value in zip(variables, saved[group], strict=True):
                variable.assign(value)


def _cut(stacked: Any, first: Any, count: int) -> Any:
    """``count`` batches of ``stacked`` from the device scalar ``first``: one
    compiled slice for each ``count``, whatever ``first``."""
    return _compiled_cut()(stacked, first, count)


@functools.cache
def _compiled_cut() -> Callable[..., Any]:
    import jax  # FusedGANTrainer refuses any other backend

    return jax.jit(jax.lax.dynamic_slice_in_dim, static_argnums=(2,))


def compile_fused_step(trainer: GANTrainer) -> StepFunction:
    """Both phases of ``trainer``'s step in one compiled function (JAX only).

    The models must have run one classic step first: that is when Keras builds
    their losses, metrics and optimizers.

    Returns:
        A function of a batch of real images (and their labels, for a conditional
        pair) that runs the step and returns D's and ``d_on_g``'s logs, on the host.
    """
    import jax  # FusedGANTrainer refuses any other backend

    step, variables, reset_values = stateless_step(trainer)
    return host_call(trainer, jax.jit(step), variables, reset_values, 1)


def compile_fused_block(trainer: GANTrainer) -> StepFunction:
    """Several whole steps of ``trainer`` in one compiled function (JAX only), as
    :func:`compile_fused_step` compiles one.

    Returns:
        A function of stacked batches of real images, ``(steps, images, ...)`` (and
        their labels, for a conditional pair), that runs one step per batch and
        returns D's and ``d_on_g``'s logs, each stacked, on the host. Each number of
        steps compiles once.
    """
    import jax  # FusedGANTrainer refuses any other backend

    step, variables, reset_values = stateless_step(trainer)

    def block(values, reset_values, batches, d_labels, g_labels):
        def one_step(values, batch):
            d_logs, g_logs, values = step(
                values, reset_values, batch, d_labels, g_labels
            )
            return values, (d_logs, g_logs)

        values, (d_logs, g_logs) = jax.lax.scan(
            one_step, values, batches, unroll=_unroll()
        )
        return d_logs, g_logs, values

    return host_call(trainer, jax.jit(block), variables, reset_values, 2)


def _unroll() -> bool:
    """Whether a call's steps are unrolled rather than looped: on a CPU, XLA runs
    the models' convolutions in a loop body several times slower than unrolled
    (measured, ``mnist_quick`` at batch 32: 32 ms a step alone, 180 ms in a loop
    of 4, 42 ms unrolled); on a GPU the loop keeps compiling short for any K."""
    import jax  # FusedGANTrainer refuses any other backend

    return jax.default_backend() == "cpu"


def host_call(
    trainer: GANTrainer,
    compiled: Callable[..., Any],
    variables: list[Any],
    reset_values: Any,
    batch_axis: int,
) -> StepFunction:
    """``compiled`` called on the variables' values and a batch, the new values
    assigned back, the logs fetched; ``batch_axis``: the images' axis of a batch
    of real images (1, or 2 for stacked batches)."""
    import jax  # FusedGANTrainer refuses any other backend

    def call(*batch: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        # A step's real images: d_steps batches, one per D update.
        step_images = int(batch[0].shape[batch_axis - 1])
        d_labels, g_labels = trainer.labels_for(step_images // trainer.d_steps)
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


def stateless_step(trainer: GANTrainer) -> tuple[Callable[..., Any], list, Any]:
    """``trainer``'s step as a pure function of the variables' values, the
    metrics' reset values, a batch and the targets; with the variables in the
    order of those values, and the reset values."""
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

    return step, variables, reset_values
