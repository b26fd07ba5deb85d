#!/usr/bin/env python3
"""PyTorch baseline for `wgtrain bench`, run on the same GPU in the same device run.

The same model (an MLP of any depth, --hidden 128 for 784-128-10 or --hidden 256,128 for
784-256-128-10: ReLU between the layers, torch.nn.Linear's default init), the same data (full
MNIST, resident on the GPU, inputs normalised with mean 0.1307 / std 0.3081, reshuffled every
epoch) and the same optimiser (plain SGD, lr 0.1 constant, for the speed table). Three ways to
run a step:

  eager     autograd + torch.optim.SGD, one Python step at a time
  graph     the whole step (gather, forward, loss, backward, update) captured once in a CUDA
            graph and replayed; the step counter and the shuffled order live on the GPU
  compiled  as graph, with the loss function built by torch.compile (max-autotune)

Prints one JSON object per line, as `wgtrain bench --json` does.

--time-to-accuracy trains recipes until the test accuracy reaches --target (CUDA graph mode;
eager with --device cpu), for --seeds seeds, and reports the median time. A recipe is a model,
a batch, an lr, a momentum (0: plain SGD), a schedule (cosine or constant, stepped once per
step, with an optional linear warmup over its first steps) and its epochs: the cosine runs over
that many epochs, and training stops at the first epoch whose test accuracy reaches the target,
after that many epochs at most. --recipes picks presets by name (see PRESETS; default all of
them, or none where --recipe is given); --recipe NAME:key=value,... (repeatable) adds one, the
keys hidden, batch, lr, momentum, schedule, epochs and warmup, e.g.
  --recipe wide:hidden=512,batch=1024,lr=0.4,momentum=0.9,schedule=cosine,epochs=6
(hidden=256,128 takes both widths; keys left out take wgtrain train's defaults).
--train-limit N trains on the first N images in every part (for smoke tests).

--train runs one eager training run with the options of `wgtrain train` instead (--hidden
256,128, --activation, --init, --dropout, --optimizer sgd|momentum|nesterov|adam|adamw,
--weight-decay, --beta1/--beta2/--eps, --clip-grad-norm, --label-smoothing, --schedule
constant|cosine|step|onecycle, --warmup), the same semantics as wgtrain's: the schedule is
stepped once per step, StepLR steps every max(1, epochs // 3) epochs by 0.1, OneCycleLR has
cycle_momentum=False, the warmup multiplies the schedule by min(1, (s + 1) / warmup), and
AdamW's weight decay defaults to 0.01 as torch's.
"""
import argparse
import gc
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

    def __init__(self, data, batch, mode, seed, lr_table, momentum=0.0, hidden=(128,), label_smoothing=0.0):
        torch.manual_seed(seed)
        self.label_smoothing = label_smoothing
        self.x, self.y, self.xt, self.yt = data
        self.n = self.x.shape[0]
        self.batch, self.mode, self.momentum = batch, mode, momentum
        dev = self.x.device
        classes = int(max(self.y.max(), self.yt.max())) + 1
        widths = [self.x.shape[1], *hidden, classes]
        # created in order, each on the CPU's generator then moved, as the one-layer run always was
        linears = [torch.nn.Linear(widths[i], widths[i + 1]).to(dev) for i in range(len(widths) - 1)]
        self.layers = [(lin.weight, lin.bias) for lin in linears]
        self.params = [p for wb in self.layers for p in wb]  # w1, b1, w2, b2, ...
        self.steps = (self.n + batch - 1) // batch
        self.full = self.n // batch           # full batches; a short tail batch has its own graph
        self.tail = self.n - self.full * batch
        self.gen = torch.Generator(device="cpu").manual_seed(seed)
        self.lr_table = lr_table.to(dev)     # learning rate of every global step
        self.global_step = 0
        self.velocity = [torch.zeros_like(p) for p in self.params] if momentum else None
        if mode == "eager":
            self.opt = torch.optim.SGD(self.params, lr=float(lr_table[0]), momentum=momentum)
            # a schedule is set step by step; a constant rate (the speed table) is left alone
            self.lr_list = None if bool((lr_table == lr_table[0]).all()) else lr_table.tolist()
        else:
            loss_fn = self.loss
            if mode == "compiled":
                loss_fn = torch.compile(self.loss, mode="max-autotune-no-cudagraphs", dynamic=False)
            self.loss_fn = loss_fn
            self.order = torch.zeros(self.n, dtype=torch.long, device=dev)
            self.counter = torch.zeros((), dtype=torch.long, device=dev)   # step within the epoch
            self.gstep = torch.zeros((), dtype=torch.long, device=dev)     # step within the run
            self.graphs = {}

    def logits(self, x):
        *hidden, (w, b) = self.layers
        for hw, hb in hidden:
            x = F.relu(F.linear(x, hw, hb))
        return F.linear(x, w, b)

    def loss(self, x, y):
        return F.cross_entropy(self.logits(x), y, label_smoothing=self.label_smoothing)

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
        # a previous run's graphs, freed by the garbage collector in the middle of this capture,
        # invalidate it (cudaErrorStreamCaptureInvalidated, seen on the H200 on 2026-12-02): free
        # them first
        gc.collect()
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g, capture_error_mode="thread_local"):
            self.graph_step(size)
        with torch.no_grad():
            for p, q in zip(self.params, saved):
                p.copy_(q)
            if vsaved:
                for v, q in zip(self.velocity, vsaved):
                    v.copy_(q)
        return g

    def prepare(self):
        """Graph and compiled modes: capture (and compile) the step graphs, once."""
        if self.mode != "eager" and not self.graphs:
            self.graphs["full"] = self.capture(self.batch)
            if self.tail:
                self.graphs["tail"] = self.capture(self.tail)

    def epoch(self):
        perm = torch.randperm(self.n, generator=self.gen).to(self.x.device, non_blocking=True)
        if self.mode == "eager":
            group = self.opt.param_groups[0]
            for s in range(self.steps):
                idx = perm[s * self.batch:(s + 1) * self.batch]
                if self.lr_list:
                    group["lr"] = self.lr_list[self.global_step]
                self.opt.zero_grad(set_to_none=True)
                self.loss(self.x[idx], self.y[idx]).backward()
                self.opt.step()
                self.global_step += 1
            return
        self.prepare()
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
        return (self.logits(self.xt).argmax(1) == self.yt).float().mean().item()


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def device_name():
    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def hidden_name(widths):
    return ",".join(str(w) for w in widths)


