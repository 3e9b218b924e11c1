"""Weighted-loss recipe: raw coreset weights (sum n) vs WeightedSubset's (mean 1), MNIST-1D, 2%.

python benchmarks/bench_weighted_recipe.py   (about two minutes on 2 cores)
"""

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from coresets import FacilityLocationSelector, WeightedSubset
from coresets.scaling import load_dataset

d = load_dataset("mnist1d")
Xs = (d.X - d.X.mean(0)) / d.X.std(0)
Xt = (d.X_test - d.X.mean(0)) / d.X.std(0)
sel = FacilityLocationSelector(0.02, metric="euclidean", random_state=0).fit(Xs)
data = TensorDataset(torch.as_tensor(Xs), torch.as_tensor(d.y))
print(f"k={len(sel.ranking_)} of n={len(Xs)}; raw weights sum {sel.weights_.sum():.0f}")


def run(weights, seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(40, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sub = WeightedSubset(data, sel.ranking_)  # items (x, y, 1.0); the weight is chosen below
    w = torch.as_tensor(weights, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    for _ in range(100):
        for pos in DataLoader(range(len(sub)), batch_size=16, shuffle=True, generator=g):
            xb = torch.stack([sub[int(i)][0] for i in pos])
            yb = torch.stack([sub[int(i)][1] for i in pos])
            loss = torch.nn.functional.cross_entropy(model(xb), yb, reduction="none")
            opt.zero_grad()
            (loss * w[pos]).mean().backward()
            opt.step()
    with torch.no_grad():
        return float((model(torch.as_tensor(Xt)).argmax(1).numpy() == d.y_test).mean())


norm = WeightedSubset(data, sel.ranking_, sel.weights_).weights
for name, w in (("raw weights (sum n)", sel.weights_), ("WeightedSubset (mean 1)", norm)):
    acc = [run(w, s) for s in range(3)]
    print(
        f"{name:26s} test accuracy {np.mean(acc):.3f} (seeds {', '.join(f'{a:.3f}' for a in acc)})"
    )
