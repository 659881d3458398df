"""Dataset loaders: MedMNIST (checksum-verified, scikit-learn ``fetch_*`` style) and folders
of PNG / JPEG / DICOM images (one subfolder per class, or a ``labels.csv`` file).

Images come back as uint8 arrays of shape ``(n, H, W)`` (grayscale) or ``(n, 3, H, W)``
(RGB, channels first), which :class:`~skdcsae.DCSAETransformer` takes directly. Image files
are untrusted input: only regular files are read, and sizes are checked against limits
before anything is allocated.
"""

from ._base import get_data_home
from ._digits import load_demo_digits
from ._image_folder import load_image_folder
from ._medmnist import fetch_medmnist, load_medmnist_npz

__all__ = [
    "fetch_medmnist",
    "get_data_home",
    "load_demo_digits",
    "load_image_folder",
    "load_medmnist_npz",
]
