"""Evaluate sampled nets against baselines: members, ensembles, diversity, symmetries, paths, OOD, FGSM.

The expensive part is one forward pass of every sampled net over the test
set. It is done once, in chunks of nets and images (memory stays bounded),
with the batched functional forward of the target (no nn.Module per net), and
the softmax probabilities (N, T, C) are kept on the CPU (400 MB for 1,000
nets × 10,000 images) and reused by every metric that needs them.

Forward methods: `grouped` (target.forward, all nets of a chunk in one
grouped convolution: the choice on a GPU), `loop` (target.forward, one
functional call per net) and `channels_last` (the same loop with NHWC
tensors, which oneDNN runs much faster: for mnist_cnn, 16 nets × 1,000 images
on one CPU thread, 7.7k image·nets/s against 2.3k for `loop` and 1.6k for
`grouped`). `auto` picks grouped on CUDA and channels_last on the CPU.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import checkpoint, metrics
from .checkpoint import CheckpointError
from .data import load_dataset
from .device import resolve_device, synchronize, to_device
from .entropy import nearest_neighbour_distances
from .files import write_text_atomic
from .sampling import generate, load_samples
from .symmetry import gauge_fix, random_symmetry
from .targets import Target, get_target, resolve_forward
from .training import SUMMARY, load_hypernetwork

DEFAULT_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
DEFAULT_EPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
DIVERSITY_NETS = 100  # diversity, OOD, the adversarial vote and the ensemble gain use the first min(100, N) nets
OUTPUTS = ("metrics.json", "member_accuracy.csv", "ensemble_curve.csv", "paths.csv", "adversarial.csv",
           "reliability.csv", "ood_scores.csv")


class EvaluationError(RuntimeError):
    """The inputs of an evaluation do not fit together (shapes, targets, sizes); the message says how."""


@dataclass
class EvalConfig:
    checkpoint: Path
    samples: Path
    baselines: list[Path]
    data: Path
    out: Path
    ood_data: Path | None = None
    train_summary: Path | None = None
    sizes: list[int] = field(default_factory=lambda: list(DEFAULT_SIZES))
    draws: int = 5
    path_pairs: int = 10
    path_points: int = 40
    path_images: int | None = None
    adversarial_eps: list[float] = field(default_factory=lambda: list(DEFAULT_EPS))
    adversarial_images: int = 1000
    symmetry_copies: int = 100
    seed: int = 0
    device: str = "auto"
    limit_test: int | None = None
    forward: str = "auto"
    chunk: int = 256
    memory_mb: int | None = None


# --------------------------------------------------------------------------- batched forward
def _activation_elements(target: Target) -> int:
    """Largest activation of one net on one image (the first convolution's output, before pooling)."""
    _, h, w = target.input_shape
    largest = 0
    for layer in target.layers:
        if layer.kind == "conv":
            largest = max(largest, layer.units * h * w)
            h, w = h // layer.pool, w // layer.pool
        else:
            largest = max(largest, layer.units)
    return largest


class Forward:
    """Logits/probabilities of many nets on many images, chunked to a memory budget."""

    def __init__(self, target: Target, method: str, device: torch.device, memory_mb: int | None = None):
        self.target, self.device = target, device
        self.method = resolve_forward(method, device)
        memory_mb = memory_mb or (8192 if device.type == "cuda" else 512)
        # ~3 live copies of the largest activation (conv output, pooled, ReLU / gradient buffers)
        budget = memory_mb * 2**20 // 4 // 3
        per_pair = _activation_elements(target)
        if self.method == "grouped":
            self.images = max(1, min(256, budget // per_pair))
            self.nets = max(1, budget // (self.images * per_pair))
        else:  # one net at a time; 256 images per call was the fastest on the CPU
            self.images = max(1, min(256, budget // per_pair))
            self.nets = 64

    def logits(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One chunk, no splitting: θ (P, D), shared images x (N, C, H, W) → (P, N, classes)."""
        return self.target.forward(theta, x, self.method)

    @torch.no_grad()
    def probs(self, theta: torch.Tensor, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Softmax probabilities (P, N, classes) as float32 on the CPU, computed chunk by chunk."""
        P, N = theta.shape[0], x.shape[0]
        if out is None:  # pinned on CUDA: the device → host copies below run asynchronously
            out = torch.empty(P, N, self.target.num_classes, dtype=torch.float32,
                              pin_memory=self.device.type == "cuda")
        theta, x = to_device(theta, self.device), to_device(x, self.device)  # once, not per chunk
        for p in range(0, P, self.nets):
            for i in range(0, N, self.images):
                chunk = self.logits(theta[p:p + self.nets], x[i:i + self.images])
                out[p:p + self.nets, i:i + self.images].copy_(chunk.float().softmax(-1), non_blocking=True)
        synchronize(self.device)  # the last asynchronous copies must land before anyone reads `out`
        return out

    def scores(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Accuracy and NLL (P,) of each net without keeping its probabilities."""
        acc, nll = torch.zeros(theta.shape[0], dtype=torch.float64), torch.zeros(theta.shape[0], dtype=torch.float64)
        for p in range(0, theta.shape[0], self.nets):
            probs = self.probs(theta[p:p + self.nets], x)
            acc[p:p + self.nets] = metrics.accuracy(probs, y)
            nll[p:p + self.nets] = metrics.nll(probs, y)
        return acc, nll


# --------------------------------------------------------------------------- ensembles
def _mean_and_counts(probs: torch.Tensor, index: torch.Tensor, chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean probabilities and vote counts (T, C) of the members `index` of probs (N, T, C), chunked."""
    total = torch.zeros(probs.shape[1:], dtype=torch.float64)
    counts = torch.zeros(probs.shape[1:], dtype=torch.float64)
    for start in range(0, len(index), chunk):
        part = probs.index_select(0, index[start:start + chunk])
        total += part.double().sum(0)
        counts += metrics.vote_counts(part)
    return total / len(index), counts


def ensemble_scores(probs: torch.Tensor, labels: torch.Tensor, index: torch.Tensor) -> dict:
    """Accuracy, NLL, ECE of the mean-probability ensemble and the majority vote of members `index`."""
    mean, counts = _mean_and_counts(probs, index)
    vote = (counts + 0.5 * mean).argmax(-1)  # ties → larger mean probability (metrics.majority_vote)
    vote_probs = counts / len(index)
    return {"mean_prob": {"accuracy": float(metrics.accuracy(mean, labels)), "nll": float(metrics.nll(mean, labels)),
                          "ece": metrics.ece(mean, labels)},
            "majority_vote": {"accuracy": float((vote == labels).double().mean()),
                              "nll": float(metrics.nll(vote_probs, labels)), "ece": metrics.ece(vote_probs, labels)}}


def ensemble_curve(probs: torch.Tensor, labels: torch.Tensor, sizes: list[int], draws: int,
                   generator: torch.Generator) -> dict:
    """For every size: `draws` random member subsets (one when size = all); mean and std over draws."""
    N = probs.shape[0]
    curve = {kind: {k: [] for k in ("accuracy", "accuracy_std", "nll", "nll_std", "ece", "ece_std")}
             for kind in ("mean_prob", "majority_vote")}
    for size in sizes:
        runs = [ensemble_scores(probs, labels, torch.randperm(N, generator=generator)[:size])
                for _ in range(1 if size == N else draws)]
        for kind in curve:
            for name in ("accuracy", "nll", "ece"):
                values = torch.tensor([run[kind][name] for run in runs], dtype=torch.float64)
                curve[kind][name].append(float(values.mean()))
                curve[kind][name + "_std"].append(float(values.std(unbiased=False)))
    return {"sizes": list(sizes), "draws": [1 if s == N else draws for s in sizes], **curve}


def member_summary(acc: torch.Tensor, nll: torch.Tensor) -> dict:
    out = {}
    for name, values in (("accuracy", acc), ("nll", nll)):
        v = values.double()
        out.update({f"{name}_mean": float(v.mean()), f"{name}_std": float(v.std(unbiased=False)),
                    f"{name}_min": float(v.min()), f"{name}_max": float(v.max())})
    out["accuracy_histogram"] = metrics.histogram(acc)
    out["nll_histogram"] = metrics.histogram(nll)
    return out


def diversity(target: Target, theta: torch.Tensor, probs: torch.Tensor) -> dict:
    """Prediction disagreement, KL to the ensemble and nearest-neighbour L1 of gauge-fixed weights."""
    if theta.shape[0] < 2:
        return {"nets": int(theta.shape[0]), "disagreement": None, "kl_to_mean": None, "nn_l1_mean": None,
                "note": "diversity needs at least 2 nets"}
    with torch.no_grad():
        nn = nearest_neighbour_distances(gauge_fix(target, theta.double()), "l1")
    return {"nets": int(theta.shape[0]), "disagreement": metrics.disagreement(probs),
            "kl_to_mean": metrics.kl_to_mean(probs), "nn_l1_mean": float(nn.mean()), "nn_l1_min": float(nn.min()),
            "nn_l1_max": float(nn.max()),
            "nn_l1_per_weight": float(nn.mean()) / theta.shape[1]}


# --------------------------------------------------------------------------- symmetry control
def symmetry_control(forward: Forward, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, copies: int,
                     generator: torch.Generator) -> dict:
    """An 'ensemble' of `copies` random function-preserving transforms of ONE net θ (D,).

    It must predict exactly what the net predicts (gain 0). Predictions are
    compared by arg-max of the mean probabilities; a flip caused by rounding
    is counted and reported, not hidden."""
    transformed = random_symmetry(forward.target, theta.detach().cpu(), copies, generator)
    probs = forward.probs(torch.cat([theta.detach().cpu().unsqueeze(0), transformed]), x)
    own, copy_probs = probs[0], probs[1:]
    mean = copy_probs.double().mean(0)
    own_pred, ens_pred = own.argmax(-1), mean.argmax(-1)
    own_acc = float(metrics.accuracy(own, y))
    ens_acc = float(metrics.accuracy(mean, y))
    copy_acc = metrics.accuracy(copy_probs, y)
    return {"copies": copies, "net_accuracy": own_acc, "ensemble_accuracy": ens_acc, "gain": ens_acc - own_acc,
            "flipped_predictions": int((own_pred != ens_pred).sum()), "images": int(len(y)),
            "copy_accuracy_min": float(copy_acc.min()), "copy_accuracy_max": float(copy_acc.max()),
            "max_abs_prob_diff": float((mean - own.double()).abs().max())}


# --------------------------------------------------------------------------- paths
@torch.no_grad()
def path_scores(forward: Forward, model, z1: torch.Tensor, z2: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                points: int) -> dict:
    """Accuracy/NLL along the latent path G((1−t)z1 + t z2) and the direct path between the gauge-fixed ends."""
    t = torch.linspace(0, 1, points, dtype=torch.float32)
    z = (1 - t[:, None]) * z1[None].cpu() + t[:, None] * z2[None].cpu()
    latent = torch.cat([theta for _, theta in generate(model, z, forward.nets, device=forward.device)])
    ends = gauge_fix(forward.target, latent[[0, -1]])
    t_dev = t.to(ends.device)[:, None]
    direct = (1 - t_dev) * ends[0] + t_dev * ends[1]
    out = {"t": t.tolist()}
    for kind, theta in (("latent", latent), ("direct", direct)):
        acc, nll = forward.scores(theta, x, y)
        out[kind] = {"accuracy": acc.tolist(), "nll": nll.tolist()}
    return out


@torch.no_grad()
def direct_path(forward: Forward, theta1: torch.Tensor, theta2: torch.Tensor, x, y, points: int) -> dict:
    ends = gauge_fix(forward.target, torch.stack([theta1, theta2]))
    t = torch.linspace(0, 1, points, dtype=ends.dtype, device=ends.device)[:, None]
    acc, nll = forward.scores((1 - t) * ends[0] + t * ends[1], x, y)
    return {"t": t.flatten().tolist(), "accuracy": acc.tolist(), "nll": nll.tolist()}


def _path_summary(accs: list[list[float]], nlls: list[list[float]]) -> dict:
    acc, nll = torch.tensor(accs, dtype=torch.float64), torch.tensor(nlls, dtype=torch.float64)
    return {"worst_accuracy": float(acc.min()), "worst_nll": float(nll.max()),
            "mean_worst_accuracy": float(acc.min(1).values.mean()),
            "mean_endpoint_accuracy": float(acc[:, [0, -1]].mean()), "mean_accuracy": float(acc.mean()),
            "mean_accuracy_drop": float((acc[:, [0, -1]].mean(1) - acc.min(1).values).mean())}


# --------------------------------------------------------------------------- OOD
def ood_scores(id_probs: torch.Tensor, ood_probs: torch.Tensor) -> dict:
    """AUROC of predictive entropy and mutual information, in-distribution 0 vs OOD 1; members (M, T, C)."""
    labels = torch.cat([torch.zeros(id_probs.shape[1]), torch.ones(ood_probs.shape[1])])
    both = torch.cat([id_probs, ood_probs], dim=1)
    out = {"members": int(both.shape[0]),
           "auroc_entropy": metrics.auroc(metrics.predictive_entropy(both), labels)}
    if both.shape[0] > 1:
        out["auroc_mi"] = metrics.auroc(metrics.mutual_information(both), labels)
    else:
        out["auroc_mi"] = None
        out["note"] = "one member: the mutual information is 0 everywhere"
    return out


def ood_score_rows(model: str, id_probs: torch.Tensor, ood_probs: torch.Tensor) -> list[list]:
    """Per-image OOD scores of one model (members (M, T, C)) for ood_scores.csv: predictive entropy and,
    for M > 1, mutual information (empty for one member)."""
    rows = []
    for split, p in (("in", id_probs), ("ood", ood_probs)):
        ent = metrics.predictive_entropy(p).tolist()
        mi = metrics.mutual_information(p).tolist() if p.shape[0] > 1 else [""] * len(ent)
        rows += [[model, split, i, e, m] for i, (e, m) in enumerate(zip(ent, mi))]
    return rows


# --------------------------------------------------------------------------- reliability
def reliability_rows(model: str, probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> list[list]:
    """Reliability-diagram table of one predictor (T, C): the bins of metrics.ece, (lo, hi] on the max
    probability, with count, mean confidence and accuracy (empty for an empty bin)."""
    confidence, predicted = probs.double().max(-1)
    correct = (predicted == labels).double()
    index = (torch.ceil(confidence * bins) - 1).clamp(0, bins - 1).long()
    count = torch.zeros(bins, dtype=torch.float64).index_add_(0, index, torch.ones_like(confidence))
    conf = torch.zeros(bins, dtype=torch.float64).index_add_(0, index, confidence)
    right = torch.zeros(bins, dtype=torch.float64).index_add_(0, index, correct)
    return [[model, b, b / bins, (b + 1) / bins, int(count[b]),
             float(conf[b] / count[b]) if count[b] else "", float(right[b] / count[b]) if count[b] else ""]
            for b in range(bins)]


# --------------------------------------------------------------------------- adversarial
def fgsm_flip_rates(forward: Forward, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                    eps_list: list[float]) -> dict:
    """FGSM against the mean-probability ensemble of θ (P, D) (one net when P = 1), judged by majority vote.

    x_adv = clamp(x + ε·sign ∇_x CE(mean_m p_m(x), y), 0, 1). CE of the mean is
    −log Σ_m p_m,y + const, whose gradient is Σ_m w_m ∇ log p_m,y with weights
    w_m = p_m,y / Σ p_m,y: computed from log-softmax (no underflow for
    confident nets), chunk by chunk, with w from a first no-gradient pass."""
    device = forward.device
    theta, x, y = theta.to(device), x.to(device), y.to(device)
    P, n = theta.shape[0], x.shape[0]
    clean = forward.probs(theta, x)
    clean_pred = metrics.majority_vote(clean).to(device)
    correct = clean_pred == y
    log_py = torch.log(clean.gather(-1, y.cpu().expand(P, n).unsqueeze(-1)).squeeze(-1).double().clamp_min(1e-300))
    weight = torch.softmax(log_py, dim=0).float().to(device)  # (P, n), sums to 1 over members
    sign = torch.zeros_like(x)
    for i in range(0, n, forward.images):
        xi = x[i:i + forward.images].clone().requires_grad_(True)
        grad = torch.zeros_like(xi)
        for p in range(0, P, forward.nets):
            logp = forward.logits(theta[p:p + forward.nets], xi).log_softmax(-1)
            picked = logp.gather(-1, y[i:i + forward.images].expand(logp.shape[0], -1).unsqueeze(-1)).squeeze(-1)
            loss = -(weight[p:p + forward.nets, i:i + forward.images] * picked).sum()
            grad += torch.autograd.grad(loss, xi)[0]
        sign[i:i + forward.images] = grad.sign()
    rates = []
    for eps in eps_list:
        adv = (x + eps * sign).clamp(0, 1)
        pred = metrics.majority_vote(forward.probs(theta, adv)).to(device)
        flipped = int((correct & (pred != y)).sum())
        rates.append({"eps": eps, "flipped": flipped,
                      "flip_rate": flipped / int(correct.sum()) if int(correct.sum()) else None})
    return {"nets": P, "images": n, "correct": int(correct.sum()), "per_eps": rates}


# --------------------------------------------------------------------------- input validation
def _load_baseline(path: Path, target: Target) -> dict:
    payload = checkpoint.load(path, kind="target")
    if payload.get("target") != target.name:
        raise CheckpointError(f"baseline {path} is a {payload.get('target')!r} net but the hypernetwork "
                              f"generates {target.name!r}; train the baselines for the same target")
    theta = payload.get("theta")
    if not isinstance(theta, torch.Tensor) or theta.dim() != 1 or theta.numel() != target.num_params:
        shape = tuple(theta.shape) if isinstance(theta, torch.Tensor) else type(theta).__name__
        raise CheckpointError(f"baseline {path}: 'theta' must be a 1-D tensor of {target.num_params} weights "
                              f"({target.name}), got {shape}")
    if not torch.isfinite(theta).all():
        raise CheckpointError(f"baseline {path} holds non-finite weights; retrain it")
    seconds = payload.get("train_seconds")
    if not isinstance(seconds, (int, float)) or seconds < 0:
        raise CheckpointError(f"baseline {path} has no valid 'train_seconds' (got {seconds!r})")
    return {"theta": theta.float(), "train_seconds": float(seconds)}


def _check_config(cfg: EvalConfig) -> None:
    problems = []
    if not cfg.baselines:
        problems.append("give at least one --baselines checkpoint")
    if not cfg.sizes or min(cfg.sizes) < 1:
        problems.append(f"--sizes must be positive integers, got {cfg.sizes}")
    for name in ("draws", "path_pairs", "symmetry_copies", "adversarial_images", "chunk"):
        if getattr(cfg, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if cfg.path_points < 2:
        problems.append(f"--path-points must be at least 2, got {cfg.path_points}")
    if any(not math.isfinite(e) or e < 0 for e in cfg.adversarial_eps) or not cfg.adversarial_eps:
        problems.append(f"--adversarial-eps must be non-negative numbers, got {cfg.adversarial_eps}")
    for name in ("limit_test", "path_images"):
        if getattr(cfg, name) is not None and getattr(cfg, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    if problems:
        raise EvaluationError("; ".join(problems))


def _load_images(root: Path, target: Target, limit_test: int | None, what: str):
    data = load_dataset(root, limit_train=1, limit_test=limit_test)  # limit_train=1: do not decode the train split
    if tuple(data.image_shape) != tuple(target.input_shape):
        raise EvaluationError(f"{what} {root} holds {data.image_shape} images but target {target.name} takes "
                              f"{target.input_shape}")
    return data.name, torch.from_numpy(data.test_x), torch.from_numpy(data.test_y)


def load_inputs(cfg: EvalConfig, device: torch.device) -> dict:
    """Read and cross-check every input before any heavy work; raise with a clear message."""
    _check_config(cfg)
    try:
        model, train_config = load_hypernetwork(cfg.checkpoint, device)
    except (KeyError, TypeError, RuntimeError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"{cfg.checkpoint} does not hold a loadable hypernetwork ({error})") from None
    target = get_target(train_config.target)
    samples = load_samples(cfg.samples, cfg.checkpoint, model)
    baselines = [_load_baseline(Path(p), target) for p in cfg.baselines]
    summary_path = Path(cfg.train_summary) if cfg.train_summary else Path(cfg.checkpoint).parent / SUMMARY
    hypernet_seconds = None
    if summary_path.is_file():
        try:
            hypernet_seconds = float(json.loads(summary_path.read_text())["train_seconds"])
        except (ValueError, KeyError, TypeError) as error:
            raise EvaluationError(f"{summary_path} is not a training summary with 'train_seconds' ({error})") from None
    elif cfg.train_summary:
        raise EvaluationError(f"--train-summary {summary_path} does not exist")
    name, x, y = _load_images(cfg.data, target, cfg.limit_test, "--data")
    ood = _load_images(cfg.ood_data, target, cfg.limit_test, "--ood-data") if cfg.ood_data else None
    return {"model": model, "train_config": train_config, "target": target, "samples": samples,
            "baselines": baselines, "summary_path": summary_path, "hypernet_train_seconds": hypernet_seconds,
            "dataset": name, "x": x, "y": y, "ood": ood}


# --------------------------------------------------------------------------- outputs
def _finite(obj):
    """JSON has no NaN/inf: write them as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _csv(header: list[str], rows: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
    return buffer.getvalue()


@contextmanager
def _timed(parts: dict, name: str, device: torch.device):
    synchronize(device)
    tick = time.perf_counter()
    yield
    synchronize(device)
    parts[name] = time.perf_counter() - tick


# --------------------------------------------------------------------------- the evaluation
def evaluate(cfg: EvalConfig, log=print) -> dict:
    """Run every evaluation and write OUT/metrics.json and the CSV tables; returns the metrics."""
    device = resolve_device(cfg.device)
    inputs = load_inputs(cfg, device)
    out = Path(cfg.out)
    with checkpoint.OutputLock(out):
        for name in OUTPUTS:  # a failed run must not leave the previous run's figures behind
            (out / name).unlink(missing_ok=True)
        metrics_out, tables = _evaluate(cfg, inputs, device, log)
        for name, text in tables.items():
            write_text_atomic(out / name, text)
        write_text_atomic(out / "metrics.json", json.dumps(_finite(metrics_out), indent=1, allow_nan=False) + "\n")
    return metrics_out


def _evaluate(cfg: EvalConfig, inputs: dict, device: torch.device, log) -> tuple[dict, dict]:
    start = time.perf_counter()
    parts: dict[str, float] = {}
    model, target = inputs["model"], inputs["target"]
    x, y = inputs["x"].to(device), inputs["y"]
    latents = inputs["samples"]["latents"]
    N, T, K = latents.shape[0], len(y), len(inputs["baselines"])
    M = min(DIVERSITY_NETS, N)
    forward = Forward(target, cfg.forward, device, cfg.memory_mb)
    generator = torch.Generator().manual_seed(cfg.seed)
    baseline_theta = torch.stack([b["theta"] for b in inputs["baselines"]])
    log(f"evaluating {N} sampled nets and {K} baselines on {T} {inputs['dataset']} test images "
        f"({forward.method} forward on {device}, chunks of {forward.nets} nets × {forward.images} images)")

    # -- one pass of every sampled net over the test set; probabilities kept for every metric
    with _timed(parts, "test_forward", device):
        probs = torch.empty(N, T, target.num_classes, dtype=torch.float32)
        first = []
        for s, theta in generate(model, latents, cfg.chunk, device=device):
            forward.probs(theta, x, out=probs[s:s + theta.shape[0]])
            if s < M:
                first.append(theta[:M - s])
        first_theta = torch.cat(first)[:M]
        base_probs = forward.probs(baseline_theta, x)
    log(f"test forward: {N * T / parts['test_forward']:.0f} image·nets/s")

    with _timed(parts, "members_and_ensembles", device):
        member_acc, member_nll = metrics.accuracy(probs, y), metrics.nll(probs, y)
        sizes = sorted({min(s, N) for s in cfg.sizes})
        curve = ensemble_curve(probs, y, sizes, cfg.draws, generator)
        gain_ens = ensemble_scores(probs, y, torch.arange(M))["mean_prob"]
        base_acc, base_nll = metrics.accuracy(base_probs, y), metrics.nll(base_probs, y)
        deep = ensemble_scores(base_probs, y, torch.arange(K))
        deep_curve = ensemble_curve(base_probs, y, list(range(1, K + 1)), cfg.draws, generator)
        single = base_probs[0]
        reliability = (reliability_rows(f"hypernet_ensemble_{M}", _mean_and_counts(probs, torch.arange(M))[0], y)
                       + reliability_rows("single_net", single, y)
                       + reliability_rows(f"deep_ensemble_{K}", base_probs.double().mean(0), y))
    hypernet = {
        "num_nets": N, "members": member_summary(member_acc, member_nll),
        "ensemble": {"sizes": curve["sizes"], "draws": curve["draws"],
                     **{k: v for k, v in curve["mean_prob"].items()},
                     "majority_vote": curve["majority_vote"]},
        "ensemble_gain": gain_ens["accuracy"] - float(member_acc[:M].mean()),
        "ensemble_gain_detail": {"size": M, "ensemble_accuracy": gain_ens["accuracy"],
                                 "member_accuracy_mean": float(member_acc[:M].mean())},
    }
    deep_ensemble = {"size": K, **deep["mean_prob"], "majority_vote": deep["majority_vote"],
                     "members": member_summary(base_acc, base_nll),
                     "ensemble_gain": deep["mean_prob"]["accuracy"] - float(base_acc.mean()),
                     "curve": {"sizes": deep_curve["sizes"], **deep_curve["mean_prob"]}}
    single_net = {"checkpoint": str(cfg.baselines[0]), "accuracy": float(metrics.accuracy(single, y)),
                  "nll": float(metrics.nll(single, y)), "ece": metrics.ece(single, y)}

    with _timed(parts, "diversity", device):
        div = {"hypernet": diversity(target, first_theta.cpu(), probs[:M]),
               "deep_ensemble": diversity(target, baseline_theta, base_probs)}

    with _timed(parts, "symmetry_control", device):
        sym = symmetry_control(forward, first_theta[0], x, y, cfg.symmetry_copies, generator)
        size = min(cfg.symmetry_copies, N)
        real = ensemble_scores(probs, y, torch.arange(size))["mean_prob"]["accuracy"]
        sym.update({"hypernet_ensemble_size": size,
                    "hypernet_ensemble_gain": real - float(member_acc[:size].mean()),
                    "exact": sym["flipped_predictions"] == 0})
    if sym["flipped_predictions"]:
        log(f"symmetry control: {sym['flipped_predictions']} predictions flipped by rounding (reported)")

    with _timed(parts, "paths", device):
        px, py = (x[:cfg.path_images], y[:cfg.path_images]) if cfg.path_images else (x, y)
        path_rows, acc_by_kind, nll_by_kind = [], {"latent": [], "direct": []}, {"latent": [], "direct": []}
        if N >= 2:
            for pair in range(cfg.path_pairs):
                i, j = torch.randperm(N, generator=generator)[:2].tolist()
                result = path_scores(forward, model, latents[i], latents[j], px, py, cfg.path_points)
                for kind in ("latent", "direct"):
                    acc_by_kind[kind].append(result[kind]["accuracy"])
                    nll_by_kind[kind].append(result[kind]["nll"])
                    path_rows += [[kind, pair, t, a, n] for t, a, n in
                                  zip(result["t"], result[kind]["accuracy"], result[kind]["nll"])]
            paths = {k: _path_summary(acc_by_kind[k], nll_by_kind[k]) for k in ("latent", "direct")}
        else:
            paths = {"latent": {"worst_accuracy": None}, "direct": {"worst_accuracy": None},
                     "note": "paths need at least 2 sampled nets"}
        if K >= 2:
            base_path = direct_path(forward, baseline_theta[0], baseline_theta[1], px, py, cfg.path_points)
            paths["baseline_direct"] = _path_summary([base_path["accuracy"]], [base_path["nll"]])
            path_rows += [["baseline_direct", 0, t, a, n] for t, a, n in
                          zip(base_path["t"], base_path["accuracy"], base_path["nll"])]
        else:
            paths["baseline_direct"] = None
        paths.update({"pairs": cfg.path_pairs if N >= 2 else 0, "points": cfg.path_points, "images": len(py),
                      "direct_is_between": "gauge-fixed end points (scale and softmax-shift symmetries removed)"})

    with _timed(parts, "ood", device):
        ood_rows = None
        if inputs["ood"] is None:
            ood = {"skipped": "no --ood-data given"}
        else:
            ood_name, ood_x, _ = inputs["ood"]
            ood_x = ood_x.to(device)
            hyper_ood = forward.probs(first_theta, ood_x)
            ood = {"in_distribution": inputs["dataset"], "out_of_distribution": ood_name,
                   "in_images": T, "ood_images": int(ood_x.shape[0]),
                   "hypernet": ood_scores(probs[:M], hyper_ood)}
            base_ood = forward.probs(baseline_theta, ood_x)
            ood["single_net"] = ood_scores(base_probs[:1], base_ood[:1])
            ood["deep_ensemble"] = ood_scores(base_probs, base_ood)
            ood_rows = (ood_score_rows(f"hypernet_ensemble_{M}", probs[:M], hyper_ood)
                        + ood_score_rows("single_net", base_probs[:1], base_ood[:1])
                        + ood_score_rows(f"deep_ensemble_{K}", base_probs, base_ood))

    with _timed(parts, "adversarial", device):
        ax, ay = x[:cfg.adversarial_images], y[:cfg.adversarial_images]
        models = {"hypernet_single": first_theta[:1], "hypernet_vote": first_theta, "single_net": baseline_theta[:1]}
        if K >= 2:
            models["deep_ensemble_vote"] = baseline_theta
        adversarial = {"images": int(len(ay)), "eps": list(cfg.adversarial_eps)}
        adv_rows = []
        for name, theta in models.items():
            result = fgsm_flip_rates(forward, theta, ax, ay, list(cfg.adversarial_eps))
            adversarial[name] = {"nets": result["nets"], "correct": result["correct"],
                                 "flip_rate": [r["flip_rate"] for r in result["per_eps"]],
                                 "flipped": [r["flipped"] for r in result["per_eps"]]}
            adv_rows += [[name, r["eps"], result["images"], result["correct"], r["flipped"], r["flip_rate"]]
                         for r in result["per_eps"]]

    total = time.perf_counter() - start
    image_nets = N * T
    base_seconds = [b["train_seconds"] for b in inputs["baselines"]]
    timing = {
        "parts_seconds": parts, "total_seconds": total, "device": str(device), "forward_method": forward.method,
        "chunk_nets": forward.nets, "chunk_images": forward.images,
        "test_forward_image_nets": image_nets,
        "image_nets_per_second": image_nets / parts["test_forward"],
        "gflops_per_second": image_nets * target.flops_per_image() / parts["test_forward"] / 1e9,
        "flops_per_image": target.flops_per_image(),
        "hypernet_train_seconds": inputs["hypernet_train_seconds"],
        "hypernet_train_summary": str(inputs["summary_path"]) if inputs["hypernet_train_seconds"] is not None else None,
        "baselines_train_seconds": sum(base_seconds), "baseline_train_seconds": base_seconds,
    }
    samples = inputs["samples"]
    result = {
        "inputs": {"checkpoint": str(cfg.checkpoint), "checkpoint_sha256": samples["checkpoint_sha256"],
                   "samples": str(cfg.samples), "samples_seed": samples.get("seed"),
                   "baselines": [str(p) for p in cfg.baselines], "data": str(cfg.data), "dataset": inputs["dataset"],
                   "test_images": T, "ood_data": str(cfg.ood_data) if cfg.ood_data else None,
                   "target": target.name, "num_params": target.num_params},
        "config": {k: v for k, v in asdict(cfg).items()
                   if k not in ("checkpoint", "samples", "baselines", "data", "out", "ood_data", "train_summary")},
        "hypernet": hypernet, "deep_ensemble": deep_ensemble, "single_net": single_net, "diversity": div,
        "symmetry_control": sym, "paths": paths, "ood": ood, "adversarial": adversarial, "timing": timing,
        "notes": {"accuracy": "fractions in [0, 1]", "nll": f"nats per image, probabilities floored at "
                  f"{metrics.NLL_FLOOR:g}", "ece": "15 equal-width bins on the max probability",
                  "majority_vote": "ties go to the larger mean probability; its NLL/ECE use the vote fractions",
                  "members_of_fixed_size": f"diversity, OOD, the adversarial vote and hypernet.ensemble_gain use "
                  f"the first {M} sampled nets"},
    }

    curve_rows = []
    for kind, label in (("mean_prob", "hypernet_mean_prob"), ("majority_vote", "hypernet_majority_vote")):
        c = curve[kind]
        curve_rows += [[label, s, c["accuracy"][k], c["accuracy_std"][k], c["nll"][k], c["nll_std"][k],
                        c["ece"][k], c["ece_std"][k]] for k, s in enumerate(curve["sizes"])]
    for kind, label in (("mean_prob", "deep_ensemble_mean_prob"), ("majority_vote", "deep_ensemble_majority_vote")):
        c = deep_curve[kind]
        curve_rows += [[label, s, c["accuracy"][k], c["accuracy_std"][k], c["nll"][k], c["nll_std"][k],
                        c["ece"][k], c["ece_std"][k]] for k, s in enumerate(deep_curve["sizes"])]
    curve_rows.append(["single_net", 1, single_net["accuracy"], 0.0, single_net["nll"], 0.0, single_net["ece"], 0.0])
    tables = {
        "member_accuracy.csv": _csv(["net", "accuracy", "nll"],
                                    [[i, float(a), float(n)] for i, (a, n) in enumerate(zip(member_acc, member_nll))]),
        "ensemble_curve.csv": _csv(["method", "size", "accuracy_mean", "accuracy_std", "nll_mean", "nll_std",
                                    "ece_mean", "ece_std"], curve_rows),
        "paths.csv": _csv(["kind", "pair", "t", "accuracy", "nll"], path_rows),
        "adversarial.csv": _csv(["model", "eps", "images", "correct", "flipped", "flip_rate"],
                                [[m, float(e), i, c, f, "" if r is None else float(r)]
                                 for m, e, i, c, f, r in adv_rows]),
        "reliability.csv": _csv(["model", "bin", "bin_lower", "bin_upper", "count", "confidence_mean",
                                 "accuracy"], reliability),
    }
    if ood_rows is not None:
        tables["ood_scores.csv"] = _csv(["model", "split", "image", "entropy", "mutual_information"], ood_rows)
    log(f"hypernet members {hypernet['members']['accuracy_mean']:.4f} (min {hypernet['members']['accuracy_min']:.4f})"
        f", ensemble of {M} {gain_ens['accuracy']:.4f}; deep ensemble of {K} {deep['mean_prob']['accuracy']:.4f}; "
        f"single net {single_net['accuracy']:.4f}; symmetry gain {sym['gain']:.4g}; {total:.1f} s")
    return result, tables
