"""Measuring a conditional generator: its label accuracy beside the classifier's own.

The scores function on hand-made probabilities; Evaluator.measure on generators made
here from real MNIST images (one that draws a real image of the class it is asked
for, one blind to the class); `evaluate` on a tiny real conditional run.
"""

import dataclasses
import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from gan_cookbook.cli import main
from gan_cookbook.cook import cook
from gan_cookbook.data import DataSource, load_mnist
from gan_cookbook.evaluation import EvaluationData, Evaluator, table
from gan_cookbook.evaluation.classifier import accuracy, load_classifier
from gan_cookbook.evaluation.generation import draw_labels, draw_noise, generate
from gan_cookbook.evaluation.scores import label_accuracy
from gan_cookbook.loaders import Dataset
from gan_cookbook.models import conditional_cooking_generator, cooking_generator
from gan_cookbook.noise import Noise
from gan_cookbook.recipes import get

COUNT = 300  # generated, reference and floor images per measurement
SEED = 4


def invoke(*arguments):
    return CliRunner().invoke(main, [str(argument) for argument in arguments])


# --- the scores function ------------------------------------------------------------


def test_label_accuracy_of_hand_made_probabilities():
    probabilities = np.array(
        [
            [0.7, 0.2, 0.1, 0.0],  # label 0, seen as 0: right
            [0.1, 0.8, 0.1, 0.0],  # label 1, seen as 1: right
            [0.3, 0.3, 0.4, 0.0],  # label 1, seen as 2: wrong
            [0.6, 0.3, 0.1, 0.0],  # label 1, seen as 0: wrong
            [0.2, 0.5, 0.3, 0.0],  # label 0, seen as 1: wrong
        ]
    )
    result = label_accuracy(probabilities, np.array([0, 1, 1, 1, 0]), 4)
    # 2 right of 5; class 0: 1 of 2, class 1: 1 of 3, classes 2 and 3 never drawn.
    assert result == {"overall": 2 / 5, "per_class": [1 / 2, 1 / 3, None, None]}
    perfect = label_accuracy(np.eye(3), np.array([0, 1, 2]), 3)
    assert perfect == {"overall": 1.0, "per_class": [1.0, 1.0, 1.0]}
    blind = label_accuracy(np.eye(3)[[0, 0, 0, 0]], np.array([0, 1, 2, 2]), 3)
    assert blind == {"overall": 1 / 4, "per_class": [1.0, 0.0, 0.0]}


@pytest.mark.parametrize(
    ("labels", "num_classes", "message"),
    [
        (np.array([0, 3]), 3, r"`labels` must lie in 0 \.\. 2"),
        (np.array([0, -1]), 3, r"`labels` must lie in 0 \.\. 2"),
        (np.array([0, 1, 2]), 3, "one per row of `probabilities`"),
        (np.array([0.0, 1.0]), 3, "`labels` must be integers"),
        (np.array([0, 1]), 0, "`num_classes` must be an integer of at least 1"),
    ],
)
def test_label_accuracy_refuses_labels_that_do_not_fit(labels, num_classes, message):
    with pytest.raises(ValueError, match=message):
        label_accuracy(np.eye(3)[:2], labels, num_classes)


# --- Evaluator.measure on generators made of real images -----------------------------


class ImageBank(keras.layers.Layer):
    """``[noise, label] -> bank[index]``: the index the label (conditional) or the
    argmax of the first ``len(bank)`` noise numbers (blind to the label)."""

    def __init__(self, bank, by_label, **options):
        super().__init__(**options)
        self.bank = np.asarray(bank, np.float32)
        self.by_label = by_label

    def build(self, input_shape):
        self.images = self.add_weight(
            shape=self.bank.shape,
            initializer=keras.initializers.Constant(self.bank),
            trainable=False,
        )

    def call(self, inputs):
        noise, label = inputs
        if self.by_label:
            index = keras.ops.cast(label, "int32")
        else:
            index = keras.ops.argmax(noise[:, : len(self.bank)], axis=-1)
        return keras.ops.take(self.images, index, axis=0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], *self.bank.shape[1:])


