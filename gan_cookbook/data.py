"""The data sources: built-in datasets and local files, each with its identity.

Every loader returns a :class:`~gan_cookbook.loaders.Dataset` whose images are float32
in [-1, 1] with shape ``(N, height, width, channels)``, the range of the generators'
``tanh``, and records where its data came from in ``Dataset.identity``: a
:class:`DataSource`, which ``recipe.json`` keeps and which loads the data (and their
test split) again.

- The built-in datasets (:data:`BUILTIN_DATASETS`): MNIST ships with the package
  (:func:`load_mnist`); Fashion-MNIST and Kuzushiji-MNIST are fetched once into the
  Keras cache and checked against their published MD5 (:func:`load_fashion_mnist`,
  :func:`load_kmnist`, :func:`fetch`).
- Local files: :func:`load_path` reads any supported file or folder and brings it to
  28x28 with 1 or 3 channels; :func:`load_npz`, :func:`load_npy`, :func:`load_idx`
  and :func:`load_image_folder` read one kind each.

This is the module users import from: ``from gan_cookbook.data import Dataset,
load_path`` (recipe files do), ``DataSource``, ``load_mnist``. ``Dataset`` is defined
in :mod:`gan_cookbook.loaders`, which reads the files; this module imports it, and
:mod:`gan_cookbook.pixels`, which converts pixels. Neither imports this one. Keras is
imported only to download (:func:`fetch`), so this module loads without it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from gan_cookbook.loaders import (
    Dataset,
    find_test_split,
    idx_labels_path,
    read_file,
    read_idx_images,
    read_image_folder,
    read_npy,
    read_npz,
    read_path,
    with_channels,
)
from gan_cookbook.pixels import DEFAULT_RESIZE, RESIZE_METHODS

BUILTIN_DATASETS = ("mnist", "fashion_mnist", "kmnist")
"""The datasets :class:`DataSource` loads by name: MNIST ships with the package, the
others come from the Keras cache (:func:`fetch`)."""

SOURCE_KINDS = ("builtin", "file", "folder")

SPLITS = ("train", "test")

MNIST_FILE = "mnist.npz"


@dataclass(frozen=True)
class DataSource:
    """Where a dataset came from: enough to load its train and test splits again.

    A run records it in ``recipe.json`` (:meth:`to_config`), so that its generator
    can be measured later against the same data (:meth:`load_splits`).

    Attributes:
        kind: ``"builtin"`` (a dataset of :data:`BUILTIN_DATASETS`, by ``name``),
            ``"file"`` (an ``.npz``, ``.npy`` or IDX images file at ``path``) or
            ``"folder"`` (a folder of images at ``path``).
        name: The built-in dataset's name; ``None`` for the other kinds.
        path: The file or folder, absolute; ``None`` for a built-in dataset.
        channels: The channels the images were converted to (1 or 3), or ``None``
            for the data's own.
        resize: The :data:`~gan_cookbook.pixels.RESIZE_METHODS` filter that brought
            the images to 28x28, or ``None`` for a file read as it is
            (:func:`load_npz`, :func:`load_npy` and :func:`load_idx` resize nothing).
        skip_bad_images: Whether a folder's unreadable images were left out.
    """

    kind: str
    name: str | None = None
    path: str | None = None
    channels: int | None = None
    resize: str | None = DEFAULT_RESIZE
    skip_bad_images: bool = False

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(
                f"`kind` must be one of {', '.join(SOURCE_KINDS)}. "
                f"Received: kind={self.kind!r}"
            )
        if self.kind == "builtin":
            if self.name not in BUILTIN_DATASETS:
                raise ValueError(
                    f"`name` of a built-in data source must be one of "
                    f"{', '.join(BUILTIN_DATASETS)}. Received: name={self.name!r}"
                )
            if self.path is not None:
                raise ValueError(
                    "`path` must be None for a built-in data source. "
                    f"Received: path={self.path!r}"
                )
        else:
            if not isinstance(self.path, (str, os.PathLike)) or not str(self.path):
                raise ValueError(
                    f"`path` of a {self.kind} data source must be a path. "
                    f"Received: path={self.path!r}"
                )
            if self.name is not None:
                raise ValueError(
                    f"`name` must be None for a {self.kind} data source. "
                    f"Received: name={self.name!r}"
                )
            object.__setattr__(self, "path", os.path.abspath(self.path))
        if self.channels not in (None, 1, 3) or isinstance(self.channels, bool):
            raise ValueError(
                "`channels` must be 1 (grayscale), 3 (RGB) or None (keep the data's). "
                f"Received: channels={self.channels!r}"
            )
        if self.resize is not None or self.kind == "folder":
            if not isinstance(self.resize, str) or self.resize not in RESIZE_METHODS:
                allowed = ", ".join(RESIZE_METHODS)
                if self.kind != "folder":
                    allowed += " or None (read as it is)"
                raise ValueError(
                    f"`resize` must be one of {allowed}. "
                    f"Received: resize={self.resize!r}"
                )
        if not isinstance(self.skip_bad_images, bool):
            raise ValueError(
                "`skip_bad_images` must be True or False. "
                f"Received: skip_bad_images={self.skip_bad_images!r}"
            )

    @classmethod
    def builtin(cls, name: str, channels: int | None = None) -> DataSource:
        """A dataset of :data:`BUILTIN_DATASETS`."""
        return cls("builtin", name=name, channels=channels, resize=None)

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        channels: int | None = None,
        resize: str | None = DEFAULT_RESIZE,
        skip_bad_images: bool = False,
    ) -> DataSource:
        """The file or folder at ``path``, as :func:`load_path` reads it."""
        kind = "folder" if Path(path).is_dir() else "file"
        return cls(
            kind,
            path=str(path),
            channels=channels,
            resize=resize,
            skip_bad_images=skip_bad_images,
        )

    def to_config(self) -> dict[str, Any]:
        """The source as JSON-ready values; :meth:`from_config` reads them back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DataSource:
        """The source :meth:`to_config` wrote.

        Raises:
            ValueError: not a dict, a key missing or unknown, or a bad value; the
                message names it.
        """
        if not isinstance(config, dict):
            raise ValueError(
                "A data source config must be a dict. "
                f"Received: {type(config).__name__} {config!r}"
            )
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(config) - set(known), key=str)
        if unknown:
            raise ValueError(
                f"Unknown key {unknown[0]!r} in a data source config. Expected keys: "
                f"{', '.join(known)}. Received: {config!r}"
            )
        if "kind" not in config:
            raise ValueError(
                "A data source config needs the key 'kind' "
                f"({', '.join(SOURCE_KINDS)}). Received: {config!r}"
            )
        return cls(**config)

    def test_path(self) -> Path | None:
        """The file that holds a file source's test split, or ``None`` if none does.

        An ``.npz`` holds its own (``x_test``); an IDX images file's is the file named
        with ``train`` replaced by ``t10k`` or ``test`` beside it, gzipped or not.
        """
        return find_test_split(self.path) if self.kind == "file" else None

    def load(self, split: str = "train") -> Dataset:
        """The ``"train"`` or ``"test"`` split, as it was loaded the first time.

        Raises:
            ValueError: the data cannot be read, or it has no such split.
        """
        if split not in SPLITS:
            raise ValueError(
                f'`split` must be "train" or "test". Received: split={split!r}'
            )
        if self.kind == "builtin":
            dataset = with_channels(_load_builtin(self.name, split), self.channels)
        elif split == "test" and self.test_path() is None:
            raise ValueError(
                f"{self.path}: has no test split. Expected {_TEST_SPLITS}. "
                "Received: split='test'"
            )
        elif self.kind == "folder":
            dataset = read_image_folder(
                self.path, self.channels, self.resize, self.skip_bad_images
            )
        else:
            path = Path(self.path) if split == "train" else self.test_path()
            dataset = read_file(path, split, self.channels, self.resize)
        return dataclasses.replace(dataset, identity=self)

    def load_splits(self) -> tuple[Dataset, Dataset | None]:
        """``(train, test)``; ``test`` is ``None`` when the data has no test split."""
        has_test = self.kind == "builtin" or self.test_path() is not None
        return self.load("train"), self.load("test") if has_test else None


