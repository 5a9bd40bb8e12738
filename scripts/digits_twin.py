#!/usr/bin/env python3
"""The digits ablation in PyTorch and timm: the twin of `examples/digits_ablation`.

`--dataset fashion-mnist` is the twin of its Fashion-MNIST protocol: the IDX files
(from --data-dir, else Debian's /usr/share/datasets/fashion-mnist), the training
images taken class by class in file order, 500 held out evenly spaced, the full
10,000 test images, pixels / 255 standardised with the training images' mean and sd,
and the CNN (conv 3x3 16 - BN - ReLU - max-pool 2, conv 32 - BN - ReLU - max-pool 2,
conv 64 - BN - ReLU, global average pool, linear 64 -> 10; PyTorch's default init),
evaluated in eval mode (BatchNorm's running statistics). Defaults as the example's:
3 seeds, 50 epochs, 2,000 training images.

Same data file, split, standardisation, model (MLP 64-128-128-10, PyTorch's default
nn.Linear initialisation, which burn-mixup's example draws too), recipe (SGD lr 0.1,
momentum 0.9, weight decay 5e-4, batch 64, lr / 10 at half and three quarters of the
epochs), arms and metrics (accuracy, NLL, 15-bin ECE, before and after temperature
scaling fitted on the same 150 held-out training images). Mixing and losses come from
timm where timm has them: `timm.data.Mixup` for Mixup, CutMix and Mixup + smoothing
(with `SoftTargetCrossEntropy`), `timm.loss.BinaryCrossEntropy` (sum_classes=True)
for Mixup + BCE. timm has no ResizeMix or FMix: they are written here from the papers
(ResizeMix: the partner shrunk, nearest neighbour, to a box of side ratio U(0.1, 0.8)
at a random place; FMix: a mask from low-frequency Fourier noise, decay 3, its share
~ Beta(1, 1)), as is the tutorial's off-target label smoothing, and RegMixup (the
authors' loss on the concatenated clean and mixed batch, alpha 20, eta 1). ECE is
torchmetrics' `multiclass_calibration_error` (15 bins); the temperature is fitted in
torch by L-BFGS on log T (strong Wolfe line search) over the held-out logits.

    pip install torch timm torchmetrics numpy
    python3 scripts/digits_twin.py --out-dir runs/digits-torch
    python3 scripts/digits_twin.py --burn runs/digits/summary.csv   # side by side

Differences that stay: timm's Mixup pairs sample i with B-1-i (burn-mixup's default is
a random permutation); the random streams differ, so runs agree in distribution,
not bit for bit.
"""
import argparse, csv, gzip, math, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "examples", "digits_ablation", "data", "digits.csv.gz")
ARMS = ["erm", "mixup", "ls-uniform", "ls-off-target", "mixup-ls", "cutmix", "resizemix", "fmix", "mixup-bce",
        "regmixup"]
CLASSES = 10
# The columns of summary.csv, as burn-mixup's.
METRICS = ["accuracy", "confidence", "nll", "ece", "temperature", "confidence_scaled", "nll_scaled", "ece_scaled"]


def load(path):
    rows = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.int64)
    return rows[:, :64].astype(np.float64), rows[:, 64]


def load_fashion(data_dir):
    """Training images then test images, as rows of 784 bytes; and where the test
    images start. The files are read by the trainer twin's loader."""
    from fashion_twin import load as load_idx

    arrays = load_idx(data_dir)
    pixels = np.concatenate([arrays["train_images"], arrays["test_images"]]).reshape(-1, 784)
    labels = np.concatenate([arrays["train_labels"], arrays["test_labels"]]).astype(np.int64)
    return pixels.astype(np.float64), labels, len(arrays["train_labels"])


def balanced(labels, train, n):
    """n training images, class by class in turn (the example's rule)."""
    queues = [[i for i in train if labels[i] == c] for c in range(CLASSES)]
    chosen, n = [], min(n, len(train))
    while len(chosen) < n:
        for q in queues:
            if q and len(chosen) < n:
                chosen.append(q.pop(0))
    return chosen


