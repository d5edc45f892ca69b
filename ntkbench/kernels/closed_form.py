"""Closed-form kernels of the RMSE study [I], exactly as its reference code computes them.

Every formula follows the paper's public code, quirks included: the "cosine" of the
arc-cosine recursion is k(x, y) / (k(x) k(y)) without a square root, and that ratio
(not cos of the clipped angle) enters the formulas. All constants are those of the paper
(all sigma_w^2 = sigma_b^2 = 1, c1 = c2 = c_sigma = 2, Laplacian a = 2, b = 6).

References:
  [I] "Issues with Neural Tangent Kernel Approach to Neural Networks", Sec. 3 and its code.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

C1 = C2 = C_SIGMA = 2.0
LAPLACE_A, LAPLACE_B = 2.0, 6.0
NAMES = ("GP1", "GP2", "NTKA1", "NTKA2", "NTKJ1", "NTKJ2", "NTKB1", "NTKB2", "Laplacian")


def _angle(ratio):
    """The reference code's angle: arccos of the ratio, 0 where |ratio| > 1."""
    return np.where(np.abs(ratio) > 1, 0.0, np.arccos(np.clip(ratio, -1.0, 1.0)))


def _arccos_terms(kxy, kx, ky):
    """(H, H') of one ReLU layer from the previous layer's covariances, as in the code."""
    ratio = kxy / (kx[:, None] * ky[None, :])
    delta = _angle(ratio)
    h = np.sqrt(kx[:, None] * ky[None, :]) / (2 * np.pi) * (np.sin(delta) + (np.pi - delta) * ratio)
    return h, (np.pi - delta) / (2 * np.pi)


def reference_kernels(x1: np.ndarray, x2: np.ndarray, names=NAMES) -> dict[str, np.ndarray]:
    """Gram blocks K(x1, x2) of the paper's kernels, in float64, sharing intermediates.

    Args:
      x1, x2: inputs of shape (n1, d) and (n2, d).
      names: which of `NAMES` to return.

    Returns:
      name -> (n1, n2) float64 array.
    """
    unknown = set(names) - set(NAMES)
    if unknown:
        raise ValueError(f"unknown kernel(s) {sorted(unknown)}; known: {NAMES}")
    x1 = np.asarray(x1, np.float64)
    x2 = np.asarray(x2, np.float64)
    d = x1.shape[1]
    dot = x1 @ x2.T
    sq1, sq2 = np.einsum("ij,ij->i", x1, x1), np.einsum("ij,ij->i", x2, x2)
    out = {}
    wanted = set(names)

    if wanted & {"GP1", "GP2", "NTKJ1", "NTKJ2", "NTKB1", "NTKB2"}:
        k0x, k0y, k0xy = 1 + sq1 / d, 1 + sq2 / d, 1 + dot / d
        h1, h1d = _arccos_terms(k0xy, k0x, k0y)
        out["GP1"] = 1 + C1 * h1
        out["NTKB1"] = 1 + C1 * h1 + C1 * h1d + C1 * h1d * dot
        out["NTKJ1"] = k0xy * h1d + h1 + 1
        if wanted & {"GP2", "NTKJ2", "NTKB2"}:
            k1x, k1y, k1xy = 1 + C1 * k0x / 2, 1 + C1 * k0y / 2, 1 + C1 * h1
            h2, h2d = _arccos_terms(k1xy, k1x, k1y)
            out["GP2"] = 1 + C2 * h2
            out["NTKB2"] = (1 + C2 * h2d + C1 * C2 * h2d * h1d + C1 * C2 * dot * h2d * h1d
                            + C1 * C2 * h2d * h1 + C2 * h2)
            out["NTKJ2"] = out["NTKJ1"] * h2d + h2 + 1

    if wanted & {"NTKA1", "NTKA2"}:
        a1, a1d = _arccos_terms(dot, sq1, sq2)
        out["NTKA1"] = C_SIGMA * dot * a1d + C_SIGMA * a1
        a1x, a1y = C_SIGMA * sq1 / 2, C_SIGMA * sq2 / 2
        a2, a2d = _arccos_terms(C_SIGMA * a1, a1x, a1y)
        out["NTKA2"] = C_SIGMA**2 * dot * a1d * a2d + C_SIGMA**2 * a1 * a2d + C_SIGMA * a2

    if "Laplacian" in wanted:
        out["Laplacian"] = LAPLACE_A * np.exp(-cdist(x1, x2) / LAPLACE_B)

    return {name: out[name] for name in names}
