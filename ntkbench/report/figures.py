"""Renders a claim's figures to inline PNG data URIs (the report must open offline)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ntkbench.results import Figure  # noqa: E402


def to_data_uri(figure: Figure) -> str:
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110, layout="constrained")
    try:
        figure.draw(ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
