"""The STAMP file of a generated reference folder.

A stamp is a hash of the scripts that made the folder and of the torch and
torchvision versions; a generator skips a folder whose stamp is current, so a
CTest fixture costs ~0.1 s after its first run. This module imports no torch.
"""

import hashlib
import importlib.metadata
import os

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "STAMP"


def text(scripts):
    """The stamp of `scripts` (file names in tests/reference) and torch."""
    digest = hashlib.sha256()
    for name in scripts:
        with open(os.path.join(HERE, name), "rb") as f:
            digest.update(f.read())
    for package in ("torch", "torchvision"):
        try:
            digest.update(importlib.metadata.version(package).encode())
        except importlib.metadata.PackageNotFoundError:
            pass
    return digest.hexdigest() + "\n"


def is_current(outdir, scripts):
    try:
        with open(os.path.join(outdir, NAME)) as f:
            return f.read() == text(scripts)
    except OSError:
        return False


def invalidate(outdir):
    """Removes the stamp before regenerating, so an interrupted run is redone."""
    path = os.path.join(outdir, NAME)
    if os.path.exists(path):
        os.remove(path)


def write(outdir, scripts):
    with open(os.path.join(outdir, NAME), "w") as f:
        f.write(text(scripts))
