"""coresets: choose which training examples to keep, and prove the choice beat random.

The public names below are imported on first use (PEP 562), so ``import coresets`` and
``coresets.submodular`` stay light: torch, FAISS and matplotlib load only when a piece
that needs them is touched. The function ``embed`` stays in ``coresets.embed``: a
re-export here would shadow the module.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Selection": "coresets.selection",
    "FacilityLocation": "coresets.submodular",
    "FeatureBased": "coresets.submodular",
    "GraphCut": "coresets.submodular",
    "Mixture": "coresets.submodular",
    "SaturatedCoverage": "coresets.submodular",
    "maximize": "coresets.submodular",
    "LazyGreedy": "coresets.submodular",
    "NaiveGreedy": "coresets.submodular",
    "StochasticGreedy": "coresets.submodular",
    "ApproximateLazyGreedy": "coresets.submodular",
    "similarity": "coresets.submodular",
    "ImplicitSimilarity": "coresets.submodular",
    "FacilityLocationSelector": "coresets.selectors",
    "FeatureBasedSelector": "coresets.selectors",
    "GraphCutSelector": "coresets.selectors",
    "HerdingSelector": "coresets.selectors",
    "KCenterGreedySelector": "coresets.selectors",
    "MixtureSelector": "coresets.selectors",
    "RandomSelector": "coresets.selectors",
    "SaturatedCoverageSelector": "coresets.selectors",
    "CCSSelector": "coresets.selectors",
    "D2Selector": "coresets.selectors",
    "HardPrunedSelector": "coresets.selectors",
    "ModerateSelector": "coresets.selectors",
    "PrototypeSelector": "coresets.selectors",
    "ScoreSelector": "coresets.selectors",
    "SelectionResampler": "coresets.selectors",
    "SemanticDedupSelector": "coresets.selectors",
    "AutoSelector": "coresets.selectors",
    "semantic_dedup": "coresets.dedup",
    "semantic_duplicates": "coresets.dedup",
    "ccs_select": "coresets.pruning",
    "d2_select": "coresets.pruning",
    "moderate_select": "coresets.pruning",
    "score_select": "coresets.pruning",
    "el2n_scores": "coresets.scores",
    "margin_scores": "coresets.scores",
    "entropy_scores": "coresets.scores",
    "forgetting_events": "coresets.scores",
    "aum_scores": "coresets.scores",
    "prototype_scores": "coresets.scores",
    "coreset_weights": "coresets.weights",
    "nearest_center_weights": "coresets.weights",
    "assign_to_nearest": "coresets.weights",
    "k_center_greedy": "coresets.baselines",
    "herding": "coresets.baselines",
    "CoresetSampler": "coresets.sampling",
    "WeightedCoresetSampler": "coresets.sampling",
    "DistributedCoresetSampler": "coresets.sampling",
    "WeightedSubset": "coresets.sampling",
    "WeightedDataset": "coresets.sampling",
    "AdaptiveReselection": "coresets.training",
    "TorchClassifierTrainer": "coresets.scaling",
    "scaling_curve": "coresets.scaling",
    "fit_power_law": "coresets.scaling",
    "data_efficiency": "coresets.scaling",
    "plot_scaling": "coresets.scaling",
    "write_report": "coresets.scaling",
    "run_scaling": "coresets.scaling",
    "embed_to_shards": "coresets.embed",
    "gradient_embeddings": "coresets.embed",
    "sentence_embeddings": "coresets.embed",
    "knn_graph": "coresets.knn",
    "knn_recall": "coresets.knn",
    "select_from_shards": "coresets.streaming",
    "RandGreeDi": "coresets.streaming",
    "SampleGreedy": "coresets.streaming",
    "SieveStreaming": "coresets.submodular",
    "NearestCenters": "coresets.streaming",
    "SampledNearestCenters": "coresets.streaming",
    "open_shards": "coresets.shards",
    "ShardWriter": "coresets.shards",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'coresets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