_TEST_SPLITS = (
    "a built-in dataset, an .npz with x_test, or an IDX train file with its "
    "t10k (or test) file beside it"
)


def _load_builtin(name: str, split: str) -> Dataset:
    loader = {
        "mnist": load_mnist,
        "fashion_mnist": load_fashion_mnist,
        "kmnist": load_kmnist,
    }
    return loader[name](split)


# --- local files, with their identities ----------------------------------------------


def _read_as_is(path: str | Path) -> DataSource:
    """The identity of a file read as it is: no channels converted, no resizing."""
    return DataSource("file", path=str(path), channels=None, resize=None)


def load_npz(path: str | Path, split: str = "train") -> Dataset:
    """Loads images (and labels if present) from an ``.npz`` file.

    Two layouts are read: the Keras one of ``keras.datasets.mnist.load_data()``
    (``x_train``, optional ``y_train``, ``x_test``, ``y_test``; ``split`` picks
    ``x_{split}``), and a file holding a single array of images under any name (as
    ``np.savez(path, images)`` writes it), whose labels are read from the file
    :func:`~gan_cookbook.loaders.npz_labels_path` finds beside it.
    """
    dataset = read_npz(path, split)
    return dataclasses.replace(dataset, identity=_read_as_is(path))


def load_npy(path: str | Path) -> Dataset:
    """Loads one array of images, ``(N, height, width[, channels])``, from ``.npy``."""
    return dataclasses.replace(read_npy(path), identity=_read_as_is(path))


