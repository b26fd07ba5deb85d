#!/usr/bin/env python3
"""Checks of the benchmark scripts that run without a GPU (bench/check_bench.sh runs them).

  - torch_reference.Run: the graph mode's step (run uncaptured on the CPU: a stand-in graph
    replays graph_step) gives the same weights as the eager mode's torch.optim.SGD, for one and
    for two hidden layers, momentum and plain SGD, a cosine with warmup, a short tail batch;
  - the one-layer Run starts from the weights the two-Linear code always made;
  - Recipe.lr_table is the schedule lr_factor (--train's, wgtrain's rule) computes;
  - --recipe / --recipes parsing, good and bad;
  - the command line: bad input is one line and exit 2, and a CPU smoke run prints the lines
    make_results.py reads;
  - make_results.py on synthetic JSON lines: the tables, the ratios, the recipes' names.
Usage: check_bench.py MNIST_DIR WORK_DIR
"""
import argparse
import json
import math
import os
import subprocess
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torch_reference as tr  # noqa: E402

failures = checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if cond:
        print(f"ok   {what}")
    else:
        failures += 1
        print(f"FAIL {what}")


def uncaptured(run):
    """graph and compiled modes, with graph_step called directly in place of a CUDA graph replay."""
    run.capture = lambda size: types.SimpleNamespace(replay=lambda: run.graph_step(size))
    return run


def check_graph_step_matches_eager(data):
    x, y, xt, yt = data
    small = (x[:300], y[:300], xt[:500], yt[:500])  # batch 64: 4 full steps and a tail of 44
    # lr 0.05: at 0.2 with momentum the two-layer run is chaotic enough in float32 that one-ulp
    # differences (p - lr * v against p + (-lr) * v) reach 3e-3 by the second epoch (in float64
    # the two modes agree to 1e-16 there too)
    recipe = tr.Recipe("t", batch=64, lr=0.05, momentum=0.9, schedule="cosine", epochs=3, warmup=5)
    steps = (300 + 63) // 64
    for hidden in ((128,), (64, 32)):
        for momentum in (0.9, 0.0):
            table = recipe.lr_table(steps)
            eager = tr.Run(small, 64, "eager", seed=3, lr_table=table, momentum=momentum, hidden=hidden)
            graph = uncaptured(tr.Run(small, 64, "graph", seed=3, lr_table=table, momentum=momentum, hidden=hidden))
            same_init = all(torch.equal(a, b) for a, b in zip(eager.params, graph.params))
            for _ in range(2):
                eager.epoch()
                graph.epoch()
            diff = max(float((a - b).abs().max()) for a, b in zip(eager.params, graph.params))
            moved = max(float((a - b).abs().max()) for a, b in
                        zip(eager.params, tr.Run(small, 64, "eager", seed=3, lr_table=table, hidden=hidden).params))
            check(same_init and diff < 1e-5 and moved > 1e-3 and eager.global_step == graph.global_step == 2 * steps,
                  f"graph step = eager SGD, hidden {hidden}, momentum {momentum}, cosine + warmup, a tail batch: "
                  f"max |diff| {diff:.2e} after 2 epochs (weights moved {moved:.3f})")
            acc_e, acc_g = eager.test_accuracy(), graph.test_accuracy()
            check(abs(acc_e - acc_g) < 1e-3, f"test accuracy of both modes, hidden {hidden}: {acc_e:.4f} / {acc_g:.4f}")
    # a constant rate: the eager mode leaves torch.optim.SGD's lr alone (the speed table's path)
    run = tr.Run(small, 64, "eager", seed=1, lr_table=torch.full((20,), 0.1), hidden=(16,))
    check(run.lr_list is None and abs(run.opt.param_groups[0]["lr"] - 0.1) < 1e-7, "constant lr: no per-step lr writes")