def speed(data, args):
    for batch in args.batches:
        for mode in args.modes:
            if mode == "compiled" and batch not in args.compiled_batches:
                continue
            steps = (data[0].shape[0] + batch - 1) // batch
            lr = torch.full((steps * (args.epochs + 1),), 0.1)
            t_setup = time.perf_counter()
            run = Run(data, batch, mode, seed=1, lr_table=lr, hidden=args.hidden)
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
                              "device": device_name(), "mode": mode, "hidden": hidden_name(args.hidden), "batch": batch,
                              "ms_per_epoch": round(ms, 4), "samples_per_second": round(run.n / (ms / 1000)),
                              "timed_epochs": args.epochs, "warmup_seconds": round(setup, 3)}), flush=True)


class Recipe:
    """A time-to-accuracy recipe: the model, batch, optimizer and schedule of one training run."""
    KEYS = ("hidden", "batch", "lr", "momentum", "schedule", "epochs", "warmup", "label_smoothing")

    # keys left out of a --recipe take wgtrain train's defaults
    def __init__(self, name, hidden=(128,), batch=64, lr=0.025, momentum=0.9, schedule="cosine", epochs=12,
                 warmup=0, label_smoothing=0.0, note=""):
        self.name, self.hidden, self.batch, self.lr, self.momentum = name, tuple(hidden), batch, lr, momentum
        self.schedule, self.epochs, self.warmup, self.note = schedule, epochs, warmup, note
        self.label_smoothing = label_smoothing

    def lr_table(self, steps_per_epoch):
        """The learning rate of every global step, as mlp_step_lr computes it: the cosine over
        the recipe's epochs, times min(1, (s + 1) / warmup) during the warmup."""
        total = steps_per_epoch * self.epochs
        t = torch.arange(total + 8, dtype=torch.float64)  # a few spare entries for the capture's warm-up steps
        f = 0.5 * (1 + torch.cos(math.pi * t / total)) if self.schedule == "cosine" else torch.ones_like(t)
        if self.warmup:
            f = f * torch.clamp((t + 1) / self.warmup, max=1.0)
        return (self.lr * f).float()

    def json(self):
        return {"recipe": self.name, "hidden": hidden_name(self.hidden),
                "optimizer": "momentum" if self.momentum else "sgd", "batch": self.batch, "lr": self.lr,
                "momentum": self.momentum, "schedule": self.schedule, "warmup": self.warmup,
                "schedule_epochs": self.epochs, "label_smoothing": self.label_smoothing}


