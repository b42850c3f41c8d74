"""Loading what was cooked, drawing samples from it, and walking its noise space."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from gan_cookbook.checks import is_integer
from gan_cookbook.data import DataSource
from gan_cookbook.evaluation.generation import (
    draw_noise,
    generate,
    noise_size,
    takes_labels,
)
from gan_cookbook.images import make_grid, save_gif, save_grid, to_uint8
from gan_cookbook.loaders import with_channels
from gan_cookbook.noise import Noise
from gan_cookbook.recipe import Recipe
from gan_cookbook.run_folder import GENERATOR_FILE, RAW_GENERATOR_FILE, RunFolder

LABEL_EMBEDDING = "label_embedding"
"""The name of the Embedding layer that takes the label in the built-in conditional
generators: its ``input_dim`` is the number of classes."""


@dataclass
class Cooked:
    """A saved generator with what is known of how it was cooked.

    Attributes:
        generator: The loaded generator.
        noise: The distribution of its input: the run's, the given recipe's, or the
            default (uniform in [0, 1)) when neither is known.
        folder: The run folder, or the model file's folder.
        data: Where the training data came from (``recipe.json``'s ``data.identity``,
            or the given recipe's data), or ``None`` if that is not known.
        noise_known: Whether ``noise`` came from a run or a recipe, not the default.
        data_description: The training data in words (``recipe.json``'s
            ``data.source``), or ``None``.
        model_path: The ``.keras`` file loaded.
        average: The decay of the run's average of G's weights (``recipe.json``'s
            ``recipe.average``), or ``None`` when the run kept none.
        num_classes: The number of classes of a conditional generator (one that
            takes ``[noise, label]``): ``recipe.json``'s ``data.num_classes``, else
            the ``input_dim`` of its Embedding layer named ``label_embedding``.
            ``None`` for a generator that takes noise only.
    """

    generator: keras.Model
    noise: Noise
    folder: Path
    data: DataSource | None
    noise_known: bool
    data_description: str | None = None
    model_path: Path | None = None
    average: float | None = None
    num_classes: int | None = None

    @property
    def description(self) -> str:
        """Which generator this is, in words: averaged or trained."""
        name = self.model_path.name if self.model_path is not None else "generator"
        if self.average is None:
            return name
        if name == RAW_GENERATOR_FILE:
            return f"{name} (the trained generator)"
        return (
            f"{name} (the average of the trained generator's weights, "
            f"decay {self.average:g})"
        )

    @property
    def raw_path(self) -> Path | None:
        """The trained generator's file beside an averaged one, if there is one."""
        if self.average is None or self.model_path is None:
            return None
        path = self.folder / RAW_GENERATOR_FILE
        return path if path.is_file() and path != self.model_path else None

    @property
    def noise_dim(self) -> int:
        """The size of the generator's noise input (its first input)."""
        return noise_size(self.generator)

    @property
    def conditional(self) -> bool:
        """Whether the generator draws each image for a class: ``[noise, label]``."""
        return self.num_classes is not None


def load_cooked(
    run_or_model: str | Path,
    recipe: Recipe | None = None,
    load_recipe_data: bool = True,
) -> Cooked:
    """Loads a run folder's ``generator.keras``, or a ``.keras`` generator file.

    The noise distribution and the data's identity come from ``recipe`` when given,
    else from the ``recipe.json`` of the run folder (or beside the model file).

    Args:
        run_or_model: A run folder or a ``.keras`` generator file.
        recipe: The recipe it was cooked with; wins over ``recipe.json``.
        load_recipe_data: Load ``recipe``'s data to learn its identity. Commands
            that only sample pass ``False``: ``Cooked.data`` is then ``None``.

    Raises:
        ValueError: no generator there, one that is not noise (and, conditional,
            a label) in, images out, a conditional one whose number of classes is
            unknown, or a ``recipe.json`` whose data identity cannot be read.
    """
    path = Path(run_or_model)
    if path.is_dir():
        folder = RunFolder(path)
        model_path = folder.generator_path
        if not model_path.is_file() and folder.is_run():
            raise ValueError(
                f"{path}: the run has no {GENERATOR_FILE} yet: it is written with "
                "each checkpoint, at the end of the first epoch (or when the run is "
                f"stopped). Received: {path}"
            )
        if not model_path.is_file():
            raise ValueError(
                f"{path}: is a folder without {GENERATOR_FILE}. Expected a run folder "
                f"or a .keras generator file. Received: {path}"
            )
    elif path.is_file() and path.suffix == ".keras":
        folder, model_path = RunFolder(path.parent), path
    else:
        raise ValueError(
            f"RUN_OR_MODEL must be a run folder or a .keras generator file. "
            f"Received: {path}" + ("" if path.exists() else " (does not exist)")
        )
    generator = load_generator(model_path)
    record = folder.record_or_empty()
    num_classes = None
    if takes_labels(generator):
        num_classes = _num_classes(generator, record.data.num_classes, model_path)
    description = record.data.source
    if recipe is not None:
        noise, known = recipe.noise, True
        identity = None
        if load_recipe_data:
            dataset = with_channels(recipe.load_data(), recipe.channels)
            identity, description = dataset.identity, dataset.source
    else:
        identity = record.data_source(folder.settings_path)
        recorded_noise = record.noise()
        known = recorded_noise is not None
        noise = recorded_noise if known else Noise()
    average = record.average if recipe is None else recipe.average
    return Cooked(
        generator,
        noise,
        folder.path,
        identity,
        known,
        description,
        model_path=model_path,
        average=average,
        num_classes=num_classes,
    )


def load_generator(model_path: Path) -> keras.Model:
    """Loads a ``.keras`` generator: noise (and, conditional, a label) in, images
    out.

    Raises:
        ValueError: the file cannot be loaded, or holds a model of another shape;
            the message names the file.
    """
    try:
        generator = keras.saving.load_model(model_path, compile=False)
    except Exception as error:  # noqa: BLE001 - any loading failure names the file
        raise ValueError(
            f"{model_path}: cannot be loaded as a Keras model "
            f"({type(error).__name__}: {error})."
        ) from None
    if not _is_generator(generator):
        inputs = [tuple(tensor.shape) for tensor in generator.inputs]
        raise ValueError(
            f"{model_path}: a generator takes noise (batch, noise_dim), or noise and "
            "a class label [(batch, noise_dim), (batch,)] for a conditional one, and "
            "makes images (batch, height, width, channels). Received: input "
            f"{inputs[0] if len(inputs) == 1 else inputs}, output "
            f"{tuple(generator.output_shape)}"
        )
    return generator


def _is_generator(generator: keras.Model) -> bool:
    """Whether ``generator`` takes noise ``(batch, noise_dim)`` (and, conditional, a
    label ``(batch,)``) and makes images ``(batch, height, width, channels)``."""
    shapes = [tuple(tensor.shape) for tensor in generator.inputs]
    if len(tuple(generator.output_shape)) != 4 or len(shapes) not in (1, 2):
        return False
    return len(shapes[0]) == 2 and (len(shapes) == 1 or len(shapes[1]) == 1)


def _num_classes(generator: keras.Model, recorded: int | None, model_path: Path) -> int:
    """A conditional generator's number of classes: ``recipe.json``'s
    ``data.num_classes``, else its ``label_embedding`` layer's ``input_dim``."""
    if recorded is not None:
        return recorded
    try:
        embedding = generator.get_layer(LABEL_EMBEDDING)
    except ValueError:
        embedding = None
    if isinstance(embedding, keras.layers.Embedding):
        return int(embedding.input_dim)
    raise ValueError(
        f"{model_path}: the generator is conditional (it takes [noise, label]), but "
        "its number of classes is unknown: no recipe.json beside it records "
        f"data.num_classes, and it has no Embedding layer named {LABEL_EMBEDDING!r}. "
        "Give the run folder it was cooked in (with its recipe.json). Received: "
        f"{model_path}"
    )


def check_label(cooked: Cooked, label: int | None) -> None:
    """Checks a class asked of ``cooked``: ``None``, or one of its classes.

    Raises:
        ValueError: a label for a generator that is not conditional, or one that is
            not an integer from 0 to ``num_classes - 1``.
    """
    if label is None:
        return
    if cooked.num_classes is None:
        raise ValueError(
            f"`label` draws images of one class, but {cooked.description} takes "
            "noise only: the run is not conditional. Received: "
            f"label={label!r}"
        )
    if not is_integer(label) or not 0 <= label < cooked.num_classes:
        raise ValueError(
            f"`label` must be one of the generator's {cooked.num_classes} classes, "
            f"an integer from 0 to {cooked.num_classes - 1}. Received: label={label!r}"
        )


def _labels(cooked: Cooked, count: int, label: int | None) -> np.ndarray | None:
    """``count`` labels: all ``label``, else image i of class i % num_classes;
    ``None`` for a generator that is not conditional."""
    check_label(cooked, label)
    if cooked.num_classes is None:
        return None
    if label is not None:
        return np.full(count, label, dtype=np.int32)
    return (np.arange(count) % cooked.num_classes).astype(np.int32)


def sample(
    cooked: Cooked, count: int, seed: int = 0, *, label: int | None = None
) -> np.ndarray:
    """``count`` images in [-1, 1] from the generator in inference mode.

    Args:
        cooked: The generator.
        count: Images to draw.
        seed: Seeds the noise. Defaults to 0.
        label: For a conditional generator, the class of every image. Defaults to
            ``None``: image i is of class ``i % num_classes``.

    Raises:
        ValueError: ``count`` below 1, or a ``label`` :func:`check_label` refuses.
    """
    if count < 1:
        raise ValueError(f"`count` must be at least 1. Received: count={count}")
    labels = _labels(cooked, count, label)
    return generate(
        cooked.generator,
        draw_noise(cooked.noise, count, cooked.noise_dim, seed),
        labels,
    )


def save_samples(
    cooked: Cooked,
    out: str | Path,
    count: int = 64,
    seed: int = 0,
    npz: str | Path | None = None,
    columns: int | None = None,
    scale: int = 1,
    *,
    label: int | None = None,
) -> np.ndarray:
    """Draws images to a grid PNG and, if asked, to an ``.npz`` (``x``: uint8
    images, ``noise``: the vectors they came from, and for a conditional generator
    ``labels``: their classes).

    Args:
        cooked: The generator.
        out: The grid PNG.
        count: Images to draw. Defaults to 64.
        seed: Seeds the noise. Defaults to 0.
        npz: Also save the images here. Defaults to ``None``: no ``.npz``.
        columns: Images per row. Defaults to a square grid.
        scale: Upscales the grid. Defaults to 1.
        label: For a conditional generator, the class of every image. Defaults to
            ``None``: a conditional generator draws one row per class, ``columns``
            images each (by default ``ceil(count / num_classes)``), so
            ``num_classes * columns`` images.

    Returns:
        The images drawn, in [-1, 1].

    Raises:
        ValueError: ``count`` below 1, or a ``label`` :func:`check_label` refuses.
    """
    if count < 1:
        raise ValueError(f"`count` must be at least 1. Received: count={count}")
    check_label(cooked, label)
    labels = None
    if cooked.num_classes is not None and label is None:
        columns = columns or math.ceil(count / cooked.num_classes)
        labels = np.repeat(np.arange(cooked.num_classes, dtype=np.int32), columns)
        count = len(labels)
    elif cooked.num_classes is not None:
        labels = np.full(count, label, dtype=np.int32)
    noise = draw_noise(cooked.noise, count, cooked.noise_dim, seed)
    images = generate(cooked.generator, noise, labels)
    save_grid(images, out, columns=columns, scale=scale)
    if npz is not None:
        npz = Path(npz)
        npz.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"x": to_uint8(images), "noise": noise}
        if labels is not None:
            arrays["labels"] = labels
        np.savez_compressed(npz, **arrays)
    return images


