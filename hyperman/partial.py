"""--allow-partial: using a checkpoint whose run did not finish, and saying so in every output.

Why: a checkpoint written at step 20 of 100 (or after epoch 1 of 3) loads
like a finished one; used silently it gives numbers that look final and are
not. Every consumer refuses such a checkpoint (hyperman.checkpoint.
require_finished) unless the user passes --allow-partial; then the reason is
printed and written as "warnings" into every JSON output and checkpoint the
stage writes (hyperman.files.write_json_atomic, hyperman.checkpoint.save).

Process-wide on purpose: one CLI call runs one stage, and the warning must
reach outputs written deep inside it. Torch-free, so files.py can use it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

_state: dict[str, Any] = {"allowed": False, "warnings": []}


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-partial", action="store_true",
                        help="use input checkpoints whose run did not finish (a warning goes into every output)")


def allow(flag: bool) -> None:
    """Set the policy for this stage and forget the warnings of an earlier one (in-process calls, tests)."""
    _state["allowed"], _state["warnings"] = bool(flag), []


def allowed() -> bool:
    return _state["allowed"]


def note(message: str) -> None:
    if message not in _state["warnings"]:
        _state["warnings"].append(message)
        print(f"warning: {message}", file=sys.stderr, flush=True)


def warnings() -> list[str]:
    return list(_state["warnings"])


def stamp(data: Any) -> Any:
    """`data` with the warnings of this stage added (a dict only, and only when there are any)."""
    if isinstance(data, dict) and _state["warnings"]:
        return {**data, "warnings": [*data.get("warnings", []), *_state["warnings"]]}
    return data
