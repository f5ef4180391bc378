"""Screen trained hypernetworks on the validation split, next to the deep ensemble: what the diversity issue's
sweep chooses from, without the test set.

For every hypernetwork folder: its training FLOPs (train_summary.json), the mean and worst accuracy of N sampled
members, their ensemble's accuracy and NLL (N nets and 5 nets), the members' disagreement, and, as a
secondary column that plays no part in the choice, the AUROC by mutual information of the validation images
against Fashion-MNIST's *training* images (the OOD evaluation uses its test images). The deep ensemble's
baselines are scored the same way. The choice line names the lowest validation ensemble NLL among the runs
whose members reach the floor (params.yaml `sweep.member_floor`), as report/choice.py does.

    python benchmarks/validation_screen.py --data data/mnist --ood data/fashion-mnist \\
        --hypernets results/main/hypernet runs/* --baselines results/baselines/seed{0,1,2,3,4}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from hyperman import api, metrics  # noqa: E402
from hyperman.data import load_dataset  # noqa: E402


@torch.no_grad()
def score(model: api.Model, x: torch.Tensor, y: torch.Tensor, ood: torch.Tensor, nets: int) -> dict:
    """Validation figures of `nets` members of `model` and of their ensemble (and of its first 5)."""
    pred = model.predict(x, n=nets, seed=12345)
    members = pred.member_probs
    member_acc = (members.argmax(-1) == y).double().mean(1)
    five = members[:5].mean(0)
    out = model.predict(ood, n=nets, seed=12345)
    return {"nets": len(members), "member_mean": member_acc.mean().item(), "member_min": member_acc.min().item(),
            "ensemble_acc": (pred.classes == y).double().mean().item(),
            "ensemble_nll": float(metrics.nll(pred.probs, y)),
            "ensemble5_nll": float(metrics.nll(five, y)),
            "disagreement": float(metrics.disagreement(members)),
            "ood_auroc_mi": metrics.ood_auroc(pred.mutual_information, out.mutual_information)}


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data/mnist")
    parser.add_argument("--ood", type=Path, default=ROOT / "data/fashion-mnist")
    parser.add_argument("--hypernets", type=Path, nargs="*", default=[])
    parser.add_argument("--baselines", type=Path, nargs="*", default=[])
    parser.add_argument("--nets", type=int, default=100)
    parser.add_argument("--ood-images", type=int, default=2000)
    parser.add_argument("--member-floor", type=float, default=0.985)
    args = parser.parse_args(argv)
    if not args.hypernets:
        parser.error("name at least one trained hypernetwork folder with --hypernets")
    data = load_dataset(args.data)
    x, y = torch.from_numpy(data.val_x), torch.from_numpy(data.val_y)
    ood = torch.from_numpy(load_dataset(args.ood).train_x[: args.ood_images])
    rows = []
    if args.baselines:
        rows.append({"run": "deep ensemble", "tflops": None, **score(api.load(args.baselines), x, y, ood, len(args.baselines))})
    for folder in args.hypernets:
        summary = json.loads((folder / "train_summary.json").read_text())
        rows.append({"run": folder.name, "tflops": summary["compute"]["train_flops"] / 1e12,
                     **score(api.load(folder), x, y, ood, args.nets)})
    head = ("run", "tflops", "nets", "member_mean", "member_min", "ensemble_acc", "ensemble_nll", "ensemble5_nll",
            "disagreement", "ood_auroc_mi")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for row in rows:
        cells = [row["run"], "–" if row["tflops"] is None else f"{row['tflops']:.1f}", str(row["nets"])]
        cells += [f"{100 * row[k]:.2f}" for k in ("member_mean", "member_min", "ensemble_acc")]
        cells += [f"{row[k]:.4f}" for k in ("ensemble_nll", "ensemble5_nll", "disagreement", "ood_auroc_mi")]
        print("| " + " | ".join(cells) + " |")
    eligible = [r for r in rows if r["tflops"] is not None and r["member_mean"] >= args.member_floor]
    best = min(eligible, key=lambda r: r["ensemble_nll"], default=None)
    print(f"\nchoice (lowest validation ensemble NLL, members ≥ {args.member_floor:.3f}): "
          + (best["run"] if best else "none reaches the floor"))
    return {"rows": rows, "choice": best["run"] if best else None}


if __name__ == "__main__":
    main()
