"""Throughput of hyperman's hot paths against this machine's practical roofline, in one run.

    python benchmarks/run.py [--quick] [--device auto|cpu|cuda] [--data data/mnist] [--json out.json]

Measured on the same machine in the same process, so the figures can be
compared with each other:

  (a) dense fp32 matmul GFLOP/s: the practical roofline (best of a few);
  (b) one hypernetwork training step at params.yaml's train settings
      (16 nets × 32 images, mnist_cnn, dim z 300): steps/s, image·net/s,
      achieved GFLOP/s as a fraction of (a), and the split of a step into
      hypernetwork fwd+bwd / target fwd+bwd / gauge fixing + entropy (each
      timed on its own, on the same inputs); the rest is Adam + indexing;
  (c) sampling: nets/s to generate and gauge-fix 10,000 nets (eval mode, chunks);
  (d) ensemble evaluation: image·net/s and GFLOP/s of hyperman evaluate's
      Forward (method auto) against a naive loop that builds one
      torch.nn.Sequential per net and copies the weights in;
  (e) conventional training of one target net (hyperman.baseline: batch 128)
      in images/s, and (b)'s image·net/s over it.

FLOPs: target.flops_per_image() is 2 × multiply-adds of one forward pass;
training counts forward + backward as 3 × forward (the backward computes
gradients for activations and weights, ≈ 2 × forward). The hypernetwork's own
FLOPs are not counted, so (b)'s fraction is "useful target work".
Real MNIST from data/mnist is used when it is there, random images otherwise.
Run it on an idle machine: other processes skew every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hyperman.augment import random_shift  # noqa: E402
from hyperman.device import synchronize  # noqa: E402
from hyperman.entropy import kl_entropy  # noqa: E402
from hyperman.forward import Forward  # noqa: E402
from hyperman.hypernetwork import HyperNetwork  # noqa: E402
from hyperman.objective import cross_entropy, draw_probes, objective, uses_function  # noqa: E402
from hyperman.sampling import generate, timed_generation  # noqa: E402
from hyperman.symmetry import gauge_fix  # noqa: E402
from hyperman.targets import Target, get_target  # noqa: E402
from hyperman.targets import resolve_forward  # noqa: E402
from hyperman.config import TrainConfig  # noqa: E402

# params.yaml's train section (the default study); the paper's are 32 nets per step.
def _train_settings() -> dict:
    """params.yaml's train section (the settings the study trains with), over fallbacks for a missing file."""
    import yaml

    settings = {"target": "mnist_cnn", "nets_per_step": 16, "images_per_net": 32, "latent_dim": 300, "lr": 0.01,
                "lambda": 30000.0, "norm": "layer", "augment_shift": 2, "precision": "auto"}
    params = ROOT / "params.yaml"
    if params.exists():
        settings.update(yaml.safe_load(params.read_text()).get("train", {}))
    return settings


TRAIN = _train_settings()


def _train_config() -> TrainConfig:
    """TRAIN as the TrainConfig the objective reads (params.yaml says `lambda`, the code `lam`)."""
    names = TrainConfig.__dataclass_fields__
    values = {("lam" if key == "lambda" else key): value for key, value in TRAIN.items()}
    return TrainConfig(**{key: value for key, value in values.items() if key in names})  # diversity: a list