def check_one_layer_init(data):
    torch.manual_seed(7)
    l1, l2 = torch.nn.Linear(784, 128), torch.nn.Linear(128, 10)
    run = tr.Run(data, 128, "eager", seed=7, lr_table=torch.full((4,), 0.1))
    want = [l1.weight, l1.bias, l2.weight, l2.bias]
    check(len(run.params) == 4 and all(torch.equal(a, b) for a, b in zip(run.params, want)),
          "784-128-10: the same initial weights as Linear(784, 128), Linear(128, 10) after manual_seed")
    xb = data[0][:32]
    ref = F.linear(F.relu(F.linear(xb, l1.weight, l1.bias)), l2.weight, l2.bias)
    check(torch.equal(run.logits(xb), ref), "784-128-10: logits = linear(relu(linear(x)))")
    run2 = tr.Run(data, 128, "eager", seed=7, lr_table=torch.full((4,), 0.1), hidden=(256, 128))
    shapes = [tuple(p.shape) for p in run2.params]
    check(shapes == [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,)], f"784-256-128-10 shapes {shapes}")


def check_lr_table():
    for schedule, warmup in (("cosine", 0), ("cosine", 37), ("constant", 0), ("constant", 20)):
        r = tr.Recipe("t", lr=0.3, schedule=schedule, epochs=4, warmup=warmup)
        steps = 59
        table = r.lr_table(steps)
        args = argparse.Namespace(schedule=schedule, train_epochs=4, warmup=warmup)
        f = tr.lr_factor(args, steps)
        worst = max(abs(float(table[s]) - 0.3 * f(s)) for s in range(steps * 4))
        check(worst < 1e-7 and len(table) >= steps * 4, f"lr table {schedule}, warmup {warmup} = lr_factor (max diff {worst:.1e})")


def check_recipe_parsing():
    r = tr.parse_recipe("wide:hidden=512,batch=1024,lr=0.4,momentum=0.9,schedule=cosine,epochs=6")
    check((r.name, r.hidden, r.batch, r.lr, r.momentum, r.schedule, r.epochs, r.warmup) ==
          ("wide", (512,), 1024, 0.4, 0.9, "cosine", 6, 0), "--recipe with every key")
    r = tr.parse_recipe("deep:hidden=256,128,batch=64,schedule=constant,momentum=0")
    check(r.hidden == (256, 128) and r.batch == 64 and r.schedule == "constant" and r.momentum == 0.0
          and r.json()["optimizer"] == "sgd" and r.json()["hidden"] == "256,128", "--recipe hidden=256,128 takes both widths")
    r = tr.parse_recipe("d")
    check((r.hidden, r.batch, r.lr, r.momentum, r.schedule, r.epochs, r.label_smoothing) ==
          ((128,), 64, 0.025, 0.9, "cosine", 12, 0.0), "--recipe NAME alone: wgtrain train's defaults")
    r = tr.parse_recipe("s:label_smoothing=0.1")
    check(r.label_smoothing == 0.1 and r.json()["label_smoothing"] == 0.1, "--recipe label_smoothing=0.1")
    for bad, why in (("x:batch=0", "batch must be"), ("x:lr=-1", "lr must be"), ("x:momentum=1", "momentum must be"),
                     ("x:schedule=step", "schedule must be"), ("x:epochs=two", "epochs must be"),
                     ("x:warmup=-1", "warmup must be"), ("x:hidden=0", "x: hidden: expected comma-separated widths >= 1"), ("x:size=3", "unknown key"),
                     ("x:512", "not key=value"), ("x:lr=1,lr=2", "given twice"), (":lr=1", "expected NAME"),
                     ("wgtrain-fast:lr=1", "a preset has that name"), ("x:lr=nan", "lr must be"),
                     ("x:label_smoothing=1", "label_smoothing must be")):
        try:
            tr.parse_recipe(bad)
            check(False, f"--recipe {bad} refused")
        except argparse.ArgumentTypeError as e:
            check(why in str(e), f"--recipe {bad}: {e}")
    check([r.name for r in tr.parse_presets("wgtrain-fast,plain-sgd-b64")] == ["wgtrain-fast", "plain-sgd-b64"],
          "--recipes picks presets in order")
    fast = tr.PRESETS["wgtrain-fast"]
    check((fast.hidden, fast.batch, fast.lr, fast.momentum, fast.schedule, fast.epochs, fast.label_smoothing) ==
          ((256,), 128, 0.05, 0.9, "cosine", 3, 0.1),
          "preset wgtrain-fast: 784-256-10, batch 128, momentum 0.9, lr 0.05, cosine over 3, label smoothing 0.1")
    best = tr.PRESETS["torch-best"]
    check((best.hidden, best.batch, best.lr, best.momentum, best.schedule, best.epochs) == ((1024,), 1024, 0.4, 0.9, "cosine", 4),
          "preset torch-best: 784-1024-10, batch 1024, momentum 0.9, lr 0.4, cosine over 4 (bench/NOTES.md)")


