#!/usr/bin/env python3
"""PyTorch baseline for `wgtrain bench`, run on the same GPU in the same device run.

The same model (784-128-10 MLP, torch.nn.Linear's default init), the same data (full MNIST,
resident on the GPU, inputs normalised with mean 0.1307 / std 0.3081, reshuffled every epoch)
and the same optimiser (plain SGD, lr 0.1, for the speed table). Three ways to run a step:

  eager     autograd + torch.optim.SGD, one Python step at a time
  graph     the whole step (gather, forward, loss, backward, update) captured once in a CUDA
            graph and replayed; the step counter and the shuffled order live on the GPU
  compiled  as graph, with the loss function built by torch.compile (max-autotune)

Prints one JSON object per line, as `wgtrain bench --json` does.

--train runs one eager training run with the options of `wgtrain train` instead (--hidden
256,128, --activation, --init, --dropout, --optimizer sgd|momentum|nesterov|adam|adamw,
--weight-decay, --beta1/--beta2/--eps, --clip-grad-norm, --label-smoothing, --schedule
constant|cosine|step|onecycle, --warmup), the same semantics as wgtrain's: the schedule is
stepped once per step, StepLR steps every max(1, epochs // 3) epochs by 0.1, OneCycleLR has
cycle_momentum=False, the warmup multiplies the schedule by min(1, (s + 1) / warmup), and
AdamW's weight decay defaults to 0.01 as torch's.
"""
import argparse
import gzip
import json
import math
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

MEAN, STD = 0.1307, 0.3081


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                data = f.read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            magic, = struct.unpack(">I", data[:4])
            rank = magic & 0xFF
            dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
            t = torch.frombuffer(bytearray(data[4 + 4 * rank:]), dtype=torch.uint8)
            return t.reshape(dims)
    sys.exit(f"torch_reference: {path} not found (raw or .gz)")


def load_mnist(folder, device):
    # any IDX image set: a sample is its HxW pixels, flattened row-major (MNIST: 784)
    x = read_idx(os.path.join(folder, "train-images-idx3-ubyte"))
    x = x.reshape(x.shape[0], -1)
    y = read_idx(os.path.join(folder, "train-labels-idx1-ubyte"))
    xt = read_idx(os.path.join(folder, "t10k-images-idx3-ubyte"))
    xt = xt.reshape(xt.shape[0], -1)
    yt = read_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"))
    norm = lambda u8: ((u8.to(device).float() / 255.0) - MEAN) / STD
    return norm(x), y.to(device).long(), norm(xt), yt.to(device).long()