def timeit(fn, device: torch.device, min_time: float, warmup: int = 2, max_reps: int = 1000) -> float:
    """Median seconds per call of fn(), after `warmup` calls, over ≥ 3 calls and ≥ min_time seconds."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < max_reps):
        tick = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - tick)
    times.sort()
    return times[len(times) // 2]


def load_images(data: Path, target: Target, quick: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """(train x, train y, test x, test y, description): real MNIST if prepared, else random tensors."""
    if (data / "manifest.json").is_file():
        try:
            from hyperman.data import load_dataset

            ds = load_dataset(data, limit_train=4000 if quick else None, limit_test=2000 if quick else None)
            if tuple(ds.image_shape) == tuple(target.input_shape):
                return (torch.from_numpy(ds.train_x), torch.from_numpy(ds.train_y), torch.from_numpy(ds.test_x),
                        torch.from_numpy(ds.test_y), f"real {ds.name} from {data}")
        except Exception as error:  # noqa: BLE001 - a benchmark falls back to random data, and says so
            print(f"(could not read {data}: {error}; using random images)", file=sys.stderr)
    g = torch.Generator().manual_seed(0)
    n_train, n_test = (4000, 2000) if quick else (20000, 10000)
    return (torch.rand(n_train, *target.input_shape, generator=g), torch.randint(10, (n_train,), generator=g),
            torch.rand(n_test, *target.input_shape, generator=g), torch.randint(10, (n_test,), generator=g),
            "random tensors (no prepared data found)")


# ------------------------------------------------------------------------------------------- (a)
def bench_matmul(device: torch.device, n: int, min_time: float, dtype: torch.dtype = torch.float32) -> float:
    """Best-of-a-few GFLOP/s of an n×n matmul in `dtype` (TF32 off: fp32 is a true fp32 roofline; bf16 is the
    roofline of the bf16 target forward on a GPU)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    best = math.inf
    for _ in range(5):
        best = min(best, timeit(lambda: torch.mm(a, b, out=out), device, min_time / 5, warmup=1, max_reps=50))
    return 2 * n**3 / best / 1e9


# ------------------------------------------------------------------------------------------- (b)
def bench_training(target: Target, x: torch.Tensor, y: torch.Tensor, device: torch.device, min_time: float) -> dict:
    B, N = TRAIN["nets_per_step"], TRAIN["images_per_net"]
    torch.manual_seed(0)
    model = HyperNetwork(target, TRAIN["latent_dim"], norm=TRAIN.get("norm", "batch")).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=TRAIN["lr"])
    method = resolve_forward("auto", device)
    generator = torch.Generator().manual_seed(1)
    x, y = x.to(device), y.to(device)
    config = _train_config()

    def step():  # the body of hyperman.training's loop (no logging, no checkpoints, no queue)
        z = model.sample_latents(B, "uniform", generator).to(device)
        index = torch.randint(len(y), (B, N), generator=generator).to(device)
        images = random_shift(x[index], config.augment_shift, generator)
        probes = draw_probes(config, x, generator) if uses_function(config.diversity) else None
        theta = model(z)
        ce = cross_entropy(config, target, theta, images, y[index], method)
        loss = objective(config, target, theta, ce, config.lam, probes, method).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    t_step = timeit(step, device, min_time)

    # The pieces, each on the same fixed inputs.
    z = model.sample_latents(B, "uniform", generator).to(device)
    index = torch.randint(len(y), (B, N), generator=generator).to(device)
    xb, yb = x[index], y[index]
    with torch.no_grad():
        theta0 = model(z)
    grad = torch.randn_like(theta0)

    def hyper():
        model.zero_grad(set_to_none=True)
        model(z).backward(grad)

    def tgt(forward=method):
        theta = theta0.clone().requires_grad_(True)
        logits = target.forward(theta, xb, forward)
        F.cross_entropy(logits.reshape(-1, target.num_classes), yb.reshape(-1)).backward()

    def gauge():
        theta = theta0.clone().requires_grad_(True)
        kl_entropy(gauge_fix(target, theta), TRAIN["latent_dim"], "l1").backward()

    t_hyper = timeit(hyper, device, min_time / 2)
    t_target = timeit(tgt, device, min_time / 2)
    t_gauge = timeit(gauge, device, min_time / 2)
    # the layout choice of resolve_forward("auto") on the CPU, measured against plain NCHW
    t_nchw = timeit(lambda: tgt("loop"), device, min_time / 2) if method == "channels_last" else None
    flops = 3 * target.flops_per_image() * B * N
    return {"method": method, "seconds_per_step": t_step, "steps_per_s": 1 / t_step,
            "image_nets_per_s": B * N / t_step, "gflops": flops / t_step / 1e9,
            "target_only_gflops": flops / t_target / 1e9, "target_nchw_loop_s": t_nchw,
            "split_s": {"hypernetwork_fwd_bwd": t_hyper, "target_fwd_bwd": t_target, "gauge_entropy": t_gauge,
                        "rest_adam_indexing": max(t_step - t_hyper - t_target - t_gauge, 0.0)}}


