"""Helpers of scripts/gpu_check.sh; needs only torch, numpy, pyyaml (no snakemake, dvc, jsonschema).

    python3 scripts/gpu_check.py cuda                    # exit 1 with a message when no CUDA device
    python3 scripts/gpu_check.py flags [--steps N]       # `hyperman train` flags from params.yaml's train section
    python3 scripts/gpu_check.py rate TRAIN_LOG          # seconds per step of a short calibration run
    python3 scripts/gpu_check.py report OUT DATA [NETS [LIMIT]]
                                        # steps/s, validation accuracy of 100 nets + their ensemble (the first
                                        # LIMIT validation images; never the test set: scans are choices)
    python3 scripts/gpu_check.py table RUN...            # one line per run of scripts/scan_configs.sh
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "workflow"))


def cuda() -> int:
    try:
        import torch
    except ImportError as error:
        print(f"gpu_check: {sys.executable} cannot import torch ({error}); use a python3 with torch "
              "(set PYTHON=/path/to/python3)", file=sys.stderr)
        return 1

    if not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device visible to torch {torch.__version__} (torch.cuda.is_available() is "
              "False); run this on a GPU machine", file=sys.stderr)
        return 1
    print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}",
          file=sys.stderr)
    return 0


def flags(steps: int | None) -> int:
    """params.yaml's train flags, built by the function the workflow's stage table uses (hyperman.settings.to_argv,
    through hyperman.config.workflow)."""
    import yaml

    from hyperman.config import TrainConfig
    from hyperman.config.workflow import to_argv

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    train = dict(params["train"], device="cuda")
    if steps is not None:
        train["steps"] = min(int(train["steps"]), steps)
    argv, _ = to_argv(TrainConfig, train, "train")
    argv += ["--limit-train", str(params.get("data", {}).get("limit_train", 0))]
    print(shlex.join(argv))
    return 0


def rate(log_path: Path) -> int:
    """Seconds per step between the 10th and the last step of a calibration run (skips CUDA warm-up)."""
    records = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    if len(records) < 20:
        print(f"gpu_check: the calibration run logged only {len(records)} steps", file=sys.stderr)
        return 1
    first, last = records[9], records[-1]
    print(f"{(last['elapsed_s'] - first['elapsed_s']) / (last['step'] - first['step']):.6f}")
    return 0


def _summary(run: Path) -> dict:
    """train_summary.json, or for a run cut short the last checkpointed step's figures from its log."""
    if (run / "train_summary.json").exists():
        return json.loads((run / "train_summary.json").read_text())
    step = _checkpoint_step(run / "hypernet.pt")
    records = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines() if line.strip()]
    records = [r for r in records if r["step"] <= step]
    validated = [r for r in records if "val_acc_mean" in r]
    return {"steps": records[-1]["step"], "train_seconds": records[-1]["elapsed_s"], "forward": "?", "cut_short": True,
            **{k: v for k, v in (validated[-1] if validated else {}).items() if k.startswith("val_")}}


def _checkpoint_step(path: Path) -> int:
    from hyperman import checkpoint

    return checkpoint.load(path, kind="hypernetwork")["step"]


def table(runs: list[Path]) -> int:
    """One line per scanned run (scripts/scan_configs.sh): its flags and figures."""
    print(f"{'run':<14} {'steps':>6} {'s/step':>7} {'val mean':>8} {'scan mean':>9} {'min':>7} {'max':>7} "
          f"{'ens':>7}  {'worst of each 100':<28} flags")
    for run in runs:
        flags = (run / "flags.txt").read_text().strip() if (run / "flags.txt").exists() else ""
        if not (run / "gpu_check.json").exists():
            print(f"{run.name:<14} (no result)  {flags}")
            continue
        r = json.loads((run / "gpu_check.json").read_text())
        steps = f"{r['steps']}{'*' if r.get('cut_short') else ''}"  # *: cut short by the time limit
        print(f"{run.name:<14} {steps:>6} {1 / r['steps_per_s']:>7.4f} {r.get('val_acc_mean', float('nan')):>8.4f} "
              f"{r['score_member_acc_mean']:>9.4f} {r['score_member_acc_min']:>7.4f} {r['score_member_acc_max']:>7.4f} "
              f"{r['score_ensemble_acc']:>7.4f}  {' '.join(f'{v:.4f}' for v in r.get('score_worst_of_100', [])):<28} "
              f"{flags}")
    return 0


