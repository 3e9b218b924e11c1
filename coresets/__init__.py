"""coresets: choose which training examples to keep, and prove the choice beat random.

The function ``embed`` stays in ``coresets.embed``: re-exporting it here would shadow the module.
"""

from coresets.baselines import herding, k_center_greedy
from coresets.embed import embed_to_shards, gradient_embeddings, sentence_embeddings
from coresets.knn import knn_graph, knn_recall
from coresets.sampling import (
    AdaptiveReselection,
    CoresetSampler,
    DistributedCoresetSampler,
    WeightedCoresetSampler,
    WeightedDataset,
    WeightedSubset,
)
from coresets.scaling import (
    TorchClassifierTrainer,
    data_efficiency,
    fit_power_law,
    plot_scaling,
    scaling_curve,
)
from coresets.selection import Selection
from coresets.selectors import (
    FacilityLocationSelector,
    FeatureBasedSelector,
    GraphCutSelector,
    HerdingSelector,
    KCenterGreedySelector,
    MixtureSelector,
    RandomSelector,
    SaturatedCoverageSelector,
)
from coresets.submodular import (
    FacilityLocation,
    FeatureBased,
    GraphCut,
    Mixture,
    SaturatedCoverage,
    maximize,
    similarity,
)
from coresets.weights import assign_to_nearest, coreset_weights, nearest_center_weights

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
    "FacilityLocationSelector",
    "FeatureBasedSelector",
    "GraphCutSelector",
    "HerdingSelector",
    "KCenterGreedySelector",
    "MixtureSelector",
    "RandomSelector",
    "SaturatedCoverageSelector",
    "coreset_weights",
    "nearest_center_weights",
    "assign_to_nearest",
    "k_center_greedy",
    "herding",
    "CoresetSampler",
    "WeightedCoresetSampler",
    "DistributedCoresetSampler",
    "WeightedSubset",
    "WeightedDataset",
    "AdaptiveReselection",
    "TorchClassifierTrainer",
    "scaling_curve",
    "fit_power_law",
    "data_efficiency",
    "plot_scaling",
    "embed_to_shards",
    "gradient_embeddings",
    "sentence_embeddings",
    "knn_graph",
    "knn_recall",
    "__version__",
]
