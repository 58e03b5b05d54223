#!/usr/bin/env python3
"""Scripts the benchmark models into a folder (they are made at bench time, never committed).

    /usr/bin/python3 bench/make_models.py OUT_DIR

Writes OUT_DIR/{tiny_cnn,resnet18,vgg11}.pt: torch.jit.script of eval-mode models
with seeded random weights. The shipped Fashion-MNIST model
(examples/fashion_mnist/model.pt) is used as it is. A stamp file makes reruns instant.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

SEED = 0
VERSION = "1"  # bump when a model definition changes


class TinyCNN(nn.Module):
    """conv-relu-pool x2 + linear on 3 x 32 x 32 (CIFAR-sized), 10 classes."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(32 * 8 * 8, 10)

    def forward(self, x):
        x = F.max_pool2d(self.relu1(self.conv1(x)), 2)  # 16 x 16 x 16
        x = F.max_pool2d(self.relu2(self.conv2(x)), 2)  # 32 x 8 x 8
        return self.fc(torch.flatten(x, 1))


def build(name):
    torch.manual_seed(SEED)
    if name == "tiny_cnn":
        return TinyCNN()
    if name == "resnet18":
        return torchvision.models.resnet18(weights=None)
    if name == "vgg11":
        return torchvision.models.vgg11(weights=None)
    raise ValueError(f"unknown model {name}")


MODELS = ["tiny_cnn", "resnet18", "vgg11"]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_models.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    stamp = os.path.join(out, "models.stamp")
    want = f"{VERSION} torch {torch.__version__} torchvision {torchvision.__version__}\n"
    if (os.path.exists(stamp) and open(stamp).read() == want
            and all(os.path.exists(os.path.join(out, m + ".pt")) for m in MODELS)):
        print(f"make_models: up to date in {out}")
        return
    for name in MODELS:
        model = build(name).eval()
        torch.jit.script(model).save(os.path.join(out, name + ".pt"))
        print(f"make_models: wrote {name}.pt")
    with open(stamp, "w") as f:
        f.write(want)


if __name__ == "__main__":
    main()
