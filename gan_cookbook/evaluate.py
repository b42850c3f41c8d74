"""Measuring a run folder or a generator file, and writing its ``metrics.json``.

:func:`evaluate` is what ``gan-cookbook evaluate`` runs and what each of ``tune``'s
trials calls: it loads the generator (:func:`~gan_cookbook.sampling.load_cooked`),
chooses the data it is measured against (the run's own, recorded in its
``recipe.json``, or ``data``), measures it with an
:class:`~gan_cookbook.evaluation.Evaluator` and writes ``metrics.json`` through the
run folder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from gan_cookbook.data import DataSource
from gan_cookbook.evaluation import Evaluator, evaluation_data
from gan_cookbook.loaders import Dataset
from gan_cookbook.recipe import Recipe
from gan_cookbook.run_folder import RAW_GENERATOR_FILE, RunFolder
from gan_cookbook.sampling import Cooked, load_cooked


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` measured and where it wrote it.

    Attributes:
        metrics: The figures, as ``metrics.json`` holds them.
        path: The ``metrics.json`` written.
        cooked: The generator measured, with what is known of its run.
        raw: The trained generator measured beside an averaged one
            (``compare_raw``), else ``None``.
    """

    metrics: dict[str, Any]
    path: Path
    cooked: Cooked
    raw: Cooked | None = None


def evaluation_source(
    cooked: Cooked, data: str | Path | None = None, name: str | Path | None = None
) -> DataSource:
    """The data a generator is measured against, in its own channels (an RGB
    generator of grayscale data against those data in RGB): ``data`` when given,
    else those its run recorded.

    Raises:
        ValueError: neither is known; the message names the generator (as
            ``name``, by default its file) and says what to pass.
    """
    channels = int(cooked.generator.output_shape[-1])
    if data is not None:
        return DataSource.from_path(data, channels=channels)
    if cooked.data is not None:
        return dataclasses.replace(cooked.data, channels=channels)
    where = name or cooked.model_path or cooked.folder
    if cooked.data_description is None:
        raise ValueError(
            f"{where}: no recipe.json tells what it was trained on. Pass `data` PATH "
            "or `recipe` NAME. Received: a generator without its run folder"
        )
    raise ValueError(
        f"{where}: trained on {cooked.data_description}, which only its recipe's own "
        "code loads (recipe.json records no data identity). Pass `data` PATH or "
        "`recipe` NAME."
    )


def check_classes(cooked: Cooked, training: Dataset) -> None:
    """Raises a ValueError when a conditional generator would be given labels it
    has no class for: the data it is measured on hold more classes than it draws."""
    classes = training.num_classes
    if cooked.num_classes is None or classes is None:
        return
    if classes > cooked.num_classes:
        raise ValueError(
            f"The generator draws {cooked.num_classes} classes, but "
            f"{training.source} has {classes} (labels 0 to {classes - 1}): measure "
            "it on data of its own classes. Received: labels up to "
            f"{classes - 1}"
        )


def evaluator_for(
    cooked: Cooked,
    data: str | Path | None = None,
    count: int = 10000,
    seed: int = 0,
    name: str | Path | None = None,
) -> Evaluator:
    """The measurement of ``cooked``: the classifier of its data and ``count``
    reference images of their test split (the training split when there is none).
    """
    training, test = evaluation_source(cooked, data, name).load_splits()
    check_classes(cooked, training)
    return Evaluator(evaluation_data(training, test, count, seed))


def evaluate(
    run_or_model: str | Path,
    *,
    count: int = 10000,
    data: str | Path | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    compare_raw: bool = False,
    recipe: Recipe | None = None,
    evaluator: Evaluator | None = None,
    cooked: Cooked | None = None,
) -> Evaluation:
    """Measures a run's generator (or a generator file) and writes ``metrics.json``.

    Args:
        run_or_model: A run folder or a ``.keras`` generator file.
        count: Generated images, and real images on each side of the floor.
            Defaults to 10,000.
        data: Measure against these data (anything
            :meth:`~gan_cookbook.data.DataSource.from_path` reads) instead of the
            run's. Defaults to the run's own.
        out: Where ``metrics.json`` goes. Defaults to the run folder (or the model
            file's folder).
        seed: Seeds the noise and the choice of real images. Defaults to 0.
        compare_raw: Also measure the trained generator (``generator_raw.keras``)
            beside an averaged one, against the same images. Defaults to False.
        recipe: The recipe the generator was cooked with, for its noise and data,
            where no ``recipe.json`` records them.
        evaluator: A measurement made already (:func:`evaluator_for`): a search
            measures all its trials against the same one. Defaults to a new one.
        cooked: ``run_or_model`` loaded already (with ``recipe``). Defaults to
            loading it.

    Raises:
        ValueError: the generator, its data or a setting is not usable; the message
            names the argument.
    """
    if cooked is None:
        cooked = load_cooked(run_or_model, recipe)
    raw = None
    if compare_raw:
        if cooked.raw_path is None:
            raise ValueError(
                f"`compare_raw=True`: {run_or_model} holds no trained generator "
                f"beside an averaged one (expected {cooked.folder / RAW_GENERATOR_FILE}"
                ", written by a recipe with an average). Received: compare_raw=True"
            )
        raw = load_cooked(cooked.raw_path, recipe, load_recipe_data=False)
    if evaluator is None:
        evaluator = evaluator_for(cooked, data, count, seed, name=run_or_model)
    metrics = evaluator.measure(cooked.generator, cooked.noise, count, seed)
    metrics["model"] = str(run_or_model)
    metrics["generator"] = cooked.description
    if raw is not None:
        raw_metrics = evaluator.measure(raw.generator, raw.noise, count, seed)
        metrics["raw"] = {
            "generator": raw.description,
            "generated": raw_metrics["generated"],
        }
        if "label_accuracy" in raw_metrics:
            metrics["raw"]["label_accuracy"] = raw_metrics["label_accuracy"]
    path = RunFolder(cooked.folder).write_metrics(metrics, out)
    return Evaluation(metrics, path, cooked, raw)