def bank_generator(bank, by_label, noise_dim=10):
    noise = keras.Input((noise_dim,), name="noise")
    label = keras.Input((), dtype="int32", name="label")
    return keras.Model([noise, label], ImageBank(bank, by_label)([noise, label]))


@pytest.fixture(scope="module")
def mnist():
    """The MNIST splits, the shipped classifier and which of the first 2,000 test
    images it misreads, the most confidently misread first."""
    training, test = load_mnist("train"), load_mnist("test")
    extractor = load_classifier(training, verbose=0)
    probabilities = extractor(test.images[:2000])[1]
    labels = test.labels[:2000]
    wrong = np.flatnonzero(probabilities.argmax(axis=1) != labels)
    assert len(wrong) > 0  # 99.25% on these 2,000 (docs/evaluation.md)
    # By how far the class it is seen as beats its own: no near tie to tip over.
    margins = probabilities[wrong].max(axis=1) - probabilities[wrong, labels[wrong]]
    return training, test, extractor, wrong[np.argsort(-margins)]


def first_read_right(test, extractor, wrong):
    """One test image of each class that the classifier reads right: (10, 28, 28, 1)."""
    right = np.setdiff1d(np.arange(2000), wrong)
    return test.images[[right[test.labels[right] == c][0] for c in range(10)]]


def uneven_training(training, never):
    """MNIST training images with class c (c + 1) * 20 times, class ``never`` not at
    all: the class frequencies the labels are drawn with."""
    chosen = np.concatenate(
        [
            np.flatnonzero(training.labels == c)[: (c + 1) * 20]
            for c in range(10)
            if c != never
        ]
    )
    return Dataset(training.images[chosen], training.labels[chosen], "uneven mnist")


def evaluator_of(training, test, extractor):
    """The reference: 300 labelled test images (from 2,000 on); the floor: 300
    other test images."""
    reference = slice(2000, 2000 + COUNT)
    data = EvaluationData(
        training,
        test.images[reference],
        test.images[4000 : 4000 + COUNT],
        "300 of mnist (test)",
        reference_labels=test.labels[reference],
    )
    return Evaluator(data, extractor=extractor)


def shares(labels, classes=10):
    return np.bincount(labels, minlength=classes) / len(labels)


def test_a_generator_of_real_images_of_each_class_scores_the_classifier_accuracy(
    mnist,
):
    training, test, extractor, wrong = mnist
    # Class `misread` gets a real image of its class that the classifier misreads;
    # every other class one it reads right. Class `never` is never drawn.
    misread_index = wrong[0]
    misread = int(test.labels[misread_index])
    never = (misread + 1) % 10
    bank = first_read_right(test, extractor, wrong)
    bank[misread] = test.images[misread_index]
    generator = bank_generator(bank, by_label=True)
    evaluator = evaluator_of(uneven_training(training, never), test, extractor)

    metrics = evaluator.measure(generator, Noise(), COUNT, seed=SEED)

    labels = draw_labels(evaluator.data.training.labels, COUNT, SEED)
    section = metrics["label_accuracy"]
    assert set(section) == {"overall", "per_class", "real", "real_per_class"}
    # Every image is right but those of class `misread`.
    assert section["overall"] == 1 - np.mean(labels == misread)
    assert section["per_class"] == [
        None if c == never else 0.0 if c == misread else 1.0 for c in range(10)
    ]
    # Which is the classifier's accuracy on the images drawn, exactly.
    images = generate(generator, draw_noise(Noise(), COUNT, 10, SEED), labels)
    assert section["overall"] == accuracy(
        extractor.classifier, Dataset(images, labels, "drawn")
    )
    # The floor: its accuracy on the labelled reference images, overall and per class.
    reference_labels = evaluator.data.reference_labels
    real = Dataset(evaluator.data.reference, reference_labels, "reference")
    assert section["real"] == accuracy(extractor.classifier, real)
    assert section["real"] > 0.97
    for c in range(10):
        of_class = Dataset(
            real.images[reference_labels == c],
            reference_labels[reference_labels == c],
            "",
        )
        assert section["real_per_class"][c] == accuracy(extractor.classifier, of_class)
    # The unconditional metrics, as for any generator.
    assert set(metrics["generated"]) == set(metrics["floor"])
    assert np.isfinite(metrics["generated"]["frechet_distance"])
    json.dumps(metrics)  # metrics.json holds it as it is


