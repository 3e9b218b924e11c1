"""coresets: choose which training examples to keep, and prove the choice beat random."""

from coresets.selection import Selection
from coresets.submodular import (
    FacilityLocation,
    FeatureBased,
    GraphCut,
    Mixture,
    SaturatedCoverage,
    maximize,
    similarity,
)

__version__ = "0.1.0"

__all__ = [
    "Selection",
    "FacilityLocation",
    "FeatureBased",
    "GraphCut",
    "Mixture",
    "SaturatedCoverage",
    "maximize",
    "similarity",
    "__version__",
]
