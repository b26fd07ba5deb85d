#!/usr/bin/env python3
"""wgtrain against PyTorch, step by step: the same model, initial weights, data order and
optimizer for 20 steps, each optimizer in turn.

wgtrain's initial weights (model_init_params: one splitmix64 stream, tensor by tensor) and its
epoch order (mlp_epoch_order: a Fisher-Yates shuffle on splitmix64) are recomputed here bit for
bit, so PyTorch starts from wgtrain's exact parameters and sees the same batches. Then
`wgtrain train --json --report-every 1 --save` gives wgtrain's loss at every step and its final
weights; PyTorch (torch.optim, LambdaLR with wgtrain's schedule, clip_grad_norm_,
CrossEntropyLoss(label_smoothing)) runs the same steps. Printed per optimizer: the largest
relative difference of the step losses, and of the final weights (max |w_wgtrain - w_torch| /
max |w_torch|). Dropout is left out: its masks come from wgtrain's own hash.

    python3 bench/torch_trajectory.py --data DIR [--wgtrain build/wgtrain] [--device cuda|cpu]
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import load_mnist, lr_factor  # noqa: E402

M64 = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def init_params(widths, seed):
    """model_init_params(arch, MODEL_INIT_TORCH, seed): w then b of each layer, U(+-1/sqrt(fan_in))."""
    state = seed ^ 0x5DEECE66D
    tensors = []
    for fi, fo in zip(widths[:-1], widths[1:]):
        bound = float(torch.tensor(1.0, dtype=torch.float32) / torch.sqrt(torch.tensor(float(fi), dtype=torch.float32)))
        for n, shape in ((fo * fi, (fo, fi)), (fo, (fo,))):
            vals = []
            for _ in range(n):
                state, r = splitmix64(state)
                u = (r >> 11) * (1.0 / 9007199254740992.0)
                vals.append((2.0 * u - 1.0) * bound)
            tensors.append(torch.tensor(vals, dtype=torch.float32).reshape(shape))
    return tensors


def epoch_order(seed, epoch, n):
    state = seed ^ ((0xD1B54A32D192ED03 * (epoch + 1)) & M64)
    order = list(range(n))
    for i in range(n, 1, -1):
        state, r = splitmix64(state)
        j = (r * i) >> 64
        order[i - 1], order[j] = order[j], order[i - 1]
    return order


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n, = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[8 + n + a:8 + n + b]), dtype=torch.float32).reshape(t["shape"])
    return out


CASES = [  # name, wgtrain flags
    ("sgd", ["--optimizer", "sgd", "--lr", "0.1"]),
    ("momentum", ["--optimizer", "momentum", "--lr", "0.05", "--momentum", "0.9"]),
    ("nesterov", ["--optimizer", "nesterov", "--lr", "0.05", "--momentum", "0.9", "--weight-decay", "0.0005"]),
    ("adam", ["--optimizer", "adam", "--lr", "0.001", "--weight-decay", "0.0001"]),
    ("adamw", ["--optimizer", "adamw", "--lr", "0.001", "--weight-decay", "0.01", "--clip-grad-norm", "1"]),
    ("adamw-onecycle-smoothing", ["--optimizer", "adamw", "--lr", "0.002", "--schedule", "onecycle",
                                  "--label-smoothing", "0.1", "--warmup", "5"]),
]


def flag(flags, name, default):
    return flags[flags.index(name) + 1] if name in flags else default


def run_case(name, flags, args, data, tmp):
    widths = [784] + [int(h) for h in args.hidden.split(",")] + [10]
    n = args.steps * args.batch
    model_path = os.path.join(tmp, name + ".safetensors")
    cmd = [args.wgtrain, "train", "--data", args.data, "--hidden", args.hidden, "--batch", str(args.batch),
           "--train-limit", str(n), "--epochs", "1", "--report-every", "1", "--seed", str(args.seed),
           "--json", "--save", model_path] + flags
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"torch_trajectory: {' '.join(cmd)} failed: {out.stderr.strip()}")
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    start = next(e for e in events if e["event"] == "start")
    wg_losses = [e["loss"] for e in events if e["event"] == "progress"]
    wg_params = read_safetensors(model_path)

    x, y = data[0][:n], data[1][:n]
    dev = x.device
    params = init_params(widths, args.seed)
    layers = []
    for i, (fi, fo) in enumerate(zip(widths[:-1], widths[1:])):
        lin = torch.nn.Linear(fi, fo)
        with torch.no_grad():
            lin.weight.copy_(params[2 * i])
            lin.bias.copy_(params[2 * i + 1])
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(dev)
    opt_name = flag(flags, "--optimizer", "momentum")
    lr = float(flag(flags, "--lr", "0.05"))
    wd = float(flag(flags, "--weight-decay", "0.01" if opt_name == "adamw" else "0"))
    if opt_name in ("sgd", "momentum", "nesterov"):
        mom = 0.0 if opt_name == "sgd" else float(flag(flags, "--momentum", "0.9"))
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=mom, nesterov=opt_name == "nesterov", weight_decay=wd)
    else:
        cls = torch.optim.Adam if opt_name == "adam" else torch.optim.AdamW
        opt = cls(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    sched_args = argparse.Namespace(schedule=flag(flags, "--schedule", "cosine"), train_epochs=1,
                                    warmup=int(flag(flags, "--warmup", "0")))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(sched_args, args.steps))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=float(flag(flags, "--label-smoothing", "0")))
    clip = float(flag(flags, "--clip-grad-norm", "0"))
    order = torch.tensor(epoch_order(args.seed, 1, n), device=dev)
    th_losses = []
    for s in range(args.steps):
        idx = order[s * args.batch:(s + 1) * args.batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        th_losses.append(loss.item())
    loss_rel = max(abs(a - b) / abs(b) for a, b in zip(wg_losses, th_losses))
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    w_rel = max(float((wg_params[k] - state[k]).abs().max() / state[k].abs().max()) for k in state)
    print(json.dumps({"event": "trajectory", "case": name, "adapter": start["adapter"], "kernels": start["kernels"],
                      "torch_device": str(dev), "steps": len(wg_losses), "first_loss": th_losses[0],
                      "last_loss_wgtrain": wg_losses[-1], "last_loss_torch": th_losses[-1],
                      "max_loss_rel_diff": loss_rel, "max_weight_rel_diff": w_rel}), flush=True)
    return len(wg_losses) == args.steps and loss_rel < args.tolerance and w_rel < args.tolerance


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--wgtrain", default="build/wgtrain")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--hidden", default="128,64")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--cases", default=",".join(c[0] for c in CASES))
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 on both sides
    torch.backends.cudnn.allow_tf32 = False
    data = load_mnist(args.data, args.device)
    wanted = args.cases.split(",")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in CASES:
            if name in wanted:
                ok = run_case(name, flags, args, data, tmp) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