def load_idx(path: str | Path, labels_path: str | Path | None = None) -> Dataset:
    """Loads an IDX images file and, when found next to it, its labels file.

    Args:
        path: ``*-images-idx3-ubyte``, gzipped or not.
        labels_path: The labels file. Defaults to the one
            :func:`~gan_cookbook.loaders.idx_labels_path` finds; without one the
            dataset has no labels.
    """
    dataset = read_idx_images(path, labels_path)
    beside = idx_labels_path(path)
    # Labels from elsewhere than beside the images: loading the file again would not
    # find them, so the dataset has no identity.
    if labels_path is None or (beside is not None and Path(labels_path) == beside):
        dataset = dataclasses.replace(dataset, identity=_read_as_is(path))
    return dataset


def load_image_folder(
    folder: str | Path,
    channels: int | None = None,
    resize: str = DEFAULT_RESIZE,
    skip_bad_images: bool = False,
) -> Dataset:
    """Reads every image in ``folder`` and its subfolders, as
    :func:`~gan_cookbook.loaders.read_image_folder` does (its arguments are
    described there), and records the folder as the dataset's identity."""
    dataset = read_image_folder(folder, channels, resize, skip_bad_images)
    identity = DataSource(
        "folder",
        path=str(folder),
        channels=channels,
        resize=resize,
        skip_bad_images=skip_bad_images,
    )
    return dataclasses.replace(dataset, identity=identity)


def load_path(
    path: str | Path,
    channels: int | None = None,
    resize: str = DEFAULT_RESIZE,
    skip_bad_images: bool = False,
) -> Dataset:
    """Any supported file or folder as a 28x28 dataset with 1 or 3 channels.

    Args:
        path: An ``.npz`` (Keras layout or a single array), an ``.npy``, an IDX
            images file (``*-images-idx3-ubyte``, gzipped or not; its labels file
            is read when it lies next to it) or a folder of images.
        channels: 1 or 3 to convert to; ``None`` keeps the data's own.
        resize: How images of another size become 28x28: a
            :data:`~gan_cookbook.pixels.RESIZE_METHODS` name. ``"none"`` makes other
            sizes an error.
        skip_bad_images: In a folder, leave out files Pillow cannot read.

    The dataset's ``identity`` records the path (absolute) and these options, so
    that its test split, when it has one, can be found and read alike.

    Raises:
        ValueError: the path is missing, empty or not what its name says; the
            message names the file and what was expected.
    """
    dataset = read_path(path, channels, resize, skip_bad_images)
    if Path(path).is_dir():
        identity = DataSource(
            "folder",
            path=str(path),
            channels=channels,
            resize=resize,
            skip_bad_images=skip_bad_images,
        )
    else:
        identity = DataSource("file", path=str(path), channels=channels, resize=resize)
    return dataclasses.replace(dataset, identity=identity)


# --- MNIST, shipped with the package -------------------------------------------------


def mnist_path() -> Path:
    """The MNIST file shipped inside the package."""
    return Path(str(resources.files("gan_cookbook") / "data" / MNIST_FILE))


def load_mnist(split: str = "train") -> Dataset:
    """MNIST (LeCun, Cortes, Burges), read from the copy shipped with the package.

    No network is needed. ``split`` is ``"train"`` (60,000 images) or ``"test"``
    (10,000).
    """
    if split not in ("train", "test"):
        raise ValueError(
            f'`split` must be "train" or "test". Received: split={split!r}'
        )
    dataset = read_npz(mnist_path(), split)
    return Dataset(
        dataset.images,
        dataset.labels,
        f"mnist ({split})",
        identity=DataSource.builtin("mnist"),
    )


# --- Fashion-MNIST and Kuzushiji-MNIST, fetched into the Keras cache -----------------
#
# Files are fetched with ``keras.utils.get_file`` into ``$KERAS_HOME/datasets/<name>``
# (``~/.keras/datasets/<name>`` without ``KERAS_HOME``) and checked against their
# published MD5. A file already there with the right hash is used as it is, so a
# filled cache needs no network. With no network and no copy, the error names every
# file, its address and the folder to put it in.


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name in the cache, its address, its MD5."""

    name: str
    url: str
    md5: str


@dataclass(frozen=True)
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
    # Imported here, not at the top: only a download needs Keras, and importing this
    # module (recipes do, to name their data) must not start a backend.
    import keras

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
