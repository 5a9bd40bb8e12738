#!/usr/bin/env python3
"""PyTorch twin of `cifar10_resnet18 --dataset fashion-mnist`: same data, model,
recipe and seeds, for test accuracy and images/s side by side.

- Data: the four IDX files (gzip or not) from --data-dir, else Debian's
  /usr/share/datasets/fashion-mnist/. `--train-size N` takes N training images
  class-balanced and evenly spaced through each class's list, the trainer's rule
  (`calibrate::hold_out`): class c gives N / 10 images (the first N % 10 classes
  one more), image j of class c is list[(2j + 1) * len / (2k)]. The full test set.
- Augmentation: zero padding 4, random 28x28 crop, horizontal flip (p 0.5), then
  normalisation with mean 0.1307 and sd 0.3081 (padding is 0 before
  normalisation, as torchvision's RandomCrop then Normalize).
- Model: the CIFAR ResNet-18 (3x3 stem at stride 1, no max-pool) with a
  one-channel stem, stages of width W, 2W, 4W, 8W.
- Recipe: SGD (momentum 0.9, dampening 0), weight decay on every parameter, the
  learning rate multiplied by gamma at each milestone epoch, batch 128 of a
  fresh shuffle per epoch (the last batch smaller). Mixup as the mixup paper's
  code: lambda ~ Beta(alpha, alpha) once per batch, a fresh permutation per
  batch, loss lambda * CE(y) + (1 - lambda) * CE(y[perm]); label smoothing as
  PyTorch's `label_smoothing` (timm's uniform convention).

Prints one JSON line per run: seed, accuracy, images/s of training (augmentation
and loading included, evaluation excluded), seconds.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_resnet18_step import build

DEBIAN = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(folder, name):
    for candidate in (os.path.join(folder, name), os.path.join(folder, name + ".gz")):
        if os.path.isfile(candidate):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(candidate, "rb") as f:
                data = f.read()
            magic, = struct.unpack(">I", data[:4])
            dims = data[3]
            shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
            array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
            return array.reshape(shape)
    return None


def load(data_dir):
    for folder in ([data_dir] if data_dir else []) + [DEBIAN]:
        arrays = {k: read_idx(folder, v) for k, v in FILES.items()}
        if all(a is not None for a in arrays.values()):
            return arrays
    sys.exit(f"Fashion-MNIST not found in {data_dir} or {DEBIAN}")


def balanced(labels, n, classes=10):
    by_class = [np.flatnonzero(labels == c) for c in range(classes)]
    quota, left = [0] * classes, min(n, len(labels))
    while left > 0:
        for c in range(classes):
            if left > 0 and quota[c] < len(by_class[c]):
                quota[c] += 1
                left -= 1
    held = []
    for members, k in zip(by_class, quota):
        held += [members[(2 * j + 1) * len(members) // (2 * k)] for j in range(k)]
    return np.sort(np.array(held, dtype=np.int64))


# The CIFAR ResNet-18 of the ResNet step benchmark, with a one-channel stem here.
ResNet18 = build(torch, nn, F)


MEAN, STD, PAD, SIDE = 0.1307, 0.3081, 4, 28


def augment(images, generator):
    """Pad 4 with zeros, crop 28 at a random offset, flip half; then normalise."""
    n = images.shape[0]
    padded = F.pad(images, (PAD, PAD, PAD, PAD))
    dy = torch.randint(0, 2 * PAD + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * PAD + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = (dy[:, None] + torch.arange(SIDE))[:, :, None].expand(n, SIDE, SIDE)
    cols = (dx[:, None] + torch.arange(SIDE))[:, None, :].expand(n, SIDE, SIDE)
    cols = torch.where(flip[:, None, None], cols.flip(-1), cols)
    out = padded[torch.arange(n)[:, None, None], 0, rows, cols][:, None]
    return (out - MEAN) / STD


def run(args, arrays, seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_x, train_y = arrays["train_images"], arrays["train_labels"]
    if args.train_size:
        keep = balanced(train_y, args.train_size)
        train_x, train_y = train_x[keep], train_y[keep]
    x = torch.from_numpy(train_x.astype(np.float32) / 255.0)[:, None]
    y = torch.from_numpy(train_y.astype(np.int64))
    test_x = (torch.from_numpy(arrays["test_images"].astype(np.float32) / 255.0)[:, None] - MEAN) / STD
    test_y = torch.from_numpy(arrays["test_labels"].astype(np.int64))
    model = ResNet18(args.base_width, channels=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, args.lr_milestones, gamma=0.1)
    beta = torch.distributions.Beta(args.alpha, args.alpha) if args.alpha > 0 else None
    trained, seconds = 0, 0.0
    for epoch in range(args.epochs):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), args.batch_size):
            index = order[start:start + args.batch_size]
            images, labels = augment(x[index], generator), y[index]
            if beta is not None:
                lam = float(beta.sample())
                perm = torch.randperm(len(index), generator=generator)
                images = lam * images + (1 - lam) * images[perm]
                logits = model(images)
                loss = lam * F.cross_entropy(logits, labels, label_smoothing=args.smoothing) + (
                    1 - lam
                ) * F.cross_entropy(logits, labels[perm], label_smoothing=args.smoothing)
            else:
                loss = F.cross_entropy(model(images), labels, label_smoothing=args.smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        seconds += time.perf_counter() - started
        trained += len(y)
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(test_y), 500):
            logits = model(test_x[start:start + 500])
            correct += int((logits.argmax(1) == test_y[start:start + 500]).sum())
    return {
        "seed": seed,
        "alpha": args.alpha,
        "smoothing": args.smoothing,
        "accuracy": correct / len(test_y),
        "images_per_s": trained / seconds,
        "train_seconds": seconds,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data/fashion-mnist")
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--base-width", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=2e-4)
    parser.add_argument("--lr-milestones", type=lambda s: [int(v) for v in s.split(",")], default=[8, 12])
    parser.add_argument("--alpha", type=float, default=0.0, help="Mixup alpha; 0 trains without mixing")
    parser.add_argument("--smoothing", type=float, default=0.0)
    parser.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arrays = load(args.data_dir)
    for seed in args.seeds:
        print(json.dumps(run(args, arrays, seed)), flush=True)


if __name__ == "__main__":
    main()
