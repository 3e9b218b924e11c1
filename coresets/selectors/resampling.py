"""The imbalanced-learn form of a selector: a sampler that only resamples.

imbalanced-learn's ``Pipeline`` refuses a step that has both ``transform`` and
``fit_resample`` (it could not tell which one to call), and every selector has both.
:class:`SelectionResampler` wraps one and offers ``fit_resample`` alone, so the chosen
rows (and their labels) reach the next step during ``fit``, while ``predict`` and
``score`` pass every row through, as imbalanced-learn samplers do.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone

__all__ = ["SelectionResampler"]


class SelectionResampler(BaseEstimator):
    """Use a selector as an imbalanced-learn sampler (``fit_resample`` only).

    ``imblearn.pipeline.Pipeline([("select", SelectionResampler(FacilityLocationSelector(
    0.1))), ("clf", LogisticRegression())])`` trains the classifier on the chosen rows;
    ``cross_val_score`` and ``GridSearchCV`` work over it, and the selector's parameters
    are reachable as ``select__selector__n_samples``.

    Parameters
    ----------
    selector : selector
        Any selector of :mod:`coresets.selectors` (or an estimator with
        ``fit_resample(X, y)`` that sets ``ranking_`` and ``weights_``); it is cloned at
        every ``fit_resample``, so the one passed in stays unfitted.

    Attributes
    ----------
    selector_ : selector
        The fitted clone.
    sample_indices_ : ndarray of int64, shape (k,)
        Rows of the last ``X`` that were kept, in selection order (imbalanced-learn's name
        for it).
    weights_ : ndarray of float64, shape (k,)
        The selector's coreset weights of those rows (how many rows each one stands for).
        imbalanced-learn has no way to hand them to the next step; fit the final
        estimator yourself with ``sample_weight=weights_ / weights_.mean()`` to use them.
    """

    def __init__(self, selector):
        self.selector = selector

    def fit_resample(self, X, y, **fit_params):
        """Fit a clone of ``selector`` on ``(X, y)`` and return the chosen rows.

        Parameters
        ----------
        X : array-like or sparse matrix, shape (n_rows, n_features)
        y : array-like, shape (n_rows,)
        **fit_params
            Passed to the selector's ``fit`` (e.g. ``sample_cost``).

        Returns
        -------
        X_resampled : shape (k, n_features)
        y_resampled : shape (k,)
        """
        if not hasattr(self.selector, "fit_resample"):
            raise TypeError(
                "selector must be a selector with fit_resample(X, y), got "
                f"{type(self.selector).__name__}"
            )
        self.selector_ = clone(self.selector)
        X_res, y_res = self.selector_.fit_resample(X, y, **fit_params)
        self.sample_indices_ = np.asarray(self.selector_.ranking_, dtype=np.int64)
        self.weights_ = np.asarray(self.selector_.weights_, dtype=np.float64)
        return X_res, y_res

    def fit(self, X, y, **fit_params):
        """``fit_resample(X, y)``, keeping only the fitted state; returns self."""
        self.fit_resample(X, y, **fit_params)
        return self