def report(out: Path, data: Path, nets: int = 100, limit: int | None = None) -> int:
    """Score `nets` sampled nets of OUT/hypernet on the VALIDATION split (its first `limit` images): a scan is a
    choice between configurations, and choices never read the test set (the study's evaluate reads it once)."""
    import torch

    from hyperman import partial
    from hyperman.data import load_dataset
    from hyperman.forward import Forward
    from hyperman.sampling import generate
    from hyperman.hypernet_io import load_hypernetwork

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # cpu: only for testing this script
    summary = _summary(out / "hypernet")
    partial.allow(summary.get("cut_short", False))  # a run cut by the scan's time limit is scored, marked with *
    model, config = load_hypernetwork(out / "hypernet" / "hypernet.pt", device)
    ds = load_dataset(data, limit_test=1)  # the test split is never scored here
    x, y = torch.from_numpy(ds.val_x[:limit]), torch.from_numpy(ds.val_y[:limit])
    latents = model.sample_latents(nets, config.latent_dist, torch.Generator().manual_seed(1))
    tick = time.perf_counter()
    theta = torch.cat([t for _, t in generate(model, latents, chunk=250, gauge=True, device=device)])
    forward = Forward(model.target, "auto", device)
    probs = forward.probs(theta, x)  # (nets, 10000, 10) on the CPU
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - tick
    member = (probs.argmax(-1) == y).double().mean(1)
    ensemble = (probs.double().mean(0).argmax(-1) == y).double().mean().item()
    result = {
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", "torch": torch.__version__,
        "steps": summary["steps"], "train_seconds": summary["train_seconds"],
        "steps_per_s": summary["steps"] / summary["train_seconds"],
        "image_nets_per_s": summary["steps"] * config.nets_per_step * config.images_per_net / summary["train_seconds"],
        "forward": summary["forward"], "cut_short": summary.get("cut_short", False),
        **{k: v for k, v in summary.items() if k.startswith("val_")},
        "score_nets": nets, "score_images": len(y), "score_member_acc_mean": member.mean().item(),
        "score_member_acc_min": member.min().item(), "score_member_acc_max": member.max().item(),
        "score_ensemble_acc": ensemble, "score_eval_seconds": seconds,
        # the "worst of 100": the worst member of each disjoint group of 100 nets
        "score_worst_of_100": member[:len(member) // 100 * 100].reshape(-1, 100).min(1).values.tolist(),
        "score_image_nets_per_s": nets * len(y) / seconds,
    }
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n== hyperman GPU check on {result['device']} (torch {result['torch']}) ==")
    print(f"training: {result['steps']} steps in {result['train_seconds']:.1f} s = {result['steps_per_s']:.1f} steps/s "
          f"({result['image_nets_per_s']:.0f} image·net/s, forward '{result['forward']}')")
    print(f"validation ({config.eval_nets} nets): member acc mean {result.get('val_acc_mean', float('nan')):.4f} "
          f"min {result.get('val_acc_min', float('nan')):.4f} max {result.get('val_acc_max', float('nan')):.4f}, "
          f"ensemble {result.get('val_ensemble_acc', float('nan')):.4f}")
    print(f"validation ({nets} sampled nets × {len(y)} images): member acc mean {result['score_member_acc_mean']:.4f} "
          f"min {result['score_member_acc_min']:.4f} max {result['score_member_acc_max']:.4f}; ensemble of {nets} "
          f"{ensemble:.4f} ({result['score_image_nets_per_s']:.0f} image·net/s incl. generation)")
    print(f"written: {out / 'gpu_check.json'}")
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "cuda":
        return cuda()
    if command == "flags":
        return flags(int(rest[1]) if rest[:1] == ["--steps"] else None)
    if command == "rate":
        return rate(Path(rest[0]))
    if command == "table":
        return table([Path(p) for p in rest])
    if command == "report":
        return report(Path(rest[0]), Path(rest[1]), *[int(v) for v in rest[2:4]])
    print(f"gpu_check.py: unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
