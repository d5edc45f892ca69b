"""A spec's twin in neural-tangents' `stax`, for the oracle tests and benchmarks.

neural-tangents runs only in the oracle environment (jax 0.4.25); it is imported when a
twin is built, never when this module is.
"""

from __future__ import annotations

from ntkbench import models


def stax_twin(spec: models.Spec):
    """(init_fn, apply_fn, kernel_fn) of the same architecture in NTK parameterization.

    Raises:
      TypeError: for a layer that has no twin.
    """
    from neural_tangents import stax

    layers = []
    for layer in spec:
        if isinstance(layer, models.Dense):
            layers.append(stax.Dense(layer.width, layer.W_std, layer.b_std, parameterization="ntk"))
        elif isinstance(layer, (models.Conv, models.Conv1D)):
            layers.append(stax.Conv(layer.width, (3,) * layer.dims, padding="SAME", W_std=layer.W_std,
                                    b_std=layer.b_std, parameterization="ntk"))
        elif isinstance(layer, models.Relu):
            layers.append(stax.Relu())
        elif isinstance(layer, (models.AvgPool, models.AvgPool1D)):
            layers.append(stax.AvgPool((2,) * layer.dims, strides=(2,) * layer.dims))
        elif isinstance(layer, models.GlobalAvgPool):
            layers.append(stax.GlobalAvgPool())
        elif isinstance(layer, models.Flatten):
            layers.append(stax.Flatten())
        else:
            raise TypeError(f"no neural-tangents twin for layer {layer!r}")
    return stax.serial(*layers)
