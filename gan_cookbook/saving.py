"""The package's Keras classes that saved models name, registered with Keras.

``generator.keras`` and ``discriminator.keras`` name layers and metrics of this
package (``gan_cookbook>MinibatchStandardDeviation``, ``gan_cookbook>LabelAccuracy``);
Keras finds a class by that name only once the module defining it has been imported.
``import gan_cookbook`` imports this module as soon as Keras is imported (at once if
it already is), so every saved model loads with ``keras.saving.load_model``.
"""

from __future__ import annotations

from gan_cookbook.gan_model import LabelAccuracy
from gan_cookbook.models import MinibatchStandardDeviation

CUSTOM_OBJECTS = {
    "gan_cookbook>LabelAccuracy": LabelAccuracy,
    "gan_cookbook>MinibatchStandardDeviation": MinibatchStandardDeviation,
}
"""The registered classes by the name saved models give them."""