class Run:
    """One training run: parameters, data order, and a step in one of the three modes."""

    def __init__(self, data, batch, mode, seed, lr_table, momentum=0.0, hidden=128):
        torch.manual_seed(seed)
        self.x, self.y, self.xt, self.yt = data
        self.n = self.x.shape[0]
        self.batch, self.mode, self.momentum = batch, mode, momentum
        dev = self.x.device
        l1, l2 = torch.nn.Linear(784, hidden).to(dev), torch.nn.Linear(hidden, 10).to(dev)
        self.params = [l1.weight, l1.bias, l2.weight, l2.bias]
        self.steps = (self.n + batch - 1) // batch
        self.full = self.n // batch           # full batches; a short tail batch has its own graph
        self.tail = self.n - self.full * batch
        self.gen = torch.Generator(device="cpu").manual_seed(seed)
        self.lr_table = lr_table.to(dev)     # learning rate of every global step
        self.global_step = 0
        self.velocity = [torch.zeros_like(p) for p in self.params] if momentum else None
        if mode == "eager":  # used for the speed table only, where the learning rate is constant
            self.opt = torch.optim.SGD(self.params, lr=float(lr_table[0]), momentum=momentum)
        else:
            loss_fn = self.loss
            if mode == "compiled":
                loss_fn = torch.compile(self.loss, mode="max-autotune-no-cudagraphs", dynamic=False)
            self.loss_fn = loss_fn
            self.order = torch.zeros(self.n, dtype=torch.long, device=dev)
            self.counter = torch.zeros((), dtype=torch.long, device=dev)   # step within the epoch
            self.gstep = torch.zeros((), dtype=torch.long, device=dev)     # step within the run
            self.graphs = {}

    def loss(self, x, y):
        w1, b1, w2, b2 = self.params
        h = F.relu(F.linear(x, w1, b1))
        return F.cross_entropy(F.linear(h, w2, b2), y)

    # ---- graph and compiled modes: everything on the GPU, nothing per step from Python ----
    def graph_step(self, size):
        start = self.counter * self.batch
        idx = self.order.index_select(0, start + torch.arange(size, device=self.x.device))
        x, y = self.x.index_select(0, idx), self.y.index_select(0, idx)
        loss = self.loss_fn(x, y)
        grads = torch.autograd.grad(loss, self.params)
        lr = self.lr_table.index_select(0, self.gstep.reshape(1)).reshape(())
        with torch.no_grad():
            if self.velocity is not None:
                torch._foreach_mul_(self.velocity, self.momentum)
                torch._foreach_add_(self.velocity, grads)
                grads = self.velocity
            torch._foreach_sub_(self.params, torch._foreach_mul(grads, lr))
            self.counter += 1
            self.gstep += 1
        return loss

    def capture(self, size):
        # warm up on a side stream (as CUDA graphs require), then restore the state
        saved = [p.detach().clone() for p in self.params]
        vsaved = [v.clone() for v in self.velocity] if self.velocity else None
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                self.graph_step(size)
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            self.graph_step(size)
        with torch.no_grad():
            for p, q in zip(self.params, saved):
                p.copy_(q)
            if vsaved:
                for v, q in zip(self.velocity, vsaved):
                    v.copy_(q)
        return g

    def epoch(self):
        perm = torch.randperm(self.n, generator=self.gen).to(self.x.device, non_blocking=True)
        if self.mode == "eager":
            for s in range(self.steps):
                idx = perm[s * self.batch:(s + 1) * self.batch]
                self.opt.zero_grad(set_to_none=True)
                self.loss(self.x[idx], self.y[idx]).backward()
                self.opt.step()
                self.global_step += 1
            return
        if not self.graphs:
            self.graphs["full"] = self.capture(self.batch)
            if self.tail:
                self.graphs["tail"] = self.capture(self.tail)
        self.order.copy_(perm)
        self.counter.zero_()
        self.gstep.fill_(self.global_step)
        g = self.graphs["full"]
        for _ in range(self.full):
            g.replay()
        if self.tail:
            self.graphs["tail"].replay()
        self.global_step += self.steps

    @torch.no_grad()
    def test_accuracy(self):
        w1, b1, w2, b2 = self.params
        logits = F.linear(F.relu(F.linear(self.xt, w1, b1)), w2, b2)
        return (logits.argmax(1) == self.yt).float().mean().item()


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def speed(data, args):
    for batch in args.batches:
        for mode in args.modes:
            if mode == "compiled" and batch not in args.compiled_batches:
                continue
            steps = (data[0].shape[0] + batch - 1) // batch
            lr = torch.full((steps * (args.epochs + 1),), 0.1)
            t_setup = time.perf_counter()
            run = Run(data, batch, mode, seed=1, lr_table=lr)
            run.epoch()  # warm-up: compilation and graph capture happen here
            sync()
            setup = time.perf_counter() - t_setup
            times = []
            for _ in range(args.epochs):
                t0 = time.perf_counter()
                run.epoch()
                sync()
                times.append(time.perf_counter() - t0)
            ms = 1000 * statistics.median(times)
            print(json.dumps({"event": "speed", "framework": "torch", "torch": torch.__version__,
                              "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu", "mode": mode, "batch": batch,
                              "ms_per_epoch": round(ms, 4), "samples_per_second": round(run.n / (ms / 1000)),
                              "timed_epochs": args.epochs, "warmup_seconds": round(setup, 3)}), flush=True)


