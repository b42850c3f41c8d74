"""Cook your own folder of small images. A template: copy it, edit it, cook it.

    gan-cookbook cook recipes/image_folder.py --data path/to/images

The folder may hold PNG, JPEG, BMP, GIF, TIFF or WebP files, directly or in class
subfolders (``cats/``, ``dogs/``: the folder names become labels). Images are read in
sorted order, cropped to a centred square and resized to 28x28 (``--resize`` picks the
filter, ``--resize none`` refuses other sizes). ``--data`` also takes an .npz, .npy
or IDX file. Files Pillow cannot read stop the run with their name, unless you pass
``--skip-bad-images``.
"""

from pathlib import Path

from gan_cookbook.data import Dataset, load_path
from gan_cookbook.recipes.mnist import RECIPE as MNIST

# Your folder, to cook without --data (relative to where you run the command).
# --data wins when given.
DATA = None


def load_data() -> Dataset:
    if DATA is None:
        raise ValueError(
            f"{Path(__file__).name} has no data of its own. Expected --data DIR, "
            "or DATA set in the file."
        )
    return load_path(DATA, resize="lanczos", skip_bad_images=False)


RECIPE = MNIST.replace(
    name="image_folder",
    description="Your own folder of images (--data DIR), the cooking DCGAN",
    load_data=load_data,
    # None keeps the images' own colours: grayscale when every image is grayscale,
    # else RGB. Set 1 or 3 to convert.
    channels=None,
    # A folder holds hundreds or thousands of images, not MNIST's 60,000: a smaller
    # batch gives more steps per epoch (1,000 images: 31 steps at 32).
    batch_size=32,
    # MNIST's 10 epochs at batch 128 are about 4,700 steps; 1,000 images need about
    # 150 epochs at batch 32 for as many. Watch samples/ and stop early with Ctrl-C.
    epochs=150,
    # Kept from mnist (measured there): the cooking models, noise 10 uniform [0, 1),
    # Adam(2e-4, beta_1=0.5) for both models, an 8x8 grid, seed 0. Nothing here is
    # measured on your images.
)
