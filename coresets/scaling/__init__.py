"""Scaling curves: does a chosen subset beat a random one of the same size?

``scaling_curve`` trains a plugged-in :class:`Trainer` on every method's subset at every
size and seed; ``fit_power_law`` and ``data_efficiency`` summarise the table,
``plot_scaling`` draws it and ``write_report`` writes the Markdown report.
``run_scaling`` is the whole pipeline behind ``coresets scaling``. Methods are named
through :mod:`coresets.selectors.registry`.
"""

from .datasets import DATASETS, ClassificationData, load_dataset, load_mnist1d
from .efficiency import data_efficiency, paired_gain
from .experiment import Method, ScalingResult, scaling_curve
from .features import proxy_features, selection_features
from .plots import plot_scaling
from .powerlaw import PowerLawFit, fit_power_law
from .proxy import OutputRecorder, ProxyRun, proxy_run, proxy_trainer
from .report import fit_all, render_report, write_report
from .run import run_scaling
from .trainers import (
    TemperatureScaled,
    TorchClassifierTrainer,
    Trainer,
    default_trainer,
    mlp,
    mnist1d_cnn,
)

__all__ = [
    "DATASETS",
    "ClassificationData",
    "Method",
    "OutputRecorder",
    "PowerLawFit",
    "ProxyRun",
    "ScalingResult",
    "TemperatureScaled",
    "TorchClassifierTrainer",
    "Trainer",
    "data_efficiency",
    "paired_gain",
    "default_trainer",
    "fit_all",
    "fit_power_law",
    "load_dataset",
    "load_mnist1d",
    "mlp",
    "mnist1d_cnn",
    "plot_scaling",
    "proxy_features",
    "proxy_run",
    "proxy_trainer",
    "render_report",
    "run_scaling",
    "scaling_curve",
    "selection_features",
    "write_report",
]
