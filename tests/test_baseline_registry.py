"""The baseline registry (hyperman.baseline_registry): one entry per model, read by the CLI, outputs and the
report; torch-free; every dotted path it names resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hyperman import baseline_registry as registry
from hyperman import cli, outputs


def test_the_registry_imports_no_torch():
    code = ("import sys; import hyperman.baseline_registry as r; r.entries(); import hyperman.outputs, hyperman.cli; "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:3]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_dotted_path_resolves():
    for entry in registry.entries():
        if entry.stage:
            module = __import__(entry.stage, fromlist=["run"])
            assert callable(module.add_arguments) and callable(module.run), entry.name
        for dotted in (entry.loader, entry.config):
            if dotted:
                assert registry.resolve(dotted) is not None, (entry.name, dotted)


def test_consumers_read_the_registry():
    assert outputs.MODEL_NAMES == tuple(e.name for e in registry.entries() if e.compared)
    assert outputs.HEADLINE == outputs.MODEL_NAMES[0] == "hypernet_ensemble"
    assert {e.command for e in registry.staged()} <= set(cli.stages())
    evidence = {table for e in registry.entries() for table in e.evidence}
    assert evidence == set(outputs.EVIDENCE_TABLES) and evidence <= set(outputs.TABLES)


def test_register_refuses_clashes_and_unregister_keeps_builtins():
    toy = registry.Baseline("toy_registry_net", "toy", "#000000", "x", command="toy-registry")
    try:
        assert registry.register(toy) is toy and registry.register(toy) is toy  # the same entry again: no-op
        assert "toy_registry_net" in outputs.MODEL_NAMES and "toy-registry" in cli.stages()
        with pytest.raises(registry.RegistryError, match="twice"):
            registry.register(registry.Baseline("toy_registry_net", "other", "#000000", "x"))
        with pytest.raises(registry.RegistryError, match="command 'train-snapshot'"):
            registry.register(registry.Baseline("toy_two", "t", "#000000", "x", command="train-snapshot"))
        with pytest.raises(registry.RegistryError, match="both"):
            registry.register(registry.Baseline("toy_three", "t", "#000000", "x", evaluate_flag="toy"))
    finally:
        registry.unregister("toy_registry_net")
    assert "toy_registry_net" not in outputs.MODEL_NAMES
    with pytest.raises(registry.RegistryError, match="built-in"):
        registry.unregister("deep_ensemble")
    assert registry.get("snapshot_ensemble").output_file() == "results/baselines/snapshot/snapshots.pt"
    assert registry.get("single_net").output_folder(seed=3) == "results/baselines/seed3"


def test_a_module_in_the_plugin_package_registers_itself(tmp_path, monkeypatch):
    """What README's "A new baseline" promises: a file in hyperman/baselines/ is found and registered with no
    other edit (here the package's search path points at a temporary folder holding the toy module)."""
    import hyperman.baselines

    (tmp_path / "toy_plugin.py").write_text(
        "from hyperman.baseline_registry import Baseline, register\n"
        "register(Baseline('toy_plugin_net', 'toy plug-in', '#123456', 'x', command='toy-plugin', stage=__name__))\n")
    monkeypatch.setattr(hyperman.baselines, "__path__", [str(tmp_path)])
    monkeypatch.setattr(registry, "_discovered", False)
    try:
        assert registry.get("toy_plugin_net").stage == "hyperman.baselines.toy_plugin"
        assert cli.stages()["toy-plugin"][0] == "hyperman.baselines.toy_plugin"
    finally:
        registry.unregister("toy_plugin_net")
        sys.modules.pop("hyperman.baselines.toy_plugin", None)
