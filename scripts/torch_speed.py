"""PyTorch's side of `scripts/torch-side-by-side.sh`: the toolkit's networks as docs/python/ecg_modules.py defines them
(the same layers and sizes as the TorchSharp ones), timed the way `ecg bench --stages train` times them: random
(batch, 12, length) input, 5 classes, one warm-up step, then STEPS timed steps of training (AdamW lr 1e-3, weight
decay 1e-2, BCE with logits, forward + backward + step) and of inference (eval mode, no_grad). Precision float32,
or bfloat16 under torch.autocast("cpu"), PyTorch's own mixed precision. Prints one line per figure.

    python3 scripts/torch_speed.py MODELS BATCH LENGTH STEPS [PRECISIONS=float32] [THREADS=all cores]
"""

import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "python"))
from ecg_modules import build  # noqa: E402


def measure(model_name, phase, batch, length, steps, precision):
    torch.manual_seed(0)
    model = build(model_name, leads=12, classes=5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)
    x = torch.randn(batch, 12, length)
    y = torch.randint(0, 2, (batch, 5)).float()
    training = phase == "train"
    model.train(training)
    cast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16")

    def step():
        if training:
            optimizer.zero_grad()
            with cast:
                logits = model(x)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
            loss.backward()
            optimizer.step()
            loss.item()
        else:
            with torch.no_grad(), cast:
                model(x).float().sum().item()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - start
    return batch * steps / seconds


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    models = sys.argv[1].split(",")
    batch, length, steps = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    precisions = (sys.argv[5] if len(sys.argv) > 5 else "float32").split(",")
    torch.set_num_threads(int(sys.argv[6]) if len(sys.argv) > 6 else os.cpu_count())
    for model_name in models:
        for phase in ("train", "inference"):
            for precision in precisions:
                rate = measure(model_name, phase, batch, length, steps, precision)
                print(f"pytorch {torch.__version__} {phase} {model_name} {precision}, batch {batch}, {length} samples: "
                      f"{rate:.1f} samples/s [{torch.get_num_threads()} threads]", flush=True)


if __name__ == "__main__":
    main()