PRESETS = {r.name: r for r in (
    Recipe("wgtrain-default", hidden=(128,), batch=64, lr=0.025, momentum=0.9, schedule="cosine", epochs=12,
           note="wgtrain train's defaults"),
    Recipe("wgtrain-b128", hidden=(128,), batch=128, lr=0.05, momentum=0.9, schedule="cosine", epochs=12,
           note="wgtrain train's defaults until 2026-12-02"),
    Recipe("plain-sgd-b64", hidden=(128,), batch=64, lr=0.1, momentum=0.0, schedule="constant", epochs=12,
           note="the plain-SGD recipe of the first performance issue"),
    # bench/NOTES.md "Time to 98%, round 3": 5 of 5 seeds in 2, 2, 3, 2, 2 epochs on the H200
    Recipe("wgtrain-fast", hidden=(256,), batch=128, lr=0.05, momentum=0.9, schedule="cosine", epochs=3,
           label_smoothing=0.1, note="wgtrain's fastest recipe to 98% on the H200"),
    Recipe("wgtrain-fast-b256", hidden=(256,), batch=256, lr=0.1, momentum=0.9, schedule="cosine", epochs=5,
           note="wgtrain's fastest recipe to 98% until 2026-12-02's fifth session"),
    # PyTorch's own: a step through a CUDA graph costs ~90-250 us whatever the width (launch and
    # cuBLAS overheads, bench/NOTES.md "Time to 98%: recipes"), so few, large, wide steps; 5 of 5
    # seeds reach 98% in 3, 4, 3, 3, 3 epochs (wgtrain's CPU engine, same semantics)
    Recipe("torch-best", hidden=(1024,), batch=1024, lr=0.4, momentum=0.9, schedule="cosine", epochs=4,
           note="PyTorch's best to 98%: wide layer, large batch, lr scaled"),
    # the runner-up (5 of 5 in 3, 3, 4, 3, 3 epochs), measured too since the ranking rests on an estimate
    Recipe("torch-b512", hidden=(512,), batch=512, lr=0.2, momentum=0.9, schedule="cosine", epochs=4,
           note="the runner-up: 784-512-10, batch 512"),
)}


def parse_widths(text, what=""):
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        widths = ()
    if not widths or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"{what}expected comma-separated widths >= 1, got '{text}'")
    return widths