def walk(noise: Noise, start: np.ndarray, end: np.ndarray, frames: int) -> np.ndarray:
    """``frames`` points from ``start`` towards ``end`` (``end`` itself excluded).

    Uniform noise walks in a straight line, which stays inside its box. Normal noise
    walks along the great circle around the mean (spherical interpolation): a straight
    line's midpoints have a smaller norm than the generator ever saw in training.
    """
    fractions = np.arange(frames) / frames
    if noise.distribution == "uniform":
        return start + fractions[:, None, None] * (end - start)
    a, b = start - noise.mean, end - noise.mean
    cosine = np.sum(a * b, axis=-1) / (
        np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    )
    angle = np.arccos(np.clip(cosine, -1, 1))[None, :, None]
    sine = np.sin(angle)
    t = fractions[:, None, None]
    # Where the two points are (almost) parallel, the straight line is the arc.
    safe = sine > 1e-6
    weight_a = np.where(safe, np.sin((1 - t) * angle) / np.where(safe, sine, 1), 1 - t)
    weight_b = np.where(safe, np.sin(t * angle) / np.where(safe, sine, 1), t)
    return noise.mean + weight_a * a + weight_b * b


def save_interpolation(
    cooked: Cooked,
    out: str | Path,
    walks: int = 16,
    points: int = 4,
    frames: int = 12,
    seed: int = 0,
    duration: int = 80,
    scale: int = 2,
    *,
    label: int | None = None,
) -> int:
    """A GIF of ``walks`` walks side by side, each through ``points`` random noise
    points and back to its first, ``frames`` frames from one point to the next.

    A conditional generator keeps each walk's class in every frame: ``label`` for
    all of them, else walk i is of class ``i % num_classes`` (the default,
    ``label=None``).

    Returns:
        The number of frames written.

    Raises:
        ValueError: ``walks``, ``points`` or ``frames`` too small, or a ``label``
            :func:`check_label` refuses.
    """
    for name, value, low in (
        ("walks", walks, 1),
        ("points", points, 2),
        ("frames", frames, 1),
    ):
        if value < low:
            raise ValueError(
                f"`{name}` must be at least {low}. Received: {name}={value}"
            )
    walk_labels = _labels(cooked, walks, label)
    anchors = draw_noise(cooked.noise, walks * points, cooked.noise_dim, seed).reshape(
        points, walks, cooked.noise_dim
    )
    path_points = np.concatenate(
        [
            walk(cooked.noise, anchors[index], anchors[(index + 1) % points], frames)
            for index in range(points)
        ]
    ).astype(np.float32)
    # Frame by frame, walk by walk: each frame's images take the walks' classes.
    labels = None if walk_labels is None else np.tile(walk_labels, len(path_points))
    images = generate(
        cooked.generator, path_points.reshape(-1, cooked.noise_dim), labels
    )
    images = images.reshape(len(path_points), walks, *images.shape[1:])
    grids = [make_grid(frame_images) for frame_images in images]
    save_gif(grids, out, duration=duration, scale=scale)
    return len(grids)