# ------------------------------------------------------------------------------------------- (c)
def bench_sampling(target: Target, device: torch.device, num_nets: int, chunk: int) -> dict:
    torch.manual_seed(0)
    model = HyperNetwork(target, TRAIN["latent_dim"], norm=TRAIN.get("norm", "batch")).to(device).eval()  # random init: same cost as trained
    latents = model.sample_latents(num_nets, "uniform", torch.Generator().manual_seed(2))
    for _ in generate(model, latents[:chunk], chunk, gauge=True, device=device):  # warm-up
        pass
    seconds, bad = timed_generation(model, latents, chunk, device)
    return {"num_nets": num_nets, "chunk": chunk, "seconds": seconds, "nets_per_s": num_nets / seconds,
            "non_finite_nets": bad}


# ------------------------------------------------------------------------------------------- (d)
def as_module(target: Target, theta: torch.Tensor, device: torch.device) -> nn.Sequential:
    """The naive way: one nn.Sequential per net, weights copied in from the flat θ (D,)."""
    layers: list[nn.Module] = []
    last = len(target.layers) - 1
    for i, (layer, rows) in enumerate(zip(target.layers, target.rows(theta[None]))):
        rows = rows[0]
        if layer.kind == "conv":
            module = nn.Conv2d(layer.in_units, layer.units, layer.kernel, padding=layer.kernel // 2)
            weight = rows[:, :-1].reshape(layer.units, layer.in_units, layer.kernel, layer.kernel)
        else:
            if i > 0 and target.layers[i - 1].kind == "conv":
                layers.append(nn.Flatten())
            module = nn.Linear(layer.fan_in, layer.units)
            weight = rows[:, :-1]
        with torch.no_grad():
            module.weight.copy_(weight)
            module.bias.copy_(rows[:, -1])
        layers.append(module)
        if i < last:
            layers.append(nn.ReLU())
            if layer.pool > 1:
                layers.append(nn.MaxPool2d(layer.pool))
    return nn.Sequential(*layers).to(device).eval()


@torch.no_grad()
def naive_probs(target: Target, theta: torch.Tensor, x: torch.Tensor, device: torch.device, batch: int) -> torch.Tensor:
    out = torch.empty(theta.shape[0], x.shape[0], target.num_classes)
    for p in range(theta.shape[0]):
        net = as_module(target, theta[p], device)
        for i in range(0, x.shape[0], batch):
            out[p, i:i + batch] = net(x[i:i + batch].to(device)).softmax(-1).cpu()
    return out


def bench_evaluation(target: Target, x: torch.Tensor, device: torch.device, nets: int, min_time: float) -> dict:
    # PyTorch-default-initialised nets: their outputs depend on the image, so the naive loop's
    # agreement with Forward is a real check (an untrained hypernetwork's nets are near-constant).
    theta = target.init(nets, torch.Generator().manual_seed(3)).to(device)
    forward = Forward(target, "auto", device)
    fast = forward.probs(theta, x)
    slow = naive_probs(target, theta, x, device, forward.images)
    max_diff = (fast - slow).abs().max().item()
    t_fast = timeit(lambda: forward.probs(theta, x), device, min_time, warmup=1)
    t_slow = timeit(lambda: naive_probs(target, theta, x, device, forward.images), device, min_time, warmup=1)
    pairs = nets * x.shape[0]
    flops = target.flops_per_image() * pairs
    return {"nets": nets, "images": x.shape[0], "method": forward.method,
            "chunk": {"nets": forward.nets, "images": forward.images},
            "fast": {"seconds": t_fast, "image_nets_per_s": pairs / t_fast, "gflops": flops / t_fast / 1e9},
            "naive": {"seconds": t_slow, "image_nets_per_s": pairs / t_slow, "gflops": flops / t_slow / 1e9},
            "speedup": t_slow / t_fast, "max_abs_prob_diff": max_diff}


# ------------------------------------------------------------------------------------------- (e)
def bench_conventional(target: Target, x: torch.Tensor, y: torch.Tensor, device: torch.device,
                       min_time: float) -> dict:
    generator = torch.Generator().manual_seed(0)
    theta = torch.nn.Parameter(target.init(1, generator)[0].to(device))
    optimizer = torch.optim.Adam([theta], lr=3e-3)
    x, y = x.to(device), y.to(device)
    batch, method = 128, resolve_forward("auto", device)

    def step():  # hyperman.baseline's inner loop
        index = torch.randint(len(y), (batch,), generator=generator).to(device)
        loss = F.cross_entropy(target.forward(theta[None], x[index], method)[0], y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    t = timeit(step, device, min_time)
    flops = 3 * target.flops_per_image() * batch
    return {"batch": batch, "seconds_per_step": t, "images_per_s": batch / t, "gflops": flops / t / 1e9}


# ------------------------------------------------------------------------------------------- report
def table(r: dict) -> str:
    peak = r["matmul_gflops"]
    pct = lambda g: f"{100 * g / peak:.1f}%"  # noqa: E731
    tr, sa, ev, cv = r["training"], r["sampling"], r["evaluation"], r["conventional"]
    split = tr["split_s"]
    total = tr["seconds_per_step"]
    share = {k: 100 * v / total for k, v in split.items()}
    biggest = max(share, key=share.get)
    small = "launch/dispatch overhead of many small kernels" if r["device"].startswith("cuda") else \
        "small per-net convolutions (oneDNN/ATen overhead per call, 1-32 channels)"
    rows = [
        ("(a) fp32 matmul " + f"{r['matmul_n']}²", f"{peak:.1f} GFLOP/s", "100%",
         "compute (BLAS/cuBLAS peak): the practical roofline"),
        *([("(a') bf16 matmul " + f"{r['matmul_n']}²", f"{r['matmul_bf16_gflops']:.1f} GFLOP/s",
            pct(r["matmul_bf16_gflops"]), "the roofline of the bf16 target forward (train.precision auto on CUDA)")]
          if "matmul_bf16_gflops" in r else []),
        ("(b) hypernet training step", f"{tr['steps_per_s']:.2f} steps/s, {tr['image_nets_per_s']:.0f} image·net/s",
         f"{tr['gflops']:.2f} GFLOP/s = {pct(tr['gflops'])}",
         f"{biggest.replace('_', ' ')} ({share[biggest]:.0f}% of a step); {small}"),
        ("  ├ hypernetwork fwd+bwd", f"{1e3 * split['hypernetwork_fwd_bwd']:.1f} ms", f"{share['hypernetwork_fwd_bwd']:.0f}% of step",
         "extractor + per-unit generators (BN, small matmuls)"),
        ("  ├ target fwd+bwd", f"{1e3 * split['target_fwd_bwd']:.1f} ms",
         f"{share['target_fwd_bwd']:.0f}% of step; {tr['target_only_gflops']:.2f} GFLOP/s = {pct(tr['target_only_gflops'])}",
         f"forward '{tr['method']}': {small}"),
        *([("  │ (same, NCHW loop)", f"{1e3 * tr['target_nchw_loop_s']:.1f} ms",
             f"{tr['target_nchw_loop_s'] / split['target_fwd_bwd']:.2f}× the channels-last time",
             "what channels_last replaced on the CPU")] if tr.get("target_nchw_loop_s") else []),
        ("  ├ gauge fixing + entropy", f"{1e3 * split['gauge_entropy']:.1f} ms", f"{share['gauge_entropy']:.0f}% of step",
         "memory-bound elementwise ops + 16×16 cdist"),
        ("  └ rest (Adam, indexing, probes)", f"{1e3 * split['rest_adam_indexing']:.1f} ms",
         f"{share['rest_adam_indexing']:.0f}% of step",
         "optimizer over ~634k parameters, gathers, the function-space entropy's probe forward"),
        (f"(c) sampling {sa['num_nets']} nets", f"{sa['nets_per_s']:.0f} nets/s", f"{sa['seconds']:.2f} s",
         f"generator matmuls (chunk {sa['chunk']}) + gauge fixing (memory-bound)"),
        (f"(d) evaluation Forward '{ev['method']}'", f"{ev['fast']['image_nets_per_s']:.0f} image·net/s",
         f"{ev['fast']['gflops']:.2f} GFLOP/s = {pct(ev['fast']['gflops'])}",
         f"{ev['nets']} nets × {ev['images']} images; conv1/conv2 kernels" +
         ("" if r["device"].startswith("cuda") else ", one net per call")),
        ("  naive nn.Module per net", f"{ev['naive']['image_nets_per_s']:.0f} image·net/s",
         f"{ev['naive']['gflops']:.2f} GFLOP/s = {pct(ev['naive']['gflops'])}",
         f"Forward is {ev['speedup']:.2f}× faster; max abs Δp {ev['max_abs_prob_diff']:.1e}"),
        ("(e) conventional training", f"{cv['images_per_s']:.0f} images/s",
         f"{cv['gflops']:.2f} GFLOP/s = {pct(cv['gflops'])}", "one net, batch 128: small convolutions"),
        ("  (b) / (e)", f"{tr['image_nets_per_s'] / cv['images_per_s']:.2f}", "",
         "hypernetwork training throughput relative to training one net"),
    ]
    lines = ["| figure | throughput | vs roofline | limited by |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of a few seconds")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "mnist", help="prepared MNIST (optional)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)

    from hyperman.device import resolve_device

    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    target = get_target(TRAIN["target"])
    if args.quick:
        n_mm, min_time, sample_nets, eval_nets, eval_images = 512, 0.2, 500, 4, 256
    elif cuda:
        n_mm, min_time, sample_nets, eval_nets, eval_images = 8192, 2.0, 10000, 256, 10000
    else:
        n_mm, min_time, sample_nets, eval_nets, eval_images = 2048, 2.0, 10000, 32, 1000
    train_x, train_y, test_x, _, source = load_images(args.data, target, args.quick)
    test_x = test_x[:eval_images]
    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} torch threads"
    print(f"device: {device} ({name}); torch {torch.__version__}; data: {source}; "
          f"{'quick' if args.quick else 'full'} sizes", file=sys.stderr)

    results = {"device": f"{device} ({name})", "torch": torch.__version__, "data": source, "quick": args.quick,
               "matmul_n": n_mm, "target": target.name, "flops_per_image": target.flops_per_image(),
               "train_settings": TRAIN}
    steps = [("matmul_gflops", lambda: bench_matmul(device, n_mm, min_time)),
             *([("matmul_bf16_gflops", lambda: bench_matmul(device, n_mm, min_time, torch.bfloat16))] if cuda else []),
             ("training", lambda: bench_training(target, train_x, train_y, device, min_time)),
             ("sampling", lambda: bench_sampling(target, device, sample_nets, 250)),
             ("evaluation", lambda: bench_evaluation(target, test_x, device, eval_nets, min_time)),
             ("conventional", lambda: bench_conventional(target, train_x, train_y, device, min_time))]
    for key, fn in steps:
        tick = time.perf_counter()
        results[key] = fn()
        print(f"  {key}: {time.perf_counter() - tick:.1f} s", file=sys.stderr)

    print(f"\nhyperman benchmarks on {results['device']}, torch {results['torch']}, {source}; "
          f"target {target.name} ({target.flops_per_image() / 1e6:.2f} MFLOP per image forward; "
          f"training FLOPs = 3 × forward)\n")
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
