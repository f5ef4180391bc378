"""Train a hypernetwork G(z) → θ for accuracy and diversity: loss = λ·CE − Ĥ_weights − β·Ĥ_function.

Writes OUT/hypernet.pt (atomic checkpoint: G, optimizer, step, RNG state,
config), OUT/train_log.jsonl (one JSON line per step; validation figures
every --eval-every steps) and OUT/train_summary.json. --resume continues a
stopped run exactly. The defaults are the paper's settings (use a GPU);
params.yaml holds the faster CPU default.

Data-parallel: `torchrun --nproc-per-node N -m hyperman train ...` splits the
nets of every step over N processes (--nets-per-step must divide by N) and
gives the same weights as one process; rank 0 writes the outputs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import optional_limit, pixels
from ..checkpoint import CheckpointError
from ..data import DataError
from ..device import PRECISIONS
from ..targets import FORWARD_METHODS
from ..hypernetwork import NORMS
from ..objective import DISTANCES, DIVERSITY_MODES, PROBE_FAMILIES, WEIGHT_ENTROPIES, diversity_mode
from ..training import TrainConfig, TrainingError, train

D = TrainConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset folder (hyperman prepare)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--target", default=D.target, choices=["mnist_cnn", "cifar_cnn"], help="target network")
    parser.add_argument("--steps", type=int, default=D.steps, help="training steps")
    parser.add_argument("--nets-per-step", type=int, default=D.nets_per_step, help="generated nets per step (B)")
    parser.add_argument("--images-per-net", type=int, default=D.images_per_net, help="own mini-batch of each net")
    parser.add_argument("--lambda", dest="lam", type=float, default=D.lam, help="weight λ of the CE term")
    parser.add_argument("--lambda-schedule", default=D.lambda_schedule, choices=["constant", "linear", "exponential"],
                        help="λ constant, or moving from --lambda-start to --lambda over the run")
    parser.add_argument("--lambda-start", type=float, default=D.lambda_start, help="λ at step 0 for a schedule")
    parser.add_argument("--lambda-anneal", type=float, default=D.lambda_anneal, metavar="FRACTION",
                        help="a schedule reaches --lambda after this fraction of the steps and holds it")
    parser.add_argument("--lr", type=float, default=D.lr, help="Adam learning rate")
    parser.add_argument("--lr-decay", type=float, default=D.lr_decay, help="learning-rate multiplier per step")
    parser.add_argument("--latent-dim", type=int, default=D.latent_dim, help="dim(z); also the entropy's d")
    parser.add_argument("--latent-dist", default=D.latent_dist, choices=["uniform", "normal"],
                        help="z ~ U[-1,1]^d or N(0,I)")
    parser.add_argument("--distance", default=D.distance, choices=DISTANCES, help="distance of the weight entropy")
    parser.add_argument("--diversity", type=diversity_mode, default=D.diversity, choices=DIVERSITY_MODES,
                        help="entropy terms: weights (gauge-fixed weights, the paper's), function (outputs on "
                             "probe inputs), both, or none (CE alone, the λ→∞ ablation); true/false = weights/none")
    parser.add_argument("--function-weight", type=float, default=D.function_weight, metavar="BETA",
                        help="β of the function-space entropy (β·d is the issue-13 prototype's β)")
    parser.add_argument("--probes", type=int, default=D.probes, help="probe inputs shared by a step's nets")
    parser.add_argument("--probe-family", default=D.probe_family, choices=PROBE_FAMILIES,
                        help="probes: mixup of two training images, uniform noise, or strongly shifted images")
    parser.add_argument("--function-dim", type=int, default=D.function_dim,
                        help="dimension d of the function-space estimator (0: min(latent dim, probes·(classes−1)))")
    parser.add_argument("--function-distance", default=D.function_distance, choices=DISTANCES,
                        help="distance between the nets' probe outputs")
    parser.add_argument("--weight-entropy", default=D.weight_entropy, choices=WEIGHT_ENTROPIES,
                        help="joint: one entropy of the whole weight vector; per_layer: one per layer, summed")
    parser.add_argument("--entropy-queue", type=int, default=D.entropy_queue, metavar="NETS",
                        help="keep the gauge-fixed nets of recent steps as extra neighbours of the weight "
                             "entropy (0: off)")
    parser.add_argument("--norm", default=D.norm, choices=list(NORMS),
                        help="normalisation of the hypernetwork's hidden layers (batch: the paper's; layer: "
                             "the same function when training and sampling)")
    parser.add_argument("--eval-every", type=int, default=D.eval_every, help="validate every N steps")
    parser.add_argument("--eval-nets", type=int, default=D.eval_nets, help="nets sampled for validation")
    parser.add_argument("--checkpoint-every", type=int, default=D.checkpoint_every, help="checkpoint every N steps")
    parser.add_argument("--seed", type=int, default=D.seed, help="random seed")
    parser.add_argument("--forward", default=D.forward, choices=list(FORWARD_METHODS),
                        help="batched target forward (auto: channels_last loop on CPU, grouped on GPU)")
    parser.add_argument("--augment-shift", type=pixels, default=D.augment_shift, metavar="PIXELS",
                        help="translate every training image by a random offset of up to PIXELS (0: off)")
    parser.add_argument("--precision", default=D.precision, choices=list(PRECISIONS),
                        help="the target forward's precision (auto: bf16 on a GPU, fp32 on the CPU); "
                             "G, gauge fixing and entropy always run in fp32")
    parser.add_argument("--ema", type=float, default=D.ema, metavar="DECAY",
                        help="keep an exponential moving average of G's weights with this decay per step and "
                             "use it for validation and the checkpoint (0: off; 0.998 averages ~500 steps)")
    parser.add_argument("--limit-train", type=optional_limit, default=None, help="use only the first N training images (0: all)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="where to train; under torchrun each process takes cuda:LOCAL_RANK (nccl) "
                             "or the CPU (gloo)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/hypernet.pt if it exists")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**{name: getattr(args, name) for name in TrainConfig.__dataclass_fields__})


def run(args: argparse.Namespace) -> int:
    try:
        summary = train(config_from_args(args), args.data, args.out, args.device, args.resume)
    except (TrainingError, CheckpointError, DataError, ValueError, RuntimeError) as error:
        print(f"hyperman train: error: {error}", file=sys.stderr)
        return 1
    print(f"trained {summary['steps']} steps in {summary['train_seconds']:.0f} s "
          f"({summary['seconds_per_step']:.3f} s/step)", file=sys.stderr)
    return 0