def parse_recipe(text):
    """NAME:key=value,key=value,...; a comma-separated item without '=' continues the previous
    value, so hidden=256,128 takes both widths."""
    name, sep, body = text.partition(":")
    if not name or not all(c.isalnum() or c in "._-" for c in name):
        raise argparse.ArgumentTypeError(f"expected NAME:key=value,... with a name of letters, digits, '.', '_' "
                                         f"or '-' (got '{text}')")
    if name in PRESETS:
        raise argparse.ArgumentTypeError(f"{name}: a preset has that name; pick it with --recipes")
    items = []
    for part in body.split(",") if body else []:
        if "=" in part:
            items.append(part.split("=", 1))
        elif items:
            items[-1][1] += "," + part
        else:
            raise argparse.ArgumentTypeError(f"{name}: '{part}' is not key=value")
    kw = {}
    for key, value in items:
        if key not in Recipe.KEYS:
            raise argparse.ArgumentTypeError(f"{name}: unknown key '{key}' (keys: {', '.join(Recipe.KEYS)})")
        if key in kw:
            raise argparse.ArgumentTypeError(f"{name}: '{key}' given twice")
        try:
            if key == "hidden":
                kw[key] = parse_widths(value, f"{name}: hidden: ")
            elif key == "schedule":
                if value not in ("cosine", "constant"):
                    raise ValueError
                kw[key] = value
            elif key in ("batch", "epochs", "warmup"):
                kw[key] = int(value)
                if kw[key] < (0 if key == "warmup" else 1):
                    raise ValueError
            else:
                kw[key] = float(value)
                if not math.isfinite(kw[key]) or (key == "lr" and kw[key] <= 0) or \
                        (key in ("momentum", "label_smoothing") and not 0 <= kw[key] < 1):
                    raise ValueError
        except ValueError:
            want = {"schedule": "cosine or constant", "batch": "an integer >= 1", "epochs": "an integer >= 1",
                    "warmup": "an integer >= 0", "lr": "a number > 0", "momentum": "a number in [0, 1)",
                    "label_smoothing": "a number in [0, 1)"}
            raise argparse.ArgumentTypeError(f"{name}: {key} must be {want[key]} (got '{value}')")
    return Recipe(name, **kw)


def parse_presets(text):
    names = [n for n in text.split(",") if n]
    for n in names:
        if n not in PRESETS:
            raise argparse.ArgumentTypeError(f"no preset '{n}' (presets: {', '.join(PRESETS)})")
    if not names:
        raise argparse.ArgumentTypeError("expected at least one preset name")
    return [PRESETS[n] for n in names]


