"""hyperman: train a hypernetwork that generates accurate and diverse weights, sample
ensembles from it, evaluate them against baselines, and distil them into one network.

Importing the package has no side effects; each stage lives in its own module
and is also a CLI subcommand (`hyperman --help`)."""

__version__ = "0.1.0"

# The public API (hyperman.api), imported on first use so that `import hyperman` stays light (no torch).
_API = {"load": "hyperman.api", "Model": "hyperman.api", "Prediction": "hyperman.api",
        "read_inputs": "hyperman.user_images"}


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'hyperman' has no attribute {name!r}")


__all__ = ["__version__", *_API]
