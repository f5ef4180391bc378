"""The CLI: every subcommand documents its flags; unknown subcommands fail; python -m works."""

import subprocess
import sys

import pytest

from hyperman import cli

STAGES = ["prepare", "train", "train-baseline", "sample", "evaluate", "distill", "report", "seeds-report",
          "check-params"]


def test_every_pipeline_stage_is_a_subcommand():
    assert set(STAGES) <= set(cli.STAGES)


@pytest.mark.parametrize("stage", sorted(cli.STAGES))
def test_stage_help_exits_zero_and_shows_defaults(stage, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([stage, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: hyperman {stage}" in out
    if stage != "check-params":
        assert "--device" in out or stage in ("prepare", "report", "seeds-report")  # no tensors: no device
    assert "(default:" in out


def test_unknown_subcommand_fails(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["fly"])
    assert exit_info.value.code != 0
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_lists_the_stages():
    result = subprocess.run([sys.executable, "-m", "hyperman", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for stage in STAGES:
        assert stage in result.stdout
