#!/usr/bin/env python3
"""Checks that a wgtrain checkpoint is an ordinary PyTorch model.

Loads MODEL (a .safetensors file from `wgtrain train --save`, or a checkpoint folder's
model.safetensors) with safetensors.torch.load_file into

    torch.nn.Sequential(Linear(784, H), ReLU(), Linear(H, 10))

with a strict load_state_dict (no missing or unexpected keys), evaluates it on the MNIST test set
read from the raw IDX files in MNIST_DIR (t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, raw
or .gz), inputs normalised as wgtrain trains them, (x / 255 - 0.1307) / 0.3081, and prints one
JSON object: the test accuracy, and the accuracy wgtrain recorded in the file's metadata.

    python3 bench/torch_load_check.py MODEL MNIST_DIR [--device cuda|cpu]

Exit status 0 when it loads and evaluates; any failure raises.
"""
import argparse
import gzip
import json
import os
import struct

import torch
from safetensors import safe_open
from safetensors.torch import load_file

MEAN, STD = 0.1307, 0.3081


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                data = f.read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            magic, = struct.unpack(">I", data[:4])
            if magic >> 8 != 0x08:
                raise ValueError(f"{p}: not an IDX file of unsigned bytes")
            rank = magic & 0xFF
            dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
            body = data[4 + 4 * rank:]
            count = 1
            for d in dims:
                count *= d
            if len(body) != count:
                raise ValueError(f"{p}: {len(body)} bytes of data, header says {count}")
            return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(dims)
    raise FileNotFoundError(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="a .safetensors model written by wgtrain")
    ap.add_argument("mnist_dir", help="folder with t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    state = load_file(args.model)
    with safe_open(args.model, framework="pt") as f:
        meta = f.metadata() or {}
    hidden = state["0.weight"].shape[0]
    model = torch.nn.Sequential(torch.nn.Linear(784, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
    model.load_state_dict(state, strict=True)
    model = model.to(args.device).eval()

    images = read_idx(os.path.join(args.mnist_dir, "t10k-images-idx3-ubyte"))
    labels = read_idx(os.path.join(args.mnist_dir, "t10k-labels-idx1-ubyte"))
    x = ((images.reshape(-1, 784).float() / 255.0 - MEAN) / STD).to(args.device)
    y = labels.long().to(args.device)
    with torch.no_grad():
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y).item()
        correct = (logits.argmax(1) == y).sum().item()
    n = y.numel()
    recorded = meta.get("test_accuracy")
    print(json.dumps({
        "model": args.model,
        "hidden": hidden,
        "strict_load": True,
        "device": args.device,
        "samples": n,
        "correct": correct,
        "test_accuracy": correct / n,
        "test_loss": loss,
        "wgtrain_test_accuracy": float(recorded) if recorded is not None else None,
        "epoch": meta.get("epoch"),
    }))


if __name__ == "__main__":
    main()
