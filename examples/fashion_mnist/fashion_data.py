"""Fashion-MNIST IDX reader shared by train.py and evaluate.py (no torchvision download)."""
import gzip
import os
import struct

import numpy as np

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class DatasetMissing(Exception):
    pass


def _read_idx(path):
    # IDX: 2 zero bytes, dtype code (0x08 = uint8), ndim, then ndim big-endian uint32 sizes.
    if not os.path.isfile(path):
        raise DatasetMissing(f"{path} not found: install dataset-fashion-mnist "
                             f"(apt-get install dataset-fashion-mnist) or pass --data-dir")
    with gzip.open(path, "rb") as f:
        zero, dtype, ndim = struct.unpack(">HBB", f.read(4))
        if zero != 0 or dtype != 0x08:
            raise ValueError(f"{path}: not a uint8 IDX file")
        shape = struct.unpack(f">{ndim}I", f.read(4 * ndim))
        data = np.frombuffer(bytearray(f.read()), dtype=np.uint8)  # writable, so torch.from_numpy is happy
    return data.reshape(shape)


def load_split(data_dir, split):
    """Return (images uint8 [N,28,28], labels int64 [N]) for split 'train' or 't10k'."""
    images = _read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = _read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    if len(images) != len(labels):
        raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
    return images, labels.astype(np.int64)
