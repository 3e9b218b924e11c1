"""Scaling curves: does a chosen subset beat a random one of the same size?

``scaling_curve`` trains a plugged-in :class:`Trainer` on every method's subset at every
size and seed; ``fit_power_law`` and ``data_efficiency`` summarise the table and
``plot_scaling`` draws it with a Markdown report beside the PNG.
"""

from .datasets import DATASETS, ClassificationData, load_dataset, load_mnist1d
from .efficiency import data_efficiency
from .experiment import (
    METHODS,
    Method,
    ScalingResult,
    make_selector,
    register_method,
    scaling_curve,
)
from .plots import plot_scaling
from .powerlaw import PowerLawFit, fit_power_law
from .report import fit_all, render_report, write_report
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
    "METHODS",
    "Method",
    "PowerLawFit",
    "ScalingResult",
    "TemperatureScaled",
    "TorchClassifierTrainer",
    "Trainer",
    "data_efficiency",
    "default_trainer",
    "fit_all",
    "fit_power_law",
    "load_dataset",
    "load_mnist1d",
    "make_selector",
    "mlp",
    "mnist1d_cnn",
    "plot_scaling",
    "register_method",
    "render_report",
    "scaling_curve",
    "write_report",
]
