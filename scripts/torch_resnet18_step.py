#!/usr/bin/env python3
"""The same ResNet-18 CIFAR training step in PyTorch, for a side-by-side ratio.

CIFAR ResNet-18 (kuangliu/pytorch-cifar, 11,173,962 parameters), SGD lr 0.1,
momentum 0.9, weight decay 2e-4, Mixup (alpha 1, random permutation, the
two-call criterion of the mixup paper's code) and label smoothing 0.1, batch 128
of random 32x32 images (the data loader is left out: the Rust side feeds from
memory too). Modes: eager f32, and channels-last with bf16 autocast.

Prints one JSON object. `--dry-run` runs 2 tiny steps on the CPU to check the
script itself.
"""
import argparse
import json
import sys
import time


def build(torch, nn, F):
    class BasicBlock(nn.Module):
        def __init__(self, inp, out, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(out)
            self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(out)
            self.shortcut = nn.Sequential()
            if stride != 1 or inp != out:
                self.shortcut = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.shortcut(x))

    class ResNet18(nn.Module):
        def __init__(self, width=64, classes=10, channels=3):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, width, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            layers, inp = [], width
            for stage, stride in enumerate([1, 2, 2, 2]):
                out = width << stage
                layers += [BasicBlock(inp, out, stride), BasicBlock(out, out, 1)]
                inp = out
            self.layers = nn.Sequential(*layers)
            self.linear = nn.Linear(8 * width, classes)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layers(out)
            out = F.adaptive_avg_pool2d(out, 1).flatten(1)
            return self.linear(out)

    return ResNet18


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--modes", default="eager_f32,channels_last_bf16")
    args = parser.parse_args()
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError as error:
        print(json.dumps({"skipped": f"PyTorch not available: {error}"}))
        return 0
    device = "cpu" if args.dry_run or not torch.cuda.is_available() else "cuda"
    if args.device != "auto":
        device = args.device
    if args.dry_run:
        args.steps, args.warmup, args.batch = 2, 1, 8
    torch.manual_seed(0)
    ResNet18 = build(torch, nn, F)
    results = {"device": device, "torch": torch.__version__, "batch": args.batch, "steps": args.steps}
    if device == "cuda":
        results["gpu"] = torch.cuda.get_device_name(0)
    params = sum(p.numel() for p in ResNet18().parameters())
    results["parameters"] = params
    for mode in args.modes.split(","):
        model = ResNet18().to(device)
        x = torch.randn(args.batch, 3, 32, 32, device=device)
        y = torch.randint(0, 10, (args.batch,), device=device)
        if mode == "channels_last_bf16":
            model = model.to(memory_format=torch.channels_last)
            x = x.to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-4)
        criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
        autocast = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=mode.endswith("bf16"))

        def step(mixup):
            if mixup:
                lam = float(torch.distributions.Beta(1.0, 1.0).sample())
                index = torch.randperm(args.batch, device=device)
                inputs = lam * x + (1 - lam) * x[index]
            with autocast:
                if mixup:
                    out = model(inputs)
                    loss = lam * criterion(out, y) + (1 - lam) * criterion(out, y[index])
                else:
                    out = model(x)
                    loss = F.cross_entropy(out, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss

        for mixup in [False, True]:
            for _ in range(args.warmup):
                step(mixup)
            if device == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            for _ in range(args.steps):
                loss = step(mixup)
            loss.item()
            if device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - started
            key = f"{mode}_{'mixup_smoothing' if mixup else 'plain'}"
            results[key] = {
                "images_per_second": args.batch * args.steps / seconds,
                "milliseconds_per_step": 1e3 * seconds / args.steps,
            }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
