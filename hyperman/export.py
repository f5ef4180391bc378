"""`hyperman export`: N nets of a model as files that need no hyperman to run.

Why three formats: a user who only has torch wants a program to load
(`pt`: a `torch.export` program, `torch.export.load(path).module()(x)`), one
who builds their own modules wants the weights and the shapes (`safetensors`:
every net's nn.Sequential state dict under `net<i>.`, the layers as JSON in
the metadata), and one who deploys outside Python wants one graph
(`onnx`: run by onnxruntime). The pt and onnx files hold the whole ensemble
(hyperman.modules.Ensemble): images (N, C, H, W) float32 in [0, 1] → mean
probabilities (N, classes) and mutual information (N,), any N.
tests/test_export.py reloads each without hyperman and matches `Model.predict`
to 1e-5. Every file is written to a temporary sibling and renamed into place.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import partial
from .api import load
from .files import check_out_file
from .modules import Ensemble, layer_spec, target_net
from .settings import path_setting, setting

FORMATS = ("pt", "safetensors", "onnx")
INPUT, OUTPUTS = "images", ("probs", "mutual_information")


@dataclass
class ExportConfig:
    """`hyperman export`'s settings (hyperman.settings: the flags are generated from these fields)."""

    checkpoint: list[Path] = path_setting("the model: hypernet.pt (or its run folder), baseline.pt, student.pt, "
                                          "snapshots.pt, noise_ensemble.pt, several baseline.pt files (a deep "
                                          "ensemble) or a folder of baseline runs")
    out: Path = path_setting("file to write (e.g. ensemble.pt2, ensemble.safetensors, ensemble.onnx)")
    format: str = setting("pt", "pt: a torch.export program of the ensemble (torch.export.load(OUT).module()(x) → "
                                "mean probabilities, mutual information); safetensors: every net's weights "
                                "(net<i>.<layer>.weight/bias of an nn.Sequential) with the layers and input shape "
                                "as JSON in the metadata; onnx: one ONNX graph of the ensemble with the same two "
                                "outputs", choices=FORMATS, param=False)
    num_nets: int | None = setting(None, "nets to export (0: 100 drawn from a hypernetwork, every net of a fixed "
                                         "set)", minimum=1, param=False)
    seed: int = setting(0, "seed of the latent draw (a hypernetwork only): the same seed gives the nets that "
                           "`hyperman predict --seed` uses", minimum=0, param=False)


def export(config: ExportConfig, log: Callable[[str], None] | None = None) -> dict:
    """Write config.out in config.format; returns the metadata stored with it."""
    log = log or (lambda message: None)
    out = check_out_file(config.out)
    model = load(config.checkpoint, "cpu", allow_partial=partial.allowed())
    nets = model.count(config.num_nets)
    theta = model.sample(nets, config.seed).theta.cpu()
    ensemble = Ensemble([target_net(model.target, t) for t in theta]).eval()
    meta = {"format": "hyperman-ensemble-v1", "kind": model.kind, "target": model.target.name,
            "input_shape": list(model.target.input_shape), "num_nets": nets,
            "seed": config.seed if model.size is None else None, "layers": layer_spec(model.target),
            "checkpoint": model.sources, "input": "float32 (N, C, H, W), pixels / 255 (MNIST: white on black)",
            "outputs": "mean softmax probabilities (N, classes), mutual information in nats (N,)",
            "warnings": partial.warnings()}
    writer = {"pt": _pt, "safetensors": _safetensors, "onnx": _onnx}[config.format]
    log(f"exporting {nets} nets of {model.kind} ({model.target.name}) as {config.format}")
    _atomic(out, lambda tmp: writer(ensemble, meta, tmp))
    return meta


def _example(meta: dict) -> torch.Tensor:
    return torch.rand(2, *meta["input_shape"], generator=torch.Generator().manual_seed(0))


def _batch_dim() -> dict:
    return {"x": {0: torch.export.Dim("batch")}}


def _pt(ensemble: Ensemble, meta: dict, path: Path) -> None:
    program = torch.export.export(ensemble, (_example(meta),), dynamic_shapes=_batch_dim())
    torch.export.save(program, path, extra_files={"hyperman.json": json.dumps(meta)})


def _safetensors(ensemble: Ensemble, meta: dict, path: Path) -> None:
    from safetensors.torch import save_file

    tensors = {f"net{i}.{name}": value.contiguous() for i, net in enumerate(ensemble.nets)
               for name, value in net.state_dict().items()}
    save_file(tensors, str(path), metadata={key: json.dumps(value) for key, value in meta.items()})


def _onnx(ensemble: Ensemble, meta: dict, path: Path) -> None:
    import onnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals are not the user's business
        program = torch.onnx.export(ensemble, (_example(meta),), dynamo=True, input_names=[INPUT],
                                    output_names=list(OUTPUTS), dynamic_shapes=_batch_dim(), verbose=False)
    graph = program.model_proto
    for key, value in meta.items():
        graph.metadata_props.add(key=key, value=json.dumps(value))
    onnx.save(graph, str(path))


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """write(tmp) into a temporary sibling of path, then rename it over path: never a half-written export."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temporary name keeps the suffix: torch.export.save warns about a name not ending in .pt2
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


__all__ = ["ExportConfig", "export", "FORMATS"]
