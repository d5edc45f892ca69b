"""The vectorised closed forms of [I] against a pair-by-pair transcription of the formulas."""

import math

import numpy as np
import pytest

from ntkbench.kernels.closed_form import NAMES, reference_kernels


def _pair(x, y, name):
    """Element-by-element transcription of docs/rmse-reference-protocol.md (d = 15 here: x.size)."""
    d = x.size
    c1 = c2 = cs = 2.0
    dot = float(x @ y)

    def arccos_terms(kxy, kx, ky):
        cos = kxy / (kx * ky)
        delta = 0.0 if abs(cos) > 1 else math.acos(cos)
        h = math.sqrt(kx * ky) / (2 * math.pi) * (math.sin(delta) + (math.pi - delta) * cos)
        return h, (math.pi - delta) / (2 * math.pi)

    k0x, k0y, k0xy = 1 + x @ x / d, 1 + y @ y / d, 1 + dot / d
    h1, h1d = arccos_terms(k0xy, k0x, k0y)
    k1x, k1y = 1 + c1 * k0x / 2, 1 + c1 * k0y / 2
    k1xy = 1 + c1 * h1  # = 1 + c1 / (2 pi) sqrt(k0x k0y) (sin d0 + (pi - d0) cos d0)
    h2, h2d = arccos_terms(k1xy, k1x, k1y)
    ax, ay = x @ x, y @ y
    a1, a1d = arccos_terms(dot, ax, ay)
    a2, a2d = arccos_terms(cs * a1, cs * ax / 2, cs * ay / 2)
    ntkj1 = k0xy * h1d + h1 + 1
    return {
        "GP1": 1 + c1 * h1,
        "GP2": 1 + c2 * h2,
        "NTKB1": 1 + c1 * h1 + c1 * h1d + c1 * h1d * dot,
        "NTKB2": (1 + c2 * h2d + c1 * c2 * h2d * h1d + c1 * c2 * dot * h2d * h1d
                  + c1 * c2 * h2d * h1 + c2 * h2),
        "NTKJ1": ntkj1,
        "NTKJ2": ntkj1 * h2d + h2 + 1,
        "NTKA1": cs * dot * a1d + cs * a1,
        "NTKA2": cs**2 * dot * a1d * a2d + cs**2 * a1 * a2d + cs * a2,
        "Laplacian": 2 * math.exp(-math.sqrt(np.sum((x - y) ** 2)) / 6),
    }[name]


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    x = rng.uniform(-5, 7, size=(12, 15))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("name", NAMES)
def test_matches_pairwise_formula(points, name):
    got = reference_kernels(points[:7], points[7:], names=(name,))[name]
    want = np.array([[_pair(a, b, name) for b in points[7:]] for a in points[:7]])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_gram_is_symmetric(points, name):
    k = reference_kernels(points, points, names=(name,))[name]
    np.testing.assert_allclose(k, k.T, rtol=1e-13)


@pytest.mark.parametrize("name", ["GP1", "GP2", "NTKA1", "NTKA2", "NTKJ1", "NTKJ2", "Laplacian"])
def test_gram_is_psd(points, name):
    """Kernels that are covariances of some process have PSD Gram matrices.

    (NTKB, with the code's un-square-rooted cosine, is not claimed PSD; the reference
    samples from it with an SVD that tolerates that.)
    """
    k = reference_kernels(points, points, names=(name,))[name]
    assert np.linalg.eigvalsh(k).min() > -1e-10 * np.abs(k).max()


def test_unknown_kernel_is_named(points):
    with pytest.raises(ValueError, match="NTKZ"):
        reference_kernels(points, points, names=("NTKZ",))