def time_to_accuracy(data, args):
    """Every chosen recipe, --seeds seeds each, in --tta-mode: the clock runs from the first
    step (after graph capture) to the end of the first test evaluation at or above --target."""
    mode = args.tta_mode
    for r in args.recipe_list:
        steps = (data[0].shape[0] + r.batch - 1) // r.batch
        table = r.lr_table(steps)
        epochs = min(r.epochs, args.max_epochs) if args.max_epochs else r.epochs
        reached, per_seed = [], []
        for seed in range(1, args.seeds + 1):
            run = Run(data, r.batch, mode, seed=seed, lr_table=table, momentum=r.momentum, hidden=r.hidden,
                      label_smoothing=r.label_smoothing)
            run.prepare()  # capture before the clock starts (setup), then train from the initial weights
            sync()
            t0 = time.perf_counter()
            at, acc, epoch = None, 0.0, 0
            for epoch in range(1, epochs + 1):
                run.epoch()
                acc = run.test_accuracy()  # .item() synchronises
                if acc >= args.target:
                    at = time.perf_counter() - t0
                    break
            if at is not None:
                reached.append(at)
            per_seed.append(epoch if at is not None else None)
            print(json.dumps({"event": "time_to_accuracy_seed", "framework": "torch", "recipe": r.name, "mode": mode,
                              "seed": seed, "reached": at is not None,
                              "seconds": round(at if at is not None else time.perf_counter() - t0, 4),
                              "epochs": epoch, "test_accuracy": round(acc, 4)}), flush=True)
        print(json.dumps({"event": "time_to_accuracy", "framework": "torch", "torch": torch.__version__,
                          "device": device_name(), "mode": mode, **r.json(), "max_epochs": epochs,
                          "target": args.target, "seeds": args.seeds, "reached": len(reached),
                          "epochs_per_seed": per_seed,
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
    widths = [x.shape[1], *args.hidden, int(y.max()) + 1]
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


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own prints the usage first)
        self.exit(2, f"torch_reference: {message}\n")


def int_list(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got '{text}'")
    return values


def main():
    ap = Parser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder with the four MNIST IDX files (raw or .gz)")
    ap.add_argument("--batches", type=int_list, default=[64, 256, 1024, 4096])
    ap.add_argument("--compiled-batches", type=int_list, default=[64, 256, 1024])
    ap.add_argument("--modes", type=lambda s: s.split(","), default=["eager", "graph", "compiled"])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--time-to-accuracy", action="store_true")
    ap.add_argument("--recipes", type=parse_presets, default=None,
                    help=f"presets to run, comma-separated (default all: {', '.join(PRESETS)}; none with --recipe)")
    ap.add_argument("--recipe", type=parse_recipe, action="append", default=[],
                    help="NAME:hidden=W[,W..],batch=N,lr=X,momentum=X,schedule=cosine|constant,epochs=N,warmup=N")
    ap.add_argument("--tta-mode", choices=["graph", "compiled", "eager"], default=None,
                    help="time to accuracy: the mode of a step (default graph; eager with --device cpu)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--max-epochs", type=int, default=0,
                    help="time to accuracy: stop after at most N epochs (default: each recipe's epochs; "
                         "the schedule still runs over the recipe's epochs)")
    ap.add_argument("--target", type=float, default=0.98)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--device", default="cuda", help=argparse.SUPPRESS)  # cpu: smoke-test eager mode only
    # --train: one run with wgtrain train's options (see the module docstring)
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--hidden", type=parse_widths, default=(128,), help="hidden widths: the speed table's model, and --train's")
    ap.add_argument("--activation", default="relu", choices=["relu", "gelu", "tanh", "sigmoid", "leaky_relu"])
    ap.add_argument("--init", default="torch", choices=["torch", "kaiming", "xavier"])
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--optimizer", default="momentum", choices=["sgd", "momentum", "nesterov", "adam", "adamw"])
    ap.add_argument("--lr", type=float, default=0.025)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=None)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--clip-grad-norm", type=float, default=0.0)
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--schedule", default="cosine", choices=["constant", "cosine", "step", "onecycle"])
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--train-epochs", type=int, default=12)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="--train: torch.set_num_threads (0: torch's default)")
    ap.add_argument("--warm-steps", type=int, default=0,
                    help="--train: this many steps on a throw-away copy of the model and optimizer first, off the clock")
    args = ap.parse_args()
    if args.device not in ("cuda", "cpu"):
        ap.error(f"--device must be cuda or cpu (got '{args.device}')")
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_reference: needs a CUDA GPU")
    bad_mode = [m for m in args.modes if m not in ("eager", "graph", "compiled")]
    if bad_mode:
        ap.error(f"--modes takes eager, graph and compiled (got '{bad_mode[0]}')")
    if args.tta_mode is None:
        args.tta_mode = "graph" if args.device == "cuda" else "eager"
    needs_cuda = (args.time_to_accuracy and args.tta_mode != "eager") or (not args.skip_speed and set(args.modes) - {"eager"})
    if args.device == "cpu" and not args.train and needs_cuda:
        ap.error("graph and compiled modes need CUDA: with --device cpu use --modes eager (and --tta-mode eager)")
    if args.epochs < 1 or args.seeds < 1 or args.max_epochs < 0 or args.train_limit < 0:
        ap.error("--epochs and --seeds must be >= 1, --max-epochs and --train-limit >= 0")
    args.recipe_list = (args.recipes if args.recipes is not None else [] if args.recipe else list(PRESETS.values())) \
        + args.recipe
    names = [r.name for r in args.recipe_list]
    if len(set(names)) != len(names):
        ap.error("--recipe: two recipes of the same name")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32, as wgtrain computes
    torch.backends.cudnn.allow_tf32 = False
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_mnist(args.data, args.device)
    if args.train:
        train(data, args)
        return
    if args.train_limit:  # the speed and time-to-accuracy parts on a subset (smoke tests)
        data = (data[0][:args.train_limit], data[1][:args.train_limit], data[2], data[3])
    if not args.skip_speed:
        speed(data, args)
    if args.time_to_accuracy:
        time_to_accuracy(data, args)


if __name__ == "__main__":
    main()
