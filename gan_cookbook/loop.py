"""The classic Keras GAN loop: two ``train_on_batch`` calls a step, on Keras 3.

Usable with any compiled generator and sigmoid discriminator, stacked into ``d_on_g``
by :func:`gan_cookbook.gan_model.stack`::

    d_on_g = stack(generator, discriminator, optimizer=keras.optimizers.Adam(2e-4))
    trainer = GANTrainer(generator, discriminator, d_on_g, seed=0)
    history = trainer.fit(images, batch_size=128, epochs=10)

This module is the loop: :class:`GANTrainer`, its fake batch (:class:`FakeBatch`),
where it stands (:class:`Progress`) and how a step fails (:class:`NonFiniteLossError`).
The noise is a recipe's (:mod:`gan_cookbook.noise`), the checks of the pair and its
data are :mod:`gan_cookbook.pair`'s, and a checkpoint of the trainer's state is
:mod:`gan_cookbook.checkpoint`'s (:func:`~gan_cookbook.checkpoint.trainer_state`).

Each step:

1. draws a batch of noise (:class:`~gan_cookbook.noise.Noise`, dimension taken from
   G's input);
2. lets G make fakes in training mode, so its BatchNorm layers normalise with the
   statistics of the batch (``G.predict`` would use the moving averages and, measured
   on MNIST, gives samples about six times worse by Fréchet distance);
3. mixes the real and the fake batch, labelled 1 and 0;
4. sets ``D.trainable = True`` and calls ``D.train_on_batch``;
5. sets ``D.trainable = False`` and calls ``d_on_g.train_on_batch`` on fresh noise
   labelled 1.

Keras 3 reads ``trainable`` when a train function first runs (TensorFlow), on every
call (JAX, PyTorch), and builds each optimizer for the variables trainable at its first
step; the Keras 2 habit of freezing D once before compiling ``d_on_g`` leaves D
untrained. Setting the flag before every call is what is correct on all three backends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import ops

from gan_cookbook import backend, objectives, pair
from gan_cookbook.batches import stacked_batches, unstacked
from gan_cookbook.checks import check_integer
from gan_cookbook.fake_batch import FakeBatch, class_logits
from gan_cookbook.noise import Noise, check_real_label
from gan_cookbook.progress import ProgressLogger


def mean_logs(logs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mean of each log over several D updates (one D update: its logs)."""
    if len(logs) == 1:
        return logs[0]
    return {key: sum(each[key] for each in logs) / len(logs) for key in logs[0]}


def checked_logs(
    logs: dict[str, float], epoch: int, step: int, steps: int
) -> dict[str, float]:
    """``logs``, if every value is finite; else ``NonFiniteLossError`` for the step."""
    bad = [f"{k} is {v}" for k, v in logs.items() if not math.isfinite(v)]
    if bad:
        raise NonFiniteLossError(epoch, step, steps, ", ".join(bad))
    return logs


