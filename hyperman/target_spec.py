"""Target specs: any plain conv/fc classifier described by its layers, in params.yaml or on one flag.

Why: the target used to be one of three hand-built nets. A spec says what a
plain CNN is made of (the input's channels × height × width; convolutions with
units, an odd kernel, SAME padding, ReLU and a max-pool factor; dense layers
with units), and hyperman.targets builds the `Target` from it, so G's per-layer
generators, the gauge fixing, the FLOP count and the baselines all follow from
the same layers. The classifier's last dense layer (one unit per class) is not
part of the spec: the classes follow from the dataset.

Two forms, one meaning (`parse` and `TargetSpec.text` round-trip):

- params.yaml: ``{input: [1, 28, 28], conv: [{units: 32, kernel: 5, pool: 2}, ...], dense: [{units: 8}]}``
  (``pool`` defaults to 1, ``dense`` to none);
- a flag (what the workflow passes the stages): ``conv32k5p2-conv16k5p2-fc8@1x28x28``.

The registered names (``mnist_cnn``, ``lenet5``, ``cifar_cnn``) are specs too
(`REGISTRY`); a spec equal to a registered one is called by that name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import ConfigError

FORMAT_HINT = ("a registered name or a spec such as conv32k5p2-conv16k5p2-fc8@1x28x28 (convolutions: units, odd "
               "kernel, pool; dense: units; @ channels x height x width)")


class TargetSpecError(ConfigError):
    """A target spec that names no buildable net; the message says what is wrong and how to write it."""


@dataclass(frozen=True)
class Conv:
    """A SAME-padded convolution with `units` output channels, ReLU, then a `pool` × `pool` max-pool (1: none)."""

    units: int
    kernel: int
    pool: int = 1

    def text(self) -> str:
        return f"conv{self.units}k{self.kernel}p{self.pool}"


@dataclass(frozen=True)
class Dense:
    """A fully connected hidden layer with ReLU."""

    units: int

    def text(self) -> str:
        return f"fc{self.units}"


@dataclass(frozen=True)
class TargetSpec:
    input: tuple[int, int, int]  # channels, height, width
    conv: tuple[Conv, ...]
    dense: tuple[Dense, ...] = ()

    def text(self) -> str:
        """The compact flag form; `parse(spec.text()) == spec`."""
        layers = "-".join(layer.text() for layer in (*self.conv, *self.dense))
        return f"{layers}@{'x'.join(map(str, self.input))}"

    def mapping(self) -> dict[str, Any]:
        """The params.yaml form; `parse(spec.mapping()) == spec`."""
        return {"input": list(self.input),
                "conv": [{"units": c.units, "kernel": c.kernel, "pool": c.pool} for c in self.conv],
                "dense": [{"units": d.units} for d in self.dense]}

    def maps(self) -> list[tuple[int, int]]:
        """(height, width) after each convolution's pooling."""
        _, h, w = self.input
        out = []
        for layer in self.conv:
            h, w = h // layer.pool, w // layer.pool
            out.append((h, w))
        return out


# The registry: every registered target is a spec (hyperman.targets builds them all the same way).
REGISTRY: dict[str, TargetSpec] = {
    # The reference target of both papers: 20,018 parameters, no batch norm.
    "mnist_cnn": TargetSpec((1, 28, 28), (Conv(32, 5, 2), Conv(16, 5, 2)), (Dense(8),)),
    # A small plain CNN of the same family for 32×32×3 inputs (HyperGAN-style).
    "cifar_cnn": TargetSpec((3, 32, 32), (Conv(32, 3, 2), Conv(64, 3, 2), Conv(64, 3, 2)), (Dense(128),)),
    # The field's reference target (benchmarks/lenet5_reference.py calibrates our baseline against its published
    # table). Conv 5×5 × 6 and × 16, each ReLU and max-pool 2; dense 120, 84; both convolutions SAME-padded, so
    # 28 → 14 → 7 and dense 120 reads 16·7·7 = 784 features: 107,786 parameters, 1.39 MFLOP per image.
    # - torch-uncertainty's `lenet` has the same layers but VALID convolutions (28 → 24 → 12 → 8 → 4, dense 120
    #   reads 256 features): 44,426 parameters. Ours sees the border pixels and has a wider first dense layer.
    # - uncertainty-baselines' `lenet5` (whose table we compare with) pads SAME as ours, but its third layer is a
    #   5×5 convolution with 120 filters on the 7×7×16 map (5,880 features) instead of dense 120: about 545k
    #   parameters. A spec can express it (conv120k5p1 before fc84); `lenet5` keeps dense 120, as
    #   torch-uncertainty and the classic LeNet-5 (whose C5 is a 5×5 convolution on a 5×5 map) have it.
    "lenet5": TargetSpec((1, 28, 28), (Conv(6, 5, 2), Conv(16, 5, 2)), (Dense(120), Dense(84))),
}

TARGET_HELP = ("target network: a registered name (" + ", ".join(REGISTRY) + ") or a spec, "
               "e.g. conv32k5p2-conv16k5p2-fc8@1x28x28 (convUNITSkKERNELpPOOL, fcUNITS, @CxHxW; README)")

_CONV = re.compile(r"conv(\d+)k(\d+)(?:p(\d+))?")
_DENSE = re.compile(r"fc(\d+)")
_INPUT = re.compile(r"(\d+)x(\d+)x(\d+)")


def _bad(value: Any, why: str) -> TargetSpecError:
    error = TargetSpecError(f"target {value!r}: {why}; write {FORMAT_HINT}")
    error.why = why
    return error


