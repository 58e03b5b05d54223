#!/usr/bin/python3
"""Accuracy check for a TorchScript Fashion-MNIST model (run by CTest).

Exit status: 0 = accuracy >= --min-accuracy, 1 = below it, 2 = dataset or model missing.
"""
import argparse
import os
import sys

import torch

from fashion_data import DEFAULT_DATA_DIR, DatasetMissing, load_split

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join(HERE, "model.pt"))
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--min-accuracy", type=float, default=0.88)
    args = ap.parse_args()

    torch.set_num_threads(1)  # keep CTest runs light on shared build machines
    if not os.path.isfile(args.model):
        print(f"error: model {args.model} not found (run train.py)", file=sys.stderr)
        return 2
    try:
        images, labels = load_split(args.data_dir, "t10k")
    except DatasetMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    model = torch.jit.load(args.model, map_location="cpu").eval()
    x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)  # raw [0,1] pixels
    with torch.no_grad():
        preds = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    acc = (preds == torch.from_numpy(labels)).float().mean().item()
    print(f"accuracy: {acc:.4f}")
    if acc < args.min_accuracy:
        print(f"FAIL: accuracy {acc:.4f} < minimum {args.min_accuracy}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
