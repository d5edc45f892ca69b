"""Drawing pieces the claims' figures share; each draws on a given matplotlib Axes."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ntkbench import scaling

MODEL_COLORS = {"NN": "C0", "NTK": "C1", "ENTK": "C2"}


def colors(names) -> dict:
    """One color per name: the models keep theirs in every figure, others take the rest."""
    spare = iter(f"C{i}" for i in range(3, 10))
    return {n: MODEL_COLORS.get(n) or next(spare) for n in names}


def power_laws(ax, ns, curves: dict, fitted=None) -> None:
    """Trial-mean learning curves (points) and their power laws (lines) fitted on the grid
    points `fitted` (a mask; all by default, shaded otherwise), log-log; `curves` maps a label
    to errors of shape (trials, len(ns))."""
    ns = np.asarray(ns)
    fitted = np.ones(len(ns), bool) if fitted is None else np.asarray(fitted)
    if not fitted.all():
        ax.axvspan(ns[fitted].min(), ns[fitted].max(), color="0.92", zorder=0, label="fitted range")
    for (label, errors), color in zip(curves.items(), colors(curves).values()):
        mean = np.asarray(errors).mean(0)
        law = scaling.fit(ns[fitted], mean[fitted])
        ax.loglog(ns[fitted], mean[fitted], "o", color=color, label=f"{label} (beta {law.beta:.3f})")
        ax.loglog(ns[~fitted], mean[~fitted], "o", color=color, markerfacecolor="none")
        ax.loglog(ns[fitted], law.a * ns[fitted] ** -law.beta, "-", color=color, alpha=0.6)
    ax.set_xlabel("training set size n")
    ax.set_ylabel("test error")
    ax.legend()


def t_halfwidth(errors) -> np.ndarray:
    """Half-width of the 95% t-interval of the mean over trials (axis 0)."""
    errors = np.asarray(errors)
    return stats.t.ppf(0.975, len(errors) - 1) * errors.std(0, ddof=1) / np.sqrt(len(errors))


def mean_with_ci(ax, x, errors, **kwargs) -> None:
    """Trial means of `errors` (trials, len(x)) with 95% t-interval bars."""
    errors = np.asarray(errors)
    ax.errorbar(x, errors.mean(0), yerr=t_halfwidth(errors), fmt="o-", capsize=3, **kwargs)


def width_axis(ax, values, label: str = "width") -> None:
    """A log2 x axis ticked at `values` with their plain numbers."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(values), [str(v) for v in values])
    ax.set_xlabel(label)