def time_to_accuracy(data, args):
    """The recipe wgtrain's defaults use (batch 128, momentum 0.9, lr 0.05 cosine over 12 epochs),
    and the plain-SGD recipe of the core issue (batch 64, lr 0.1 constant), CUDA graph mode."""
    recipes = {
        "wgtrain-default": dict(batch=128, lr=0.05, momentum=0.9, cosine=True),
        "plain-sgd-b64": dict(batch=64, lr=0.1, momentum=0.0, cosine=False),
    }
    for name, r in recipes.items():
        reached = []
        for seed in range(1, args.seeds + 1):
            steps = (data[0].shape[0] + r["batch"] - 1) // r["batch"]
            total = steps * args.max_epochs
            t = torch.arange(total + 8, dtype=torch.float64)
            lr = (r["lr"] * 0.5 * (1 + torch.cos(math.pi * t / total))) if r["cosine"] else torch.full_like(t, r["lr"])
            run = Run(data, r["batch"], "graph", seed=seed, lr_table=lr.float(), momentum=r["momentum"])
            # capture before the clock starts (setup), then train from the initial weights
            run.graphs["full"] = run.capture(run.batch)
            if run.tail:
                run.graphs["tail"] = run.capture(run.tail)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            at, acc, epoch = None, 0.0, 0
            for epoch in range(1, args.max_epochs + 1):
                run.epoch()
                acc = run.test_accuracy()  # .item() synchronises
                if acc >= args.target:
                    at = time.perf_counter() - t0
                    break
            if at is not None:
                reached.append(at)
            print(json.dumps({"event": "time_to_accuracy_seed", "framework": "torch", "recipe": name, "seed": seed,
                              "reached": at is not None, "seconds": round(at if at is not None else time.perf_counter() - t0, 4),
                              "epochs": epoch, "test_accuracy": round(acc, 4)}), flush=True)
        print(json.dumps({"event": "time_to_accuracy", "framework": "torch", "recipe": name, "target": args.target,
                          "seeds": args.seeds, "reached": len(reached),
                          "median_seconds": round(statistics.median(reached), 4) if reached else None}), flush=True)