def cli(args, py):
    p = subprocess.run(py + [os.path.join(HERE, "torch_reference.py"), *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def check_cli(mnist, py):
    base = ["--data", mnist, "--device", "cpu"]
    for args, why in (([*base, "--time-to-accuracy", "--recipes", "nope"], "argument --recipes: no preset 'nope'"),
                      ([*base, "--time-to-accuracy", "--recipe", "x:batch=0"], "argument --recipe: x: batch must be"),
                      ([*base, "--hidden", "256,x"], "argument --hidden: expected comma-separated widths"),
                      ([*base, "--batches", "64,0"], "integers >= 1"),
                      ([*base, "--modes", "eager,graph"], "need CUDA"),
                      ([*base, "--modes", "eager,fast"], "--modes takes"),
                      ([*base, "--skip-speed", "--time-to-accuracy", "--tta-mode", "graph"], "need CUDA"),
                      ([*base, "--skip-speed", "--time-to-accuracy", "--recipe", "a:lr=1", "--recipe", "a:lr=2"], "same name"),
                      ([*base, "--modes", "eager", "--epochs", "0"], "--epochs and --seeds")):
        rc, out, err = cli(args, py)
        lines = err.strip().splitlines()
        check(rc == 2 and not out and len(lines) == 1 and lines[0].startswith("torch_reference: ") and why in lines[0],
              f"{' '.join(args[3:])} -> exit {rc}: {err.strip()}")
    rc, out, err = cli([*base, "--modes", "eager", "--batches", "100", "--epochs", "1", "--train-limit", "300",
                        "--hidden", "32,16", "--time-to-accuracy", "--seeds", "2", "--target", "0.5",
                        "--recipes", "wgtrain-fast-b256", "--recipe", "tiny:hidden=32,16,batch=50,lr=0.1,epochs=3,warmup=4",
                        "--max-epochs", "2"], py)
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    sp = [r for r in rows if r["event"] == "speed"]
    tta = [r for r in rows if r["event"] == "time_to_accuracy"]
    seeds = [r for r in rows if r["event"] == "time_to_accuracy_seed"]
    check(rc == 0 and len(sp) == 1 and sp[0]["hidden"] == "32,16" and sp[0]["batch"] == 100 and sp[0]["mode"] == "eager"
          and sp[0]["ms_per_epoch"] > 0, f"CPU smoke: a speed line of 784-32-16-10 (rc {rc}) {err.strip()[-300:]}")
    want = {"wgtrain-fast-b256": dict(hidden="256", batch=256, lr=0.1, momentum=0.9, schedule="cosine", warmup=0, schedule_epochs=5),
            "tiny": dict(hidden="32,16", batch=50, lr=0.1, momentum=0.9, schedule="cosine", warmup=4, schedule_epochs=3)}
    check([r["recipe"] for r in tta] == ["wgtrain-fast-b256", "tiny"] and
          all(all(r[k] == v for k, v in want[r["recipe"]].items()) and r["max_epochs"] == 2 and r["seeds"] == 2
              and r["mode"] == "eager" and r["optimizer"] == "momentum" for r in tta),
          "CPU smoke: a time-to-accuracy line per recipe, with its parameters")
    check(len(seeds) == 4 and all(1 <= s["epochs"] <= 2 and (s["test_accuracy"] >= 0.5) == s["reached"] for s in seeds)
          and all(r["reached"] == sum(s["reached"] for s in seeds if s["recipe"] == r["recipe"]) for r in tta),
          f"CPU smoke: seed lines agree with the target: {[(s['recipe'], s['epochs'], s['test_accuracy']) for s in seeds]}")


def check_make_results(work, py):
    os.makedirs(work, exist_ok=True)
    w = lambda name, rows: open(os.path.join(work, name), "w").write(
        "not json\n" + "\n".join(json.dumps(r) for r in rows) + "\n")
    sp = lambda kernels, b, ms, **kw: dict(event="speed", kernels=kernels, batch=b, ms_per_epoch=ms,
                                           samples_per_second=60000 / ms * 1000, steps_per_epoch=(60000 + b - 1) // b, **kw)
    w("wg-speed.jsonl", [sp("fused", 64, 20.0, gpu_us_per_dispatch={"fused_forward": 10.0, "fused_update": 5.0}),
                         sp("fused", 4096, 2.0), sp("reference", 64, 30.0)])      # no "hidden": 784-128-10
    w("wg-speed2.jsonl", [sp("reference", 64, 40.0, hidden="256,128"), sp("reference", 1024, 8.0, hidden="256,128")])
    ts = lambda mode, b, ms, hidden: dict(event="speed", framework="torch", torch="2.11", mode=mode, batch=b,
                                          ms_per_epoch=ms, hidden=hidden)
    w("torch-speed.jsonl", [ts("eager", 64, 900.0, "128"), ts("graph", 64, 80.0, "128"), ts("graph", 4096, 3.0, "128"),
                            ts("graph", 64, 100.0, "256,128"), ts("graph", 1024, 12.0, "256,128")])
    w("torch-compiled.jsonl", [ts("compiled", 4096, 2.5, "128"), ts("compiled", 4096, 1.0, "128")])  # the later wins
    seed = lambda s, e, ok, **kw: dict(event="time_to_accuracy_seed", seed=s, reached=ok, seconds=0.1, epochs=e,
                                       test_accuracy=0.981 if ok else 0.97, **kw)
    w("wg-tta.jsonl", [seed(1, 4, True), seed(2, 5, True),
                       dict(event="time_to_accuracy", target=0.98, seeds=2, reached=2, median_seconds=0.047, hidden="256",
                            optimizer="momentum", batch=256, lr=0.1, momentum=0.9, schedule="cosine", warmup=0,
                            schedule_epochs=5, device_seconds=0.2, compile_seconds=0.03, upload_seconds=0.04)])
    w("torch-tta.jsonl", [seed(1, 4, True, framework="torch", recipe="wgtrain-fast-b256"),
                          seed(2, 5, False, framework="torch", recipe="wgtrain-fast-b256"),
                          dict(event="time_to_accuracy", framework="torch", mode="graph",
                               **tr.PRESETS["wgtrain-fast-b256"].json(), target=0.98, seeds=2, reached=1, median_seconds=0.2),
                          dict(event="time_to_accuracy", framework="torch", recipe="plain-sgd-b64", target=0.98,
                               seeds=5, reached=5, median_seconds=0.762)])  # an older line: its recipe's name only
    open(os.path.join(work, "cmds.txt"), "w").write("echo the commands\n")
    files = [os.path.join(work, f) for f in ("wg-speed.jsonl", "wg-speed2.jsonl", "torch-speed.jsonl",
                                             "torch-compiled.jsonl", "wg-tta.jsonl", "torch-tta.jsonl")]
    p = subprocess.run(py + [os.path.join(HERE, "make_results.py"), "--card", "Test Card", "--date", "2026-12-02",
                             "--commands", os.path.join(work, "cmds.txt"), *files], capture_output=True, text=True)
    md = p.stdout
    open(os.path.join(work, "RESULTS.md"), "w").write(md)
    lines = md.splitlines()
    row = lambda start: next((l for l in lines if l.startswith(start)), "")
    t1, t2 = md.find("### 784-128-10"), md.find("### 784-256-128-10")
    check(p.returncode == 0 and 0 < t1 < t2, f"make_results: a table per model, 784-128-10 first (rc {p.returncode}) {p.stderr}")
    check("| batch | wgtrain fused | wgtrain per-layer | PyTorch eager | PyTorch CUDA graph | PyTorch compile + CUDA graph |"
          in md[t1:t2], "784-128-10 columns: fused, per-layer, eager, CUDA graph, compile")
    check("| 64 | 20.00 ms | 30.00 ms | 900 ms | 80.00 ms | — | **4.00×** |" in md[t1:t2], "b64 row: ratio best torch / fastest wgtrain")
    check("| 4096 | 2.00 ms | — | — | 3.00 ms | 1.00 ms | **0.50×** |" in md[t1:t2], "b4096: the later compiled figure wins")
    sec2 = md[t2:md.find("## GPU time")]
    check("| batch | wgtrain per-layer | PyTorch CUDA graph | best PyTorch ÷ fastest wgtrain |" in sec2
          and "| 64 | 40.00 ms | 100 ms | **2.50×** |" in sec2 and "| 1024 | 8.00 ms | 12.00 ms | **1.50×** |" in sec2,
          "784-256-128-10: per-layer against CUDA graph")
    check("| 784-128-10 | 64 | fused | fused_forward 10.0, fused_update 5.0 | 14.07 ms | 20.00 ms |" in md,
          "GPU time per dispatch: the sum over an epoch's steps")
    fast_w = row("| wgtrain-fast-b256 | wgtrain |")
    fast_t = row("| wgtrain-fast-b256 | PyTorch CUDA graph |")
    check("| 784-256-10 | momentum 0.9 | 256 | 0.1 | cosine over 5 epochs | 2/2 | 4, 5 | 0.047 |" in fast_w,
          f"wgtrain's line named after the PyTorch recipe of the same parameters: {fast_w}")
    check("| 1/2 | 4, ✗ (5) | 0.200 |" in fast_t and lines.index(fast_t) == lines.index(fast_w) + 1,
          f"PyTorch's line of that recipe right after it, a seed that missed marked: {fast_t}")
    check("| plain-sgd-b64 | PyTorch CUDA graph | 784-128-10 | plain SGD | 64 | 0.1 | constant, at most 12 epochs | 5/5 |"
          in md, "an older PyTorch line: the parameters from its recipe's name")
    check("device creation 0.200 s" in md and md.rstrip().endswith("echo the commands\n```".rstrip()),
          "the set-up line and the commands")
    p = subprocess.run(py + [os.path.join(HERE, "make_results.py"), "--card", "c", "--date", "d", "--commands",
                             os.path.join(work, "cmds.txt"), os.path.join(work, "missing.jsonl")],
                       capture_output=True, text=True)
    check(p.returncode != 0 and p.stderr.strip() == f"make_results: {os.path.join(work, 'missing.jsonl')} not found",
          f"make_results: a missing file is one line: {p.stderr.strip()}")


def main():
    mnist, work = sys.argv[1], sys.argv[2]
    py = [sys.executable]
    data = tr.load_mnist(mnist, "cpu")
    check_one_layer_init(data)
    check_graph_step_matches_eager(data)
    check_lr_table()
    check_recipe_parsing()
    check_cli(mnist, py)
    check_make_results(work, py)
    print(f"{checks} checks, {failures} failed")
    sys.exit(1 if failures or not checks else 0)


if __name__ == "__main__":
    main()
