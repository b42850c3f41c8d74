import numpy as np
import pytest

from gan_cookbook.gan_model import discriminator_metrics
from gan_cookbook.keras_objects import LabelAccuracy


def test_label_accuracy_counts_one_label_only():
    y_true = np.array([[1], [1], [1], [0], [0]], dtype="float32")
    y_pred = np.array([[0.9], [0.2], [0.6], [0.1], [0.7]], dtype="float32")
    real, fake = discriminator_metrics()
    real.update_state(y_true, y_pred)
    fake.update_state(y_true, y_pred)
    assert float(real.result()) == pytest.approx(2 / 3)
    assert float(fake.result()) == pytest.approx(1 / 2)
    assert (real.name, fake.name) == ("real_accuracy", "fake_accuracy")


def test_label_accuracy_accumulates_and_handles_no_images():
    metric = LabelAccuracy(0)
    metric.update_state(np.ones((4, 1)), np.zeros((4, 1)))
    assert float(metric.result()) == 0.0  # no fakes seen: 0, not NaN
    metric.update_state(np.zeros((2, 1)), np.array([[0.2], [0.9]]))
    metric.update_state(np.zeros((2, 1)), np.array([[0.3], [0.4]]))
    assert float(metric.result()) == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="Received: label=2"):
        LabelAccuracy(2)


def test_label_accuracy_counts_a_smoothed_real_label_as_real():
    # One-sided label smoothing: reals labelled 0.9 are reals, not a tenth of a fake.
    y_true = np.array([[0.9], [0.9], [0], [0]], dtype="float32")
    y_pred = np.array([[0.8], [0.8], [0.8], [0.2]], dtype="float32")
    real, fake = discriminator_metrics()
    real.update_state(y_true, y_pred)
    fake.update_state(y_true, y_pred)
    assert float(real.result()) == pytest.approx(1.0)
    assert float(fake.result()) == pytest.approx(1 / 2)
