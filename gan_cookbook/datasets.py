"""Datasets fetched once into the Keras cache: Fashion-MNIST and Kuzushiji-MNIST.

Files are fetched with ``keras.utils.get_file`` into ``$KERAS_HOME/datasets/<name>``
(``~/.keras/datasets/<name>`` without ``KERAS_HOME``) and checked against their
published MD5. A file already there with the right hash is used as it is, so a filled
cache needs no network. With no network and no copy, the error names every file, its
address and the folder to put it in.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import keras

from gan_cookbook.data import Dataset, DataSource, load_idx


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name in the cache, its address, its MD5."""

    name: str
    url: str
    md5: str


@dataclasses.dataclass(frozen=True)
class RemoteDataset:
    """A dataset published as IDX files (LeCun's MNIST format).

    Attributes:
        title: The dataset's name in messages and ``recipe.json``.
        folder: Its folder in the Keras cache's ``datasets`` folder.
        splits: For ``"train"`` and ``"test"``: the images file, then the labels file.
        homepage: Where the dataset is described, with its licence.
    """

    title: str
    folder: str
    splits: dict[str, tuple[RemoteFile, RemoteFile]]
    homepage: str

    def files(self) -> list[RemoteFile]:
        """Every file of every split."""
        return [file for pair in self.splits.values() for file in pair]


def _idx_files(base_url: str, md5: dict[str, str]) -> dict[str, tuple]:
    def remote(name: str) -> RemoteFile:
        return RemoteFile(name, base_url + name, md5[name])

    return {
        split: (
            remote(f"{prefix}-images-idx3-ubyte.gz"),
            remote(f"{prefix}-labels-idx1-ubyte.gz"),
        )
        for split, prefix in (("train", "train"), ("test", "t10k"))
    }


# Zalando's own files and the MD5s its README publishes
# (github.com/zalandoresearch/fashion-mnist, "Get the Data"). The cache folder is the
# one keras.datasets.fashion_mnist uses, so a copy Keras fetched is reused when its
# hash matches.
FASHION_MNIST = RemoteDataset(
    title="Fashion-MNIST",
    folder="fashion-mnist",
    splits=_idx_files(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
    homepage="https://github.com/zalandoresearch/fashion-mnist (MIT licence)",
)

# The official release's MNIST-format files (github.com/rois-codh/kmnist). Its NumPy
# (.npz) files carry no published hash anywhere we could find; these IDX files do:
# the MD5s below are the ones torchvision.datasets.KMNIST checks.
KMNIST = RemoteDataset(
    title="Kuzushiji-MNIST",
    folder="kmnist",
    splits=_idx_files(
        "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        {
            "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
            "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
            "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
            "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
        },
    ),
    homepage="https://github.com/rois-codh/kmnist (CC BY-SA 4.0)",
)


def keras_cache() -> Path:
    """``$KERAS_HOME``, or ``~/.keras``: read now, not when Keras was imported."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def cache_folder(dataset: RemoteDataset) -> Path:
    """Where ``dataset``'s files are kept: ``<Keras cache>/datasets/<folder>``."""
    return keras_cache() / "datasets" / dataset.folder


def fetch(dataset: RemoteDataset, split: str = "train") -> tuple[Path, Path]:
    """The cached images and labels files of ``split``, downloaded if missing.

    Raises:
        ValueError: a file is neither cached (with the right hash) nor could be
            downloaded; the message names every file, its address and the folder.
    """
    if split not in dataset.splits:
        raise ValueError(
            f"`split` must be one of {', '.join(map(repr, dataset.splits))}. "
            f"Received: split={split!r}"
        )
    try:
        # get_file falls back to /tmp/.keras when the cache folder does not exist
        # yet; made here, the files land where the messages say.
        cache_folder(dataset).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"{dataset.title}: cannot create the cache folder {cache_folder(dataset)} "
            f"({error}). Set KERAS_HOME to a writable folder, or pass --data."
        ) from None
    paths, failures = [], []
    for file in dataset.splits[split]:
        try:
            # A cached file whose hash matches is returned without any network use;
            # a missing or damaged one is downloaded and its hash checked.
            path = keras.utils.get_file(
                fname=file.name,
                origin=file.url,
                file_hash=file.md5,
                hash_algorithm="md5",
                cache_dir=str(keras_cache()),
                cache_subdir=str(Path("datasets") / dataset.folder),
            )
            paths.append(Path(path))
        except Exception as error:  # noqa: BLE001 - get_file raises bare Exceptions
            failures.append(f"{file.name}: {error}")
    if failures:
        raise ValueError(offline_message(dataset, split, failures))
    return paths[0], paths[1]


def offline_message(dataset: RemoteDataset, split: str, failures: list[str]) -> str:
    """What to do when ``split``'s files are neither cached nor downloadable."""
    needed = "\n".join(
        f"  {file.name}  from {file.url}  (MD5 {file.md5})"
        for file in dataset.splits[split]
    )
    errors = "\n".join(f"  {failure}" for failure in failures)
    return (
        f"{dataset.title} ({split}) is not in the Keras cache and could not be "
        f"downloaded:\n{errors}\n"
        f"It needs these files:\n{needed}\n"
        f"Download them on a machine with a network and put them, with these names, "
        f"in {cache_folder(dataset)} (set KERAS_HOME to use another cache), or pass "
        f"--data with your copy of the images file (its labels file next to it)."
    )


def load_remote(dataset: RemoteDataset, split: str = "train") -> Dataset:
    """``split`` of ``dataset`` from the Keras cache, fetched first if need be.

    Its identity is the cached images file; the built-in datasets' loaders below
    name the dataset instead.
    """
    images_path, labels_path = fetch(dataset, split)
    loaded = load_idx(images_path, labels_path)
    return dataclasses.replace(loaded, source=f"{dataset.title} ({split})")


def load_fashion_mnist(split: str = "train") -> Dataset:
    """Fashion-MNIST (Zalando): 60,000 training or 10,000 test images, 10 classes."""
    return dataclasses.replace(
        load_remote(FASHION_MNIST, split),
        identity=DataSource.builtin("fashion_mnist"),
    )


def load_kmnist(split: str = "train") -> Dataset:
    """Kuzushiji-MNIST (CODH): 60,000 training or 10,000 test images, 10 classes."""
    return dataclasses.replace(
        load_remote(KMNIST, split), identity=DataSource.builtin("kmnist")
    )
