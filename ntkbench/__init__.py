"""ntkbench: re-runs published experiments on the limits of the Neural Tangent Kernel."""

__version__ = "0.1.0"