def lr_factor(args, steps_per_epoch):
    """The multiplier of --lr at global step s, as mlp_step_lr computes it."""
    total = steps_per_epoch * args.train_epochs

    def f(s):
        if args.schedule == "cosine":
            x = 0.5 * (1 + math.cos(math.pi * s / total))
        elif args.schedule == "step":
            every = max(1, args.train_epochs // 3)
            x = 0.1 ** ((s // steps_per_epoch) // every)
        elif args.schedule == "onecycle":
            lr = 1.0
            initial, end1, end2 = lr / 25.0, 0.3 * total - 1.0, total - 1.0
            low = initial / 1e4
            if s <= end1:
                a, b, pct = initial, lr, (s / end1 if end1 > 0 else 1.0)
            else:
                a, b, pct = lr, low, ((s - end1) / (end2 - end1) if end2 > end1 else 1.0)
            x = b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1.0)
        else:
            x = 1.0
        if args.warmup and s < args.warmup:
            x *= (s + 1) / args.warmup
        return x
    return f


def train(data, args):
    """One eager run with wgtrain train's options; prints an epoch line per epoch."""
    torch.manual_seed(args.seed)
    x, y, xt, yt = data
    dev = x.device
    acts = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
            "leaky_relu": torch.nn.LeakyReLU}
    # inputs and classes from the data, as wgtrain train takes them (classes: largest label + 1)
    widths = [x.shape[1]] + [int(h) for h in args.hidden.split(",")] + [int(y.max()) + 1]
    layers = []
    for i in range(len(widths) - 1):
        lin = torch.nn.Linear(widths[i], widths[i + 1])
        if args.init == "kaiming":
            torch.nn.init.kaiming_uniform_(lin.weight, nonlinearity="relu")
            torch.nn.init.zeros_(lin.bias)
        elif args.init == "xavier":
            torch.nn.init.xavier_uniform_(lin.weight)
            torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(acts[args.activation]())
            if args.dropout > 0:
                layers.append(torch.nn.Dropout(args.dropout))
    model = torch.nn.Sequential(*layers).to(dev)  # state_dict names: 0.weight, 0.bias, 2.weight, ...
    wd = args.weight_decay if args.weight_decay is not None else (0.01 if args.optimizer == "adamw" else 0.0)
    p = model.parameters()
    if args.optimizer in ("sgd", "momentum", "nesterov"):
        mom = 0.0 if args.optimizer == "sgd" else args.momentum
        opt = torch.optim.SGD(p, lr=args.lr, momentum=mom, nesterov=args.optimizer == "nesterov", weight_decay=wd)
    else:
        cls = torch.optim.Adam if args.optimizer == "adam" else torch.optim.AdamW
        opt = cls(p, lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps, weight_decay=wd)
    n = x.shape[0] if not args.train_limit else min(args.train_limit, x.shape[0])
    steps = (n + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(args, steps))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    print(json.dumps({"event": "start", "framework": "torch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "device": str(dev)}), flush=True)
    if args.warm_steps:
        import copy
        wm = copy.deepcopy(model)
        wo = type(opt)(wm.parameters(), **opt.defaults)
        for s in range(args.warm_steps):
            idx = torch.randint(0, n, (args.batch,), generator=torch.Generator().manual_seed(s)).to(dev)
            wo.zero_grad(set_to_none=True)
            loss_fn(wm(x[idx]), y[idx]).backward()
            wo.step()
        sync()
        del wm, wo
    for epoch in range(1, args.train_epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen).to(dev)
        total = 0.0
        for s in range(steps):
            idx = perm[s * args.batch:(s + 1) * args.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            if args.clip_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad_norm)
            opt.step()
            sched.step()
            total += loss.item() * idx.numel()
        sync()
        train_seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            acc = (model(xt).argmax(1) == yt).float().mean().item()
        print(json.dumps({"event": "epoch", "framework": "torch", "epoch": epoch, "loss": round(total / n, 6),
                          "test_accuracy": round(acc, 6), "seconds": round(time.perf_counter() - t0, 4),
                          "train_seconds": round(train_seconds, 4)}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder with the four MNIST IDX files (raw or .gz)")
    ap.add_argument("--batches", type=lambda s: [int(b) for b in s.split(",")], default=[64, 256, 1024, 4096])
    ap.add_argument("--compiled-batches", type=lambda s: [int(b) for b in s.split(",")], default=[64, 256, 1024])
    ap.add_argument("--modes", type=lambda s: s.split(","), default=["eager", "graph", "compiled"])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--time-to-accuracy", action="store_true")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--max-epochs", type=int, default=12)
    ap.add_argument("--target", type=float, default=0.98)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--device", default="cuda", help=argparse.SUPPRESS)  # cpu: smoke-test eager mode only
    # --train: one run with wgtrain train's options (see the module docstring)
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--hidden", default="128")
    ap.add_argument("--activation", default="relu", choices=["relu", "gelu", "tanh", "sigmoid", "leaky_relu"])
    ap.add_argument("--init", default="torch", choices=["torch", "kaiming", "xavier"])
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--optimizer", default="momentum", choices=["sgd", "momentum", "nesterov", "adam", "adamw"])
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=None)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--clip-grad-norm", type=float, default=0.0)
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--schedule", default="cosine", choices=["constant", "cosine", "step", "onecycle"])
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--train-epochs", type=int, default=12)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="--train: torch.set_num_threads (0: torch's default)")
    ap.add_argument("--warm-steps", type=int, default=0,
                    help="--train: this many steps on a throw-away copy of the model and optimizer first, off the clock")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_reference: needs a CUDA GPU")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32, as wgtrain computes
    torch.backends.cudnn.allow_tf32 = False
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_mnist(args.data, args.device)
    if args.train:
        train(data, args)
        return
    if not args.skip_speed:
        speed(data, args)
    if args.time_to_accuracy:
        time_to_accuracy(data, args)


if __name__ == "__main__":
    main()
