"""Plug-in baselines: a module here registers its baseline (hyperman.baseline_registry.register) when imported.

hyperman.baseline_registry.entries() imports every module of this package once, so a new baseline needs no
edit anywhere else in the package. Keep a module's top level free of torch (import it inside the functions
its entry names): the workflow reads the registry to plan, and planning imports no torch.
"""
