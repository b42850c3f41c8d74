"""Every model a run saves loads in a fresh interpreter after ``import gan_cookbook``,
whichever of Keras and the package is imported first."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gan_cookbook import recipes
from gan_cookbook.cook import cook

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A one-epoch run of mnist (D with the label-accuracy metric) and of
    mnist_quick (D with the minibatch standard deviation layer)."""
    folder = tmp_path_factory.mktemp("runs")
    for name in ("mnist", "mnist_quick"):
        cook(
            recipes.get(name),
            out=folder / name,
            epochs=1,
            limit=256,
            batch_size=64,
            verbose=0,
        )
    return folder


def load_in_fresh_process(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "imports",
    ["import gan_cookbook\nimport keras", "import keras\nimport gan_cookbook"],
    ids=["package-first", "keras-first"],
)
def test_every_saved_model_loads_after_import_gan_cookbook(runs, imports):
    files = sorted(str(path) for path in runs.glob("*/*.keras"))
    names = sorted({Path(path).name for path in files})
    assert names == [
        "discriminator.keras",
        "generator.keras",
        "generator_raw.keras",
    ]
    result = load_in_fresh_process(
        imports
        + f"""
for path in {files!r}:
    model = keras.saving.load_model(path)
    keras.saving.load_model(path, compile=False)
    print(path, model.count_params())
"""
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(files)


def test_without_the_package_keras_names_the_missing_class(runs):
    # What the registration saves users from: Keras alone does not know the layer.
    result = load_in_fresh_process(
        f"""
        import keras
        keras.saving.load_model({str(runs / "mnist_quick" / "discriminator.keras")!r})
        """
    )
    assert result.returncode != 0
    assert "MinibatchStandardDeviation" in result.stderr


def test_import_gan_cookbook_alone_starts_no_backend():
    result = load_in_fresh_process(
        """
        import sys
        import gan_cookbook
        print(sorted(name for name in ("keras", "tensorflow", "jax", "torch")
                     if name in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
