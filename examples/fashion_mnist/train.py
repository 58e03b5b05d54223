#!/usr/bin/python3
"""Train the small Fashion-MNIST CNN shipped with guidedbp and export it as TorchScript.

Writes model.pt, model_card.json, labels.txt and images/*.png into --out-dir.
Run with Debian's python (/usr/bin/python3, python3-torch).
"""
import argparse
import json
import os
import re
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from fashion_data import CLASSES, DEFAULT_DATA_DIR, DatasetMissing, load_split

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
EXAMPLE_CLASSES = [0, 1, 3, 5, 7, 9]  # one shipped image per class, a varied subset


class FashionCNN(nn.Module):
    """Input: N x 1 x 28 x 28 float32 raw pixels in [0,1]; output: N x 10 logits."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        # Normalisation lives in the model so callers (the CLI) feed raw [0,1] pixels.
        self.register_buffer("mean", torch.full((1, 1, 1, 1), mean))
        self.register_buffer("std", torch.full((1, 1, 1, 1), std))
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.relu1 = nn.ReLU()  # module ReLU, on purpose (the others are functional)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        x = self.pool(self.relu1(self.conv1(x)))       # 16 x 14 x 14
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)     # 32 x 7 x 7
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


def to_input(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0,1], exactly what the model expects."""
    return torch.from_numpy(np.ascontiguousarray(images_u8)).float().div_(255.0).unsqueeze(1)


@torch.no_grad()
def predict(model, images_u8, batch=1000):
    return torch.cat([model(to_input(images_u8[i:i + batch])).argmax(1)
                      for i in range(0, len(images_u8), batch)])


def write_png_gray8(path, pixels):
    """Minimal 8-bit grayscale PNG writer (stdlib only): filter byte 0 per row, one IDAT."""
    h, w = pixels.shape

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + pixels[r].astype(np.uint8).tobytes() for r in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9))
                + chunk(b"IEND", b""))


def slug(name):
    # "T-shirt/top" -> "tshirt", "Ankle boot" -> "ankle_boot"
    return re.sub(r"[^a-z0-9_]", "", name.split("/")[0].lower().replace(" ", "_"))


def main():
    # TorchScript's code listing follows Python set order (hash seed); pin it so that
    # retraining reproduces model.pt byte for byte, not just the same weights.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--out-dir", default=HERE)
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()

    # Reproducibility: fixed seeds, one thread, deterministic kernels, seeded shuffle order.
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    try:
        train_x, train_y = load_split(args.data_dir, "train")
        test_x, test_y = load_split(args.data_dir, "t10k")
    except DatasetMissing as e:
        sys.exit(f"error: {e}")

    pixels = train_x.astype(np.float64) / 255.0
    mean, std = float(pixels.mean()), float(pixels.std())
    del pixels
    model = FashionCNN(mean, std)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(SEED)
    labels_t = torch.from_numpy(train_y)

    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=gen).numpy()
        total = 0.0
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(model(to_input(train_x[idx])), labels_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        acc = (predict(model, test_x) == torch.from_numpy(test_y)).float().mean().item()
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {total / len(order):.4f}, "
              f"test accuracy {acc:.4f} ({time.time() - start:.0f}s)", flush=True)

    model.eval()  # eval before scripting (no dropout/BN here, but keep the contract)
    preds = predict(model, test_x)
    acc = (preds == torch.from_numpy(test_y)).float().mean().item()
    print(f"test accuracy: {acc:.4f}")

    os.makedirs(args.out_dir, exist_ok=True)
    torch.jit.script(model).save(os.path.join(args.out_dir, "model.pt"))
    with open(os.path.join(args.out_dir, "model_card.json"), "w") as f:
        json.dump({"test_accuracy": round(acc, 4), "epochs": args.epochs, "seed": SEED,
                   "input": "N x 1 x 28 x 28 float32 in [0,1]",
                   "torch_version": torch.__version__}, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out_dir, "labels.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")

    # Example inputs: first correctly classified test image of each chosen class.
    img_dir = os.path.join(args.out_dir, "images")
    os.makedirs(img_dir, exist_ok=True)
    for old in os.listdir(img_dir):  # drop stale picks from a previous model
        if old.endswith(".png"):
            os.remove(os.path.join(img_dir, old))
    for c in EXAMPLE_CLASSES:
        i = next(i for i in range(len(test_y)) if test_y[i] == c and preds[i] == c)
        name = f"{i:04d}_{slug(CLASSES[c])}.png"
        write_png_gray8(os.path.join(img_dir, name), test_x[i])
        print(f"wrote images/{name}")


if __name__ == "__main__":
    main()