def _from_text(text: str) -> TargetSpec:
    layers, at, shape = text.partition("@")
    if not at:
        raise _bad(text, f"no spec (no input shape after '@') and no registered target (registered targets: "
                         f"{', '.join(REGISTRY)})")
    match = _INPUT.fullmatch(shape)
    if not match:
        raise _bad(text, f"input shape {shape!r} is not CxHxW")
    conv, dense = [], []
    for part in layers.split("-"):
        if (m := _CONV.fullmatch(part)) and not dense:
            conv.append(Conv(int(m[1]), int(m[2]), int(m[3]) if m[3] is not None else 1))
        elif m := _DENSE.fullmatch(part):
            dense.append(Dense(int(m[1])))
        elif _CONV.fullmatch(part):
            raise _bad(text, f"convolution {part!r} after a dense layer")
        else:
            raise _bad(text, f"layer {part!r} is neither convKkKpP nor fcN")
    return TargetSpec(tuple(int(g) for g in match.groups()), tuple(conv), tuple(dense))


def _integer(value: Any, where: str, original: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(original, f"{where} must be a whole number, got {value!r}")
    return value


def _from_mapping(value: Mapping, original: Any) -> TargetSpec:
    stray = sorted(set(value) - {"input", "conv", "dense"})
    if stray:
        raise _bad(original, f"unknown key(s) {', '.join(map(str, stray))}; allowed: input, conv, dense")
    shape = value.get("input")
    if not isinstance(shape, (list, tuple)) or len(shape) != 3:
        raise _bad(original, "input must be [channels, height, width]")
    convs, dense = value.get("conv") or [], value.get("dense") or []
    if not isinstance(convs, (list, tuple)) or not isinstance(dense, (list, tuple)):
        raise _bad(original, "conv and dense must be lists of layers")
    conv_layers = []
    for i, layer in enumerate(convs, 1):
        if not isinstance(layer, Mapping) or not {"units", "kernel"} <= set(layer) <= {"units", "kernel", "pool"}:
            raise _bad(original, f"conv layer {i} must be {{units, kernel[, pool]}}, got {layer!r}")
        conv_layers.append(Conv(*(_integer(layer[k], f"conv layer {i}'s {k}", original)
                                  for k in ("units", "kernel", "pool") if k in layer)))
    dense_layers = []
    for i, layer in enumerate(dense, 1):
        if not isinstance(layer, Mapping) or set(layer) != {"units"}:
            raise _bad(original, f"dense layer {i} must be {{units}}, got {layer!r}")
        dense_layers.append(Dense(_integer(layer["units"], f"dense layer {i}'s units", original)))
    return TargetSpec(tuple(_integer(n, "input", original) for n in shape), tuple(conv_layers), tuple(dense_layers))


def _check(spec: TargetSpec, original: Any) -> TargetSpec:
    """Refuse what cannot be built: sizes below 1, even kernels, pooling below 1×1, no convolution."""
    if min(spec.input) < 1:
        raise _bad(original, f"input {'x'.join(map(str, spec.input))} has a size below 1")
    if not spec.conv:
        raise _bad(original, "a target needs at least one convolution (the batched forward starts with one)")
    for i, layer in enumerate(spec.conv, 1):
        if layer.units < 1 or layer.pool < 1:
            raise _bad(original, f"conv layer {i} needs units >= 1 and pool >= 1, got units {layer.units}, "
                       f"pool {layer.pool}")
        if layer.kernel < 1 or layer.kernel % 2 == 0:
            raise _bad(original, f"conv layer {i}'s kernel {layer.kernel} must be odd and >= 1 (SAME padding keeps "
                       "the map's size only for an odd kernel)")
    for i, (h, w) in enumerate(spec.maps(), 1):
        if h < 1 or w < 1:
            raise _bad(original, f"conv layer {i}'s pool {spec.conv[i - 1].pool} shrinks the image below 1x1; use "
                       "smaller pools or fewer pooled layers")
    for i, layer in enumerate(spec.dense, 1):
        if layer.units < 1:
            raise _bad(original, f"dense layer {i} needs units >= 1, got {layer.units}")
    return spec


def parse(value: str | Mapping | TargetSpec) -> tuple[str, TargetSpec]:
    """(name, spec) of a registered name, a compact spec, a JSON mapping or a params.yaml mapping.

    The name is the registered one when the spec equals a registered spec, else the compact text:
    what checkpoints store, and all `hyperman.targets.get_target` needs to rebuild the net."""
    if isinstance(value, TargetSpec):
        spec = _check(value, value.text())
    elif isinstance(value, str) and value in REGISTRY:
        return value, REGISTRY[value]
    elif isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            mapping = json.loads(value)
        except json.JSONDecodeError as error:
            raise _bad(value, f"not valid JSON ({error.msg})") from None
        if not isinstance(mapping, Mapping):
            raise _bad(value, "not a mapping")
        spec = _check(_from_mapping(mapping, value), value)
    elif isinstance(value, str):
        spec = _check(_from_text(value.strip()), value)
    elif isinstance(value, Mapping):
        spec = _check(_from_mapping(value, dict(value)), dict(value))
    else:
        raise _bad(value, "not a name, a string or a mapping")
    for name, registered in REGISTRY.items():
        if registered == spec:
            return name, spec
    return spec.text(), spec


def flag_text(value: str | Mapping) -> str:
    """What the workflow passes as --target for a params.yaml value: a name stays a name, a spec becomes text."""
    name, _ = parse(value)
    return name


def problem(value: Any, where: str) -> str | None:
    """Why `value` is no target (None when it is one): hyperman.settings.check calls this for --target."""
    try:
        parse(value)
    except TargetSpecError as error:
        return f"{where} {value!r}: {error.why}; write {FORMAT_HINT}"
    return None