def test_labels_are_drawn_with_the_training_class_frequencies(mnist):
    training, test, extractor, wrong = mnist
    never = 0
    generator = bank_generator(first_read_right(test, extractor, wrong), by_label=True)
    uneven = uneven_training(training, never)
    evaluator = evaluator_of(uneven, test, extractor)

    metrics = evaluator.measure(generator, Noise(), COUNT, seed=SEED)

    # Each image is read as its label: the generated classes are the drawn labels.
    drawn = np.array(metrics["generated"]["class_histogram"])
    labels = draw_labels(uneven.labels, COUNT, SEED)
    np.testing.assert_allclose(drawn, shares(labels), atol=1e-6)
    # Class c (c + 1) * 20 times in 1,080 images, class 0 never: Pearson's
    # chi-square of the 300 draws against those shares, 8 degrees of freedom, is
    # under 26.12 but once in a thousand (11.9 for this seed).
    expected = COUNT * np.arange(2, 11) * 20 / 1080
    observed = COUNT * drawn
    assert observed[0] == 0
    assert np.sum((observed[1:] - expected) ** 2 / expected) < 26.12
    assert metrics["label_accuracy"]["overall"] == 1.0
    assert metrics["label_accuracy"]["per_class"] == [None] + [1.0] * 9
    # The same labels for the same seed: two measurements compare.
    again = evaluator.measure(generator, Noise(), COUNT, seed=SEED)
    assert again["generated"]["class_histogram"] == drawn.tolist()
    other = evaluator.measure(generator, Noise(), COUNT, seed=SEED + 1)
    assert other["generated"]["class_histogram"] != drawn.tolist()


def test_a_class_blind_generator_scores_near_chance(mnist):
    training, test, extractor, wrong = mnist
    # The image is picked by the noise, whatever the label: each class a tenth.
    generator = bank_generator(first_read_right(test, extractor, wrong), by_label=False)
    evaluator = evaluator_of(training, test, extractor)

    metrics = evaluator.measure(generator, Noise(), COUNT, seed=SEED)

    labels = draw_labels(training.labels, COUNT, SEED)
    picked = draw_noise(Noise(), COUNT, 10, SEED).argmax(axis=1)
    section = metrics["label_accuracy"]
    assert section["overall"] == np.mean(picked == labels)
    # Chance: sum over c of p(label c) * p(image c) = 0.1; 300 draws, sd 0.017.
    assert abs(section["overall"] - 0.1) < 0.06
    assert max(section["per_class"]) < 0.35
    # Yet every class is drawn as often as real: the unconditional metrics see no
    # fault that label accuracy does.
    assert metrics["generated"]["classes_covered"] == 10
    assert section["real"] > 0.97

    text = table(metrics)
    assert f"{section['overall']:.1%}" in text and f"{section['real']:.1%}" in text
    lines = text.splitlines()
    (row,) = [line for line in lines if line.startswith("label accuracy")]
    assert "floor" in row
    header = lines.index(row) + 1
    assert lines[header].split() == ["per", "class", "(%)", *map(str, range(10))]
    generated = lines[header + 1].split()
    assert generated[0] == "generated" and len(generated) == 11
    assert float(generated[1]) == pytest.approx(100 * section["per_class"][0], abs=0.05)
    assert lines[header + 2].split()[:2] == ["real", "floor"]


