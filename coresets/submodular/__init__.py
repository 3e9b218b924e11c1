"""Submodular functions, their greedy and streaming maximisers, and dense similarity matrices."""

from coresets.submodular.functions import (
    FacilityLocation,
    FeatureBased,
    GraphCut,
    Mixture,
    SaturatedCoverage,
    SubmodularFunction,
)
from coresets.submodular.optimizers import (
    OPTIMIZERS,
    ApproximateLazyGreedy,
    LazyGreedy,
    NaiveGreedy,
    StochasticGreedy,
    as_optimizer,
    maximize,
)
from coresets.submodular.similarity import ImplicitSimilarity, similarity
from coresets.submodular.streaming import SieveStreaming

__all__ = [
    "FacilityLocation",
    "FeatureBased",
    "GraphCut",
    "Mixture",
    "SaturatedCoverage",
    "SubmodularFunction",
    "OPTIMIZERS",
    "ApproximateLazyGreedy",
    "LazyGreedy",
    "NaiveGreedy",
    "StochasticGreedy",
    "SieveStreaming",
    "maximize",
    "as_optimizer",
    "similarity",
    "ImplicitSimilarity",
]