def step_logs(d_logs: dict[str, Any], g_logs: dict[str, Any]) -> dict[str, float]:
    """One step's logs: D's and d_on_g's, prefixed ``d_`` and ``g_``, as floats."""
    logs = {f"d_{key}": float(value) for key, value in d_logs.items()}
    logs.update({f"g_{key}": float(value) for key, value in g_logs.items()})
    return logs


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the models' weights are no longer usable.

    Attributes:
        epoch: The epoch of the failed step, counted from 0.
        step: The failed step within its epoch, counted from 0.
    """

    def __init__(self, epoch: int, step: int, steps: int, problem: str):
        self.epoch, self.step = epoch, step
        super().__init__(
            f"Epoch {epoch + 1}, step {step + 1} of {steps}: {problem}. "
            "Training stopped."
        )


@dataclass
class Progress:
    """Where a trainer stands: the next step is ``step`` of epoch ``epoch``.

    Attributes:
        epoch: Epochs completed.
        step: Steps completed in the current epoch.
        totals: Sums of the current epoch's step logs, for the epoch's means.
        seconds: Training time spent in the current epoch so far.
    """

    epoch: int = 0
    step: int = 0
    totals: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class GANTrainer:
    """Trains a generator and a discriminator with the classic two-call step.

    Each optimizer is built at once for the variables it trains (D's for D's, the
    one of ``d_on_g`` for G's), as a checkpoint needs them before it can be restored.
    ``discriminator.trainable`` is set before every call, as Keras 3 needs, and put
    back as it was found when :meth:`train_step` or :meth:`fit` returns or raises.

    A conditional pair (G takes ``[noise, labels]``, D ``[images, labels]``) needs
    ``num_classes``, and :meth:`fit` the images' labels. So does an auxiliary
    classifier (ACGAN: G takes ``[noise, labels]``, D images only and outputs
    ``[validity, class probabilities]``): D is trained on real images with their
    labels and fakes with the labels drawn for them, ``d_on_g`` on the drawn
    labels.

    The objective (:mod:`gan_cookbook.objectives`) sets the targets of both calls
    and the losses D and ``d_on_g`` must be compiled with; with ``d_steps`` above
    1, D takes that many updates, each on its own real batch and fresh fakes, for
    every update of G.

    Args:
        generator: The generator (noise in, or noise and labels; images out).
        discriminator: The compiled discriminator (images in, or images and labels;
            one probability out).
        d_on_g: The compiled stack of both, as
            :func:`~gan_cookbook.gan_model.stack` returns.
        noise: The distribution of G's input. Defaults to uniform in [0, 1).
        seed: Seeds the noise and the shuffling; with the models' weights seeded too
            (``keras.utils.set_random_seed``) a CPU run repeats loss for loss.
            Defaults to ``None`` (a fresh seed).
        real_label: D's target for real images. Below 1, such as 0.9, it is
            one-sided label smoothing (Salimans et al., 2016): fakes keep 0 and
            ``d_on_g`` keeps 1. Defaults to 1.
        num_classes: The number of classes of a conditional pair, whose labels run
            from 0 to ``num_classes - 1``; ``None`` (the default) for a pair that
            takes no labels.
        objective: An objective's name (``"standard"``, ``"least_squares"``,
            ``"hinge"``, ``"wasserstein"``) or an
            :class:`~gan_cookbook.objectives.Objective`. Defaults to
            ``"standard"``: a sigmoid D with binary cross-entropy.
        d_steps: D updates per G update, at least 1 (WGAN's critic takes 5).
            Defaults to 1.

    Raises:
        ValueError: a model is not compiled, or not with the objective's losses;
            D's output does not fit the objective; a setting is out of range.
    """

    engine = "classic"
    """The engine's name, as :func:`gan_cookbook.gan_model.make_trainer` takes it."""
    steps_per_execution = 1
    """Steps run by one compiled call (:meth:`train_block`)."""

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        d_on_g: keras.Model,
        noise: Noise | None = None,
        seed: int | None = None,
        real_label: float = 1.0,
        num_classes: int | None = None,
        objective: str | objectives.Objective = "standard",
        d_steps: int = 1,
    ):
        self.objective = objectives.get(objective)
        self.real_label = self.objective.check_real_label(check_real_label(real_label))
        self.d_steps = check_integer("d_steps", d_steps)
        self.num_classes = pair.check_num_classes(
            num_classes, pair.check_pair(generator, discriminator)
        )
        self.auxiliary_classifier = pair.is_auxiliary_classifier(
            generator, discriminator
        )
        for argument, model in (("discriminator", discriminator), ("d_on_g", d_on_g)):
            if not model.compiled:
                raise ValueError(
                    f"`{argument}` must be a compiled Keras model. "
                    f"Received: {argument}={model.name!r}, not compiled"
                )
        pair.check_outputs(discriminator, self.objective.probability, self.num_classes)
        self.objective.check_losses(discriminator, d_on_g)
        self.objective.check_output(discriminator)
        self.generator = generator
        self.discriminator = discriminator
        self.d_on_g = d_on_g
        self.noise = noise if noise is not None else Noise()
        self.fake_batch = FakeBatch(generator, self.noise, seed, self.num_classes)
        self._make_fake_batch = backend.compile_training_call(self.fake_batch)
        self._shuffle_seed = keras.random.SeedGenerator(
            None if seed is None else seed + 1
        )
        # The shuffling state at the start of the current epoch: an epoch's order is
        # drawn from it, so a run resumed in the middle of an epoch replays it.
        # (Copied through NumPy: on TensorFlow a variable made or assigned from
        # another variable's value can share its storage.)
        self._epoch_shuffle_state = keras.Variable(
            ops.convert_to_numpy(self._shuffle_seed.state),
            dtype=self._shuffle_seed.state.dtype,
            trainable=False,
            name="epoch_shuffle_state",
        )
        self._labels: dict[int, tuple[Any, Any]] = {}
        self.progress = Progress()
        self._build_optimizers()

    @property
    def conditional(self) -> bool:
        """Whether G and D take labels (``num_classes`` was given)."""
        return self.num_classes is not None

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.generator.output_shape[1:])

    def check_images(self, images: Any) -> None:
        """Raises ``ValueError`` unless ``images`` fit G's output and D's input and
        are float in [-1, 1], the range of G's ``tanh``."""
        pair.check_images(images, self.generator, self.discriminator)

    def check_labels(self, y: Any, count: int) -> np.ndarray | None:
        """``y`` as int32 class labels of the label inputs' shape, after checking
        that it fits the pair and ``count`` images; ``None`` for a pair that takes
        no labels."""
        label_shape = self.fake_batch.label_shape if self.conditional else ()
        return pair.check_labels(y, count, self.num_classes, label_shape)

    def labels_for(self, batch_size: int) -> tuple[Any, Any]:
        """D's targets (``batch_size`` real targets, then as many fake ones) and
        G's, the objective's (:mod:`gan_cookbook.objectives`); for the standard
        objective ``real_label`` (1) and 0, and 1 for G.

        Made once per batch size, on the device, so that no step copies labels over.
        """
        if batch_size not in self._labels:
            objective = self.objective
            ones = ops.ones((batch_size, 1))
            real = objective.real_target * (
                self.real_label if objective.smoothable else 1.0
            )
            self._labels[batch_size] = (
                ops.concatenate([ones * real, ones * objective.fake_target]),
                ones * objective.generator_target,
            )
        return self._labels[batch_size]

    def model_batches(
        self, d_inputs: Any, g_inputs: Any, d_labels: Any, g_labels: Any
    ) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
        """D's and ``d_on_g``'s ``(x, y)`` from the fake batch's inputs and the
        targets of :meth:`labels_for`.

        For an auxiliary classifier the class labels move from D's inputs to its
        targets: ``(images, [validity, labels])`` and ``([noise, labels],
        [validity, labels])``.
        """
        if not self.auxiliary_classifier:
            return (d_inputs, d_labels), (g_inputs, g_labels)
        images, labels = d_inputs
        return (images, [d_labels, labels]), (g_inputs, [g_labels, g_inputs[1]])

    def make_fake_batch(
        self, real_images: Any, real_labels: Any = None
    ) -> tuple[Any, Any]:
        """D's images (``real_images``, then as many fakes from G in training mode)
        and fresh noise for G's step, on the device; updates G's BatchNorm moving
        statistics and the noise generator's state as a training call does.

        For a conditional pair, D's inputs ``[images, labels]`` (``real_labels``,
        then the labels the fakes were drawn for) and G's ``[noise, labels]``.
        """
        if not self.conditional:
            return self._make_fake_batch(real_images)
        if real_labels is None:
            raise ValueError(
                "A conditional pair trains on images and their labels. "
                "Received: real_labels=None"
            )
        return self._make_fake_batch(real_images, real_labels)

    def train_step(self, real_images: Any, real_labels: Any = None) -> dict[str, float]:
        """Runs one step on a batch of real images (and their labels, for a
        conditional pair); returns the step's logs.

        With ``d_steps`` N, ``real_images`` holds N batches end to end, one per D
        update, and D's logs are their means. The logs hold ``d_loss`` and
        ``g_loss``, and D's and ``d_on_g``'s compiled metrics prefixed with ``d_``
        and ``g_``. They come from the loss fetch that
        ``train_on_batch`` makes itself: the step adds no host sync of its own.
        """
        trainable = self.discriminator.trainable
        try:
            return step_logs(*self.step(real_images, real_labels))
        finally:
            self.discriminator.trainable = trainable

    def step(
        self, real_images: Any, real_labels: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The step itself: D's and ``d_on_g``'s logs, as the models return them.

        The hook an engine overrides (:class:`gan_cookbook.fused.FusedGANTrainer`);
        :meth:`train_step` wraps it. Leaves ``discriminator.trainable`` as it was
        last set.
        """
        batch_size = self.block_batch_size(real_images)
        d_labels, g_labels = self.labels_for(batch_size)
        d_logs = []
        for start in range(0, batch_size * self.d_steps, batch_size):
            d_inputs, g_inputs = self.make_fake_batch(
                *self.d_step_batch(real_images, real_labels, start, batch_size)
            )
            (d_x, d_y), (g_x, g_y) = self.model_batches(
                d_inputs, g_inputs, d_labels, g_labels
            )
            self.discriminator.trainable = True
            d_logs.append(self.discriminator.train_on_batch(d_x, d_y, return_dict=True))
        self.discriminator.trainable = False
        g_logs = self.d_on_g.train_on_batch(g_x, g_y, return_dict=True)
        return mean_logs(d_logs), g_logs

    def block_batch_size(self, real_images: Any) -> int:
        """The real images of one D update, when ``real_images`` is a step's
        ``d_steps`` batches; ``ValueError`` if ``d_steps`` does not divide them."""
        count = int(ops.shape(real_images)[0])
        if count % self.d_steps:
            raise ValueError(
                f"A step takes d_steps={self.d_steps} batches of real images, one "
                "per D update: their number must divide by it. "
                f"Received: {count} images"
            )
        return count // self.d_steps

    def d_step_batch(
        self, real_images: Any, real_labels: Any, start: int, batch_size: int
    ) -> tuple[Any, ...]:
        """The real images (and labels) of the D update that starts at ``start``."""
        if self.d_steps == 1:
            batch = (real_images, real_labels)
        else:
            end = start + batch_size
            labels = None if real_labels is None else real_labels[start:end]
            batch = (real_images[start:end], labels)
        return batch if self.conditional else batch[:1]

    def fit(
        self,
        x: Any,
        y: Any = None,
        *,
        batch_size: int = 128,
        epochs: int = 1,
        callbacks: Sequence[keras.callbacks.Callback] | None = None,
        verbose: int | str = "auto",
        initial_epoch: int | None = None,
    ) -> keras.callbacks.History:
        """Trains up to epoch ``epochs`` over ``x``, Keras ``Model.fit`` style.

        Every epoch reshuffles ``x`` and runs one step per ``d_steps`` full
        batches (D's updates, then G's); what is left over is dropped. ``x`` is
        copied to the device once. Training goes on from :attr:`progress`, so a
        trainer restored with :func:`~gan_cookbook.checkpoint.restore_trainer_state`
        continues exactly where the saved one stood, mid-epoch included.

        Args:
            x: Real images, shape ``(N, *image_shape)``, float in [-1, 1].
            y: Their class labels, integers from 0 to ``num_classes - 1``, shape
                ``(N,)``, for a conditional pair (and only for one). The fakes'
                labels are drawn from their frequencies.
            batch_size: Real images per D update (D sees as many fakes); a step
                takes ``d_steps`` such batches. Defaults to 128.
            epochs: The epoch to stop after (counted from 0, as in Keras).
                Defaults to 1.
            callbacks: Keras callbacks; hooks get ``logs`` with ``d_loss``, ``g_loss``
                and, at epoch end, their means plus ``seconds`` and
                ``images_per_second`` (real images trained on per second). Setting
                ``model.stop_training`` stops after the current step (after the
                current call's steps, with ``steps_per_execution`` above 1).
            verbose: 0 silent, 1 or ``"auto"`` a progress bar per epoch, 2 one line
                per epoch.
            initial_epoch: The epoch to start at. Defaults to where
                :attr:`progress` stands (0 for a new trainer).

        Returns:
            A ``keras.callbacks.History`` of the epoch logs.

        Raises:
            ValueError: ``x`` is not float images in [-1, 1] of G's output shape, or
                a setting is out of range.
            NonFiniteLossError: a loss became NaN or infinite.
        """
        self.check_images(x)
        count = int(ops.shape(x)[0])
        labels = self.check_labels(y, count)
        batch_size = check_integer("batch_size", batch_size)
        if batch_size * self.d_steps > count:
            raise ValueError(
                f"`batch_size` times d_steps={self.d_steps} (the real images of one "
                f"step) must be at most the number of images ({count}). "
                f"Received: batch_size={batch_size}"
            )
        epochs = check_integer("epochs", epochs, minimum=0)
        initial_epoch = check_integer(
            "initial_epoch", initial_epoch, minimum=0, optional=True
        )
        if initial_epoch is not None and initial_epoch != self.progress.epoch:
            self.progress = Progress(epoch=initial_epoch)
        if epochs < self.progress.epoch:
            raise ValueError(
                "`epochs` must be at least the epoch training starts at. "
                f"Received: epochs={epochs}, initial_epoch={self.progress.epoch}"
            )
        # A step is d_steps D updates and one G update: an epoch is one pass of
        # D over the images.
        block = batch_size * self.d_steps
        steps = count // block
        if self.progress.step >= steps:
            raise ValueError(
                f"The trainer stands at step {self.progress.step} of an epoch of "
                f"{steps} steps: the data or batch size differs from the saved run's. "
                f"Received: {count} images, batch_size={batch_size}"
            )
        if verbose == "auto":
            verbose = 1
        images = ops.convert_to_tensor(x, dtype="float32")
        if labels is not None:
            self.fake_batch.class_logits.assign(class_logits(labels, self.num_classes))
            labels = ops.convert_to_tensor(labels, dtype="int32")
        history = keras.callbacks.History()
        # The bar last, as Keras adds its own: it prints what the others logged.
        has_bar = any(
            isinstance(callback, keras.callbacks.ProgbarLogger)
            for callback in callbacks or []
        )
        bar = [ProgressLogger()] if verbose != 0 and not has_bar else []
        callback_list = keras.callbacks.CallbackList(
            [*(callbacks or []), history, *bar],
            verbose=verbose,
            epochs=epochs,
            steps=steps,
            model=self.d_on_g,
        )
        trainable = self.discriminator.trainable
        try:
            self._fit_epochs(images, labels, block, epochs, steps, callback_list)
        finally:
            self.discriminator.trainable = trainable
        return history

    def _fit_epochs(
        self,
        images: Any,
        labels: Any,
        batch_size: int,
        epochs: int,
        steps: int,
        callback_list: keras.callbacks.CallbackList,
    ) -> None:
        self.d_on_g.stop_training = False
        callback_list.on_train_begin()
        epoch_logs: dict[str, float] = {}
        for epoch in range(self.progress.epoch, epochs):
            callback_list.on_epoch_begin(epoch)
            batches = self.epoch_batches(images, batch_size, labels)
            started = time.perf_counter() - self.progress.seconds
            # The logs of the block's steps still to hand out, one step at a time.
            pending: list[dict[str, float]] = []
            for step in range(self.progress.step, steps):
                callback_list.on_train_batch_begin(step)
                if not pending:
                    pending = self._checked_block(batches, epoch, step, steps)
                logs = checked_logs(pending.pop(0), epoch, step, steps)
                totals = self.progress.totals
                for key, value in logs.items():
                    totals[key] = totals.get(key, 0.0) + value
                self.progress.step = step + 1
                self.progress.seconds = time.perf_counter() - started
                callback_list.on_train_batch_end(step, logs)
                # Not within a block: the weights are already past its last step.
                if self.d_on_g.stop_training and not pending:
                    break
            if self.progress.step < steps:
                break  # stopped within the epoch: it has no end to report
            seconds = self.progress.seconds
            epoch_logs = {
                key: total / steps for key, total in self.progress.totals.items()
            }
            epoch_logs["seconds"] = seconds
            epoch_logs["images_per_second"] = steps * batch_size / seconds
            self.progress = Progress(epoch=epoch + 1)
            # The next epoch's order is drawn from where this one's left the seed.
            self._epoch_shuffle_state.assign(
                ops.convert_to_numpy(self._shuffle_seed.state)
            )
            callback_list.on_epoch_end(epoch, epoch_logs)
            if self.d_on_g.stop_training:
                break
        callback_list.on_train_end(epoch_logs)

    def train_block(
        self, batches: Any, first: int, steps: int
    ) -> list[dict[str, float]]:
        """Runs the steps of one call from step ``first`` of an epoch of ``steps``
        (here one step) on :meth:`epoch_batches`' ``batches``; returns their logs,
        step by step, as :meth:`train_step` returns them."""
        batch = batches[first]
        # A conditional pair's batches are (images, labels) pairs.
        return [self.train_step(*(batch if isinstance(batch, tuple) else (batch,)))]

    def _checked_block(
        self, batches: Any, epoch: int, step: int, steps: int
    ) -> list[dict[str, float]]:
        try:
            return self.train_block(batches, step, steps)
        except RuntimeError as error:
            # PyTorch's cross-entropy raises on NaN probabilities where the other
            # backends return a NaN loss.
            if self._weights_are_finite():
                raise
            raise NonFiniteLossError(
                epoch, step, steps, f"the weights are no longer finite ({error})"
            ) from error

    def _weights_are_finite(self) -> bool:
        return all(
            np.isfinite(ops.convert_to_numpy(weight)).all()
            for weight in [*self.generator.weights, *self.discriminator.weights]
        )

    def _build_optimizers(self) -> None:
        """Builds each optimizer for the variables it trains, if not yet built.

        D's optimizer for D's trainable weights, ``d_on_g``'s for G's only (D is
        frozen there). Both must exist before their state can be restored.
        """
        trainable = self.discriminator.trainable
        if not self.discriminator.optimizer.built:
            self.discriminator.trainable = True
            self.discriminator.optimizer.build(self.discriminator.trainable_variables)
        if not self.d_on_g.optimizer.built:
            self.discriminator.trainable = False
            self.d_on_g.optimizer.build(self.d_on_g.trainable_variables)
        self.discriminator.trainable = trainable

    def state_variables(self) -> dict[str, list[Any]]:
        """The variables a checkpoint holds, by group.

        G's and D's variables (weights, BatchNorm statistics, dropout seeds; the
        stacked ``d_on_g`` holds no others), both optimizers' variables, the noise
        generator's state and the shuffling state at the start of the epoch.
        """
        return {
            "generator": list(self.generator.variables),
            "discriminator": list(self.discriminator.variables),
            "discriminator_optimizer": list(self.discriminator.optimizer.variables),
            "d_on_g_optimizer": list(self.d_on_g.optimizer.variables),
            "noise_seed": [self.fake_batch.seed_generator.state],
            "shuffle_seed": [self._epoch_shuffle_state],
        }

    def stacked_batches(
        self, images: Any, batch_size: int, labels: Any = None
    ) -> tuple[Any, Any]:
        """The current epoch's batches of ``images`` (and ``labels``), stacked:
        :func:`~gan_cookbook.batches.stacked_batches` in the epoch's order.

        The order is drawn from the shuffling state at the start of the epoch, so
        the same epoch gives the same batches however often it is drawn.
        """
        self._shuffle_seed.state.assign(ops.convert_to_numpy(self._epoch_shuffle_state))
        return stacked_batches(images, batch_size, self._shuffle_seed, labels)

    def shuffled_batches(
        self, images: Any, batch_size: int, labels: Any = None
    ) -> list:
        """The current epoch's batches of ``images``, each ``(batch_size, ...)``;
        with ``labels``, pairs of a batch of images and their labels
        (:meth:`stacked_batches`, one step's batch each)."""
        return unstacked(*self.stacked_batches(images, batch_size, labels))

    def epoch_batches(self, images: Any, batch_size: int, labels: Any = None) -> Any:
        """The current epoch's batches as :meth:`train_block` takes them: here
        :meth:`shuffled_batches`' list."""
        return self.shuffled_batches(images, batch_size, labels)