def test_an_unconditional_generator_gets_no_label_accuracy(mnist):
    training, test, extractor, _ = mnist
    keras.utils.set_random_seed(0)
    metrics = evaluator_of(training, test, extractor).measure(
        cooking_generator(10, (28, 28, 1)), Noise(), COUNT, seed=SEED
    )
    assert "label_accuracy" not in metrics
    assert "label accuracy" not in table(metrics)


def test_a_conditional_generator_needs_labelled_training_data(mnist):
    _, test, extractor, wrong = mnist
    generator = bank_generator(first_read_right(test, extractor, wrong), by_label=True)
    unlabelled = Dataset(test.images[:100], None, "faces")
    with pytest.raises(ValueError, match="faces: has no labels to draw"):
        evaluator_of(unlabelled, test, extractor).measure(generator, Noise(), 50)


# --- the evaluate command -----------------------------------------------------------


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    """One epoch on 512 images, of the small conditional models: what evaluate does
    with a conditional run is the same for every recipe."""
    out = tmp_path_factory.mktemp("runs") / "conditional"
    cook(
        get("mnist_quick_conditional"),
        out=out,
        limit=512,
        epochs=1,
        batch_size=64,
        verbose=0,
    )
    return out


def test_evaluate_a_conditional_run_reports_label_accuracy(conditional_run, tmp_path):
    out = tmp_path / "metrics.json"
    result = invoke(
        "evaluate", conditional_run, "--n", 200, "--compare-raw", "--out", out
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    section = metrics["label_accuracy"]
    assert set(section) == {"overall", "per_class", "real", "real_per_class"}
    assert 0 <= section["overall"] <= 1 and len(section["per_class"]) == 10
    # The shipped classifier on 200 MNIST test images.
    assert section["real"] > 0.95 and len(section["real_per_class"]) == 10
    # The unconditional metrics as for any run.
    assert (
        metrics["generated"]["frechet_distance"] > metrics["floor"]["frechet_distance"]
    )
    # The trained generator on the same labels, beside the same floor.
    raw = metrics["raw"]["label_accuracy"]
    assert raw["real"] == section["real"]
    assert raw["real_per_class"] == section["real_per_class"]
    # Printed: the row beside its floor and the per-class lines, for both.
    assert result.output.count("label accuracy") == 2
    assert result.output.count("per class (%)") == 2
    assert f"{section['overall']:.1%}" in result.output
    assert f"{raw['overall']:.1%}" in result.output
    assert f"{section['real']:.1%}" in result.output


def test_evaluate_refuses_data_of_more_classes_than_the_generator_draws(tmp_path):
    run = tmp_path / "three"
    run.mkdir()
    keras.utils.set_random_seed(0)
    conditional_cooking_generator(10, num_classes=3).save(run / "generator.keras")
    settings = {
        "recipe": {"noise": dataclasses.asdict(Noise()), "conditional": True},
        "data": {
            "source": "mnist (train)",
            "identity": DataSource.builtin("mnist").to_config(),
            "num_classes": 3,
        },
    }
    (run / "recipe.json").write_text(json.dumps(settings))
    result = invoke("evaluate", run, "--n", 20)
    assert result.exit_code == 2
    assert "The generator draws 3 classes, but mnist (train) has 10" in " ".join(
        result.output.split()
    )


def test_evaluate_an_unconditional_run_writes_no_label_accuracy(tmp_path):
    run = tmp_path / "plain"
    run.mkdir()
    keras.utils.set_random_seed(0)
    cooking_generator(10, (28, 28, 1)).save(run / "generator.keras")
    settings = {
        "recipe": {"noise": dataclasses.asdict(Noise())},
        "data": {"identity": DataSource.builtin("mnist").to_config()},
    }
    (run / "recipe.json").write_text(json.dumps(settings))
    result = invoke("evaluate", run, "--n", 100)
    assert result.exit_code == 0, result.output
    assert "label_accuracy" not in json.loads((run / "metrics.json").read_text())
    assert "label accuracy" not in result.output
