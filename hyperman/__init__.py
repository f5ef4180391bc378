"""hyperman: train a hypernetwork that generates accurate and diverse weights, sample
ensembles from it, evaluate them against baselines, and distil them into one network.

Importing the package has no side effects; each stage lives in its own module
and is also a CLI subcommand (`hyperman --help`)."""

__version__ = "0.1.0"