def held_out(labels, train, n):
    """n images held out for the temperature (the example's rule): class c gives
    n // 10 images (the first n % 10 classes one more), evenly spaced through its
    list, image (2j + 1) * len // (2k); returns (the rest, the held-out images)."""
    held = []
    for c in range(CLASSES):
        members = [i for i in train if labels[i] == c]
        k = min(n // CLASSES + (c < n % CLASSES), len(members))
        held += [members[(2 * j + 1) * len(members) // (2 * k)] for j in range(k)]
    return [i for i in train if i not in held], held


SCALE, SIDE = 16.0, 8  # the digits'; Fashion-MNIST's are set in main


def standardised(pixels, indices, stats_of):
    values = pixels[stats_of] / SCALE
    mean, std = values.mean(), values.std(ddof=1)
    x = torch.tensor((pixels[indices] / SCALE - mean) / std, dtype=torch.float32)
    return x.reshape(-1, 1, SIDE, SIDE)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def cnn(width=16):
    layers, inp = [], 1
    for i, out in enumerate([width, 2 * width, 4 * width]):
        layers += [nn.Conv2d(inp, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
        layers += [nn.MaxPool2d(2)] if i < 2 else []
        inp = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 10))


MODEL = mlp


def ece(logits, labels, bins=15):
    from torchmetrics.functional.classification import multiclass_calibration_error

    probs = logits.double().softmax(1)
    return 100.0 * multiclass_calibration_error(probs, labels, num_classes=CLASSES, n_bins=bins).item()


def fit_temperature(logits, labels):
    """T minimising the NLL of held-out logits: L-BFGS on log T (a line search, so
    no step size to tune), float64."""
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=1.0, max_iter=200, tolerance_grad=1e-12,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")
    z = logits.double()

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return log_t.exp().item()


def metrics(out, labels):
    acc = 100.0 * (out.argmax(1) == labels).double().mean().item()
    conf = 100.0 * out.double().softmax(1).max(1).values.mean().item()
    return acc, conf, F.cross_entropy(out.double(), labels).item(), ece(out, labels)


def off_target_ce(logits, targets, eps=0.1):
    q = torch.full_like(logits, eps / (CLASSES - 1)).scatter_(1, targets[:, None], 1 - eps)
    return -(q * logits.log_softmax(1)).sum(1).mean()


def resizemix(x, y, rng, low=0.1, high=0.8):
    """ResizeMix (Qin et al. 2020): the partner resized into a box; lambda = kept area."""
    b, _, h, w = x.shape
    perm = torch.from_numpy(rng.permutation(b))
    tau = rng.uniform(low, high)
    bh, bw = max(1, min(h, round(tau * h))), max(1, min(w, round(tau * w)))
    y0, x0 = rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1)
    small = F.interpolate(x[perm], size=(bh, bw), mode="nearest")
    x = x.clone()
    x[:, :, y0:y0 + bh, x0:x0 + bw] = small
    lam = 1 - bh * bw / (h * w)
    return x, y, y[perm], lam


def fmix(x, y, rng, alpha=1.0, decay=3.0):
    """FMix (Harris et al. 2020), after the authors' fmix.py: low-frequency mask."""
    b, _, h, w = x.shape
    perm = torch.from_numpy(rng.permutation(b))
    lam = rng.beta(alpha, alpha)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    freqs = np.sqrt(fy ** 2 + fx ** 2)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay
    spectrum = (rng.normal(size=freqs.shape) + 1j * rng.normal(size=freqs.shape)) * scale
    noise = np.fft.irfft2(spectrum, s=(h, w)).reshape(-1)
    keep = int(round(lam * h * w))
    mask = np.zeros(h * w)
    mask[np.argsort(-noise)[:keep]] = 1.0  # 1: the sample's own pixel
    mask = torch.tensor(mask.reshape(1, 1, h, w), dtype=x.dtype)
    x = x * mask + x[perm] * (1 - mask)
    return x, y, y[perm], keep / (h * w)


def run(arm, seed, xtr, ytr, xca, yca, xte, yte, epochs):
    from timm.data import Mixup
    from timm.loss import BinaryCrossEntropy, SoftTargetCrossEntropy

    torch.manual_seed(seed)
    np.random.seed(seed)  # timm's Mixup draws from NumPy's global generator
    rng = np.random.default_rng(seed)
    model = MODEL()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [epochs // 2, epochs * 3 // 4], 0.1)
    timm_mix = {
        "mixup": dict(mixup_alpha=1.0, cutmix_alpha=0.0, label_smoothing=0.0),
        "mixup-ls": dict(mixup_alpha=1.0, cutmix_alpha=0.0, label_smoothing=0.1),
        "cutmix": dict(mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.0),
        "mixup-bce": dict(mixup_alpha=1.0, cutmix_alpha=0.0, label_smoothing=0.0),
    }.get(arm)
    mixer = Mixup(num_classes=CLASSES, **timm_mix) if timm_mix else None
    soft_ce, bce = SoftTargetCrossEntropy(), BinaryCrossEntropy(smoothing=0.0, sum_classes=True)
    g = torch.Generator().manual_seed(seed)
    images = xtr
    started = time.time()
    for _ in range(epochs):
        order = torch.randperm(len(ytr), generator=g)
        for i in range(0, len(ytr), 64):
            idx = order[i:i + 64]
            x, y = images[idx], ytr[idx]
            if arm == "regmixup":
                # RegMixup (Pinto et al. 2022, models/regmixup.py): clean + mixed in one batch.
                lam = rng.beta(20.0, 20.0)
                perm = torch.randperm(len(x))
                mixed = lam * x + (1 - lam) * x[perm]
                out = model(torch.cat([x, mixed]))
                clean, mix = out[:len(x)], out[len(x):]
                loss = F.cross_entropy(clean, y) + 1.0 * (
                    lam * F.cross_entropy(mix, y) + (1 - lam) * F.cross_entropy(mix, y[perm]))
            elif mixer is not None:
                x, q = mixer(x, y)
                out = model(x)
                loss = bce(out, q) if arm == "mixup-bce" else soft_ce(out, q)
            elif arm in ("resizemix", "fmix"):
                x, ya, yb, lam = (resizemix if arm == "resizemix" else fmix)(x, y, rng)
                out = model(x)
                loss = lam * F.cross_entropy(out, ya) + (1 - lam) * F.cross_entropy(out, yb)
            else:
                out = model(x)
                if arm == "ls-uniform":
                    loss = F.cross_entropy(out, y, label_smoothing=0.1)
                elif arm == "ls-off-target":
                    loss = off_target_ce(out, y)
                else:
                    loss = F.cross_entropy(out, y)
            if not torch.isfinite(loss):
                sys.exit(f"error: arm {arm}, seed {seed}: the loss became {loss.item()}")
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()  # BatchNorm's running statistics (the CNN)
    with torch.no_grad():
        out = torch.cat([model(chunk) for chunk in xte.split(1000)])
        held = torch.cat([model(chunk) for chunk in xca.split(1000)])
    t = fit_temperature(held, yca)
    acc, conf, nll, e = metrics(out, yte)
    _, conf_t, nll_t, e_t = metrics(out.double() / t, yte)
    return (acc, conf, nll, e, t, conf_t, nll_t, e_t), time.time() - started


def mean_sd(values):
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, sd


def compare(burn_csv, summary):
    """Both side by side, as the example's README shows them: one table of the raw
    test figures, one after temperature scaling. The gaps are the difference of the
    means in units of the pooled sd."""
    burn = {(r["arm"], int(r["train_size"])): r for r in csv.DictReader(open(burn_csv))}
    tables = (
        (("accuracy", "acc %", 2, True), ("confidence", "conf %", 2, False), ("nll", "NLL", 3, False),
         ("ece", "ECE %", 2, True)),
        (("temperature", "T", 2, False), ("confidence_scaled", "conf % at T", 2, False),
         ("nll_scaled", "NLL at T", 3, False), ("ece_scaled", "ECE % at T", 2, True)),
    )
    for columns in tables:
        header = ["arm", "train images"]
        for _, name, _, gap in columns:
            header += [name, f"{name}, torch"] + (["gap"] if gap else [])
        print("| " + " | ".join(header) + " |")
        print("|---" * len(header) + "|")
        for (arm, size), t in sorted(summary.items(), key=lambda item: -item[0][1]):
            b = burn.get((arm, size))
            if b is None:
                continue
            cells = []
            for key, _, digits, gap in columns:
                bm, bs, tm, ts = float(b[f"{key}_mean"]), float(b[f"{key}_sd"]), t[key][0], t[key][1]
                cells += [f"{bm:.{digits}f} ± {bs:.{digits}f}", f"{tm:.{digits}f} ± {ts:.{digits}f}"]
                if gap:
                    pooled = math.sqrt((bs ** 2 + ts ** 2) / 2) or float("nan")
                    cells.append(f"{(bm - tm) / pooled:+.1f}".replace("-", "\u2212"))
            print(f"| {arm} | {size} | " + " | ".join(cells) + " |")
        print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["digits", "fashion-mnist"], default="digits")
    parser.add_argument("--data-dir", default="data/fashion-mnist")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--train-size")
    parser.add_argument("--calibration-size", type=int)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--out-dir", default="runs/digits-torch")
    parser.add_argument("--burn", help="burn-mixup's summary.csv, to print both side by side")
    args = parser.parse_args()
    torch.set_num_threads(1)
    global SCALE, SIDE, MODEL
    fashion = args.dataset == "fashion-mnist"
    defaults = dict(seeds=3, epochs=50, train_size="2000", calibration_size=500) if fashion else dict(
        seeds=10, epochs=30, train_size="full,200", calibration_size=150)
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if fashion:
        SCALE, SIDE, MODEL = 255.0, 28, cnn
        pixels, labels, test_from = load_fashion(args.data_dir)
        train, test = list(range(test_from)), list(range(test_from, len(labels)))
    else:
        pixels, labels = load(DATA)
        test = [i for i in range(len(labels)) if i % 4 == 3]
        train = [i for i in range(len(labels)) if i % 4 != 3]
    train, calibration = held_out(labels, train, args.calibration_size)
    sizes = [len(train) if s == "full" else int(s) for s in args.train_size.split(",")]
    arms = [a for a in args.arms.split(",") if a]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        sys.exit(f"error: unknown arms {unknown}; the arms are {', '.join(ARMS)}")
    os.makedirs(args.out_dir, exist_ok=True)
    rows, summary = [], {}
    for size in sizes:
        chosen = balanced(labels, train, size)
        xtr, ytr = standardised(pixels, chosen, chosen), torch.tensor(labels[chosen])
        xte, yte = standardised(pixels, test, chosen), torch.tensor(labels[test])
        xca, yca = standardised(pixels, calibration, chosen), torch.tensor(labels[calibration])
        for arm in arms:
            results = []
            for seed in range(args.seeds):
                values, secs = run(arm, seed, xtr, ytr, xca, yca, xte, yte, args.epochs)
                results.append(values)
                rows.append([arm, size, seed, *values, f"{secs:.3f}"])
                acc, conf, nll, e, t, _, _, e_t = values
                print(f"{arm:<13} {size:>4} images, seed {seed}: acc {acc:6.2f}%  conf {conf:6.2f}%  NLL {nll:.3f}  "
                      f"ECE {e:5.2f}%  T {t:.2f}: ECE {e_t:5.2f}%  ({secs:.1f} s)", file=sys.stderr)
            summary[(arm, size)] = {k: mean_sd([r[i] for r in results]) for i, k in enumerate(METRICS)}
    with open(os.path.join(args.out_dir, "runs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "train_size", "seed", *METRICS, "seconds"])
        w.writerows(rows)
    with open(os.path.join(args.out_dir, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "train_size", "runs"] + [f"{k}_{s}" for k in METRICS for s in ("mean", "sd")])
        for (arm, size), s in summary.items():
            w.writerow([arm, size, args.seeds] + [v for k in METRICS for v in s[k]])
    print(f"versions: torch {torch.__version__}, timm {__import__('timm').__version__}, "
          f"torchmetrics {__import__('torchmetrics').__version__}, numpy {np.__version__}", file=sys.stderr)
    if args.burn:
        compare(args.burn, summary)


if __name__ == "__main__":
    main()
