import json
import random

import numpy as np
import pytest
import torch

from coresets.scaling import (
    Method,
    ScalingResult,
    TorchClassifierTrainer,
    data_efficiency,
    default_trainer,
    load_dataset,
    load_mnist1d,
    mlp,
    plot_scaling,
    scaling_curve,
    write_report,
)
from coresets.scaling.report import class_balance, render_report
from coresets.selectors.registry import make_selector


class CentroidTrainer:
    """Nearest class mean: fast, exactly deterministic, honours weights (test trainer)."""

    def __init__(self, fail_after=None):
        self.fail_after = fail_after
        self.calls = 0

    def __repr__(self):
        return "CentroidTrainer()"

    def fit(self, train, weights=None, seed=0):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("simulated crash")
        X, y = train
        w = np.ones(len(y)) if weights is None else np.asarray(weights)
        classes = np.unique(y)
        cent = np.stack([np.average(X[y == c], axis=0, weights=w[y == c]) for c in classes])
        return classes, cent

    def evaluate(self, model, test):
        classes, cent = model
        X, y = test
        d = ((X[:, None, :] - cent[None]) ** 2).sum(-1)
        logits = -d / d.std()
        logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True))
        logp -= logits.max(1, keepdims=True)
        pos = {c: i for i, c in enumerate(classes)}
        col = np.array([pos.get(c, 0) for c in y])
        loss = float(-logp[np.arange(len(y)), col].mean())
        return {"loss": loss, "accuracy": float((classes[d.argmin(1)] == y).mean())}


def _np_state():
    return np.random.get_state()  # noqa: NPY002 - checking that nobody changed it


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


# ---------------------------------------------------------------- power law


# ---------------------------------------------------------------- data efficiency


def _result(curves):
    recs = []
    for m, pts in curves.items():
        for size, accs in pts.items():
            for seed, a in enumerate(accs):
                recs.append(
                    dict(method=m, size=size, seed=seed, loss=1 - a, accuracy=a,
                         selection_time=0.0, training_time=0.0)
                )  # fmt: skip
    return ScalingResult(recs)


def test_data_efficiency_matches_hand_interpolation():
    res = _result(
        {
            "random": {100: [0.5, 0.6], 200: [0.7, 0.7], 400: [0.8, 0.8]},
            "fl": {100: [0.7, 0.7], 200: [0.75, 0.75], 400: [0.9, 0.9], 50: [0.4, 0.4]},
        }
    )
    rows = {r["size"]: r for r in data_efficiency(res, "fl")}
    assert rows[100]["baseline_size"] == pytest.approx(200) and rows[100]["ratio"] == pytest.approx(
        0.5
    )
    # 0.75 lies halfway between 0.7 (n=200) and 0.8 (n=400) -> geometric midpoint
    assert rows[200]["baseline_size"] == pytest.approx(np.sqrt(200 * 400))
    assert rows[200]["ratio"] == pytest.approx(200 / np.sqrt(80000))
    assert rows[400]["beyond"] == "above" and np.isnan(rows[400]["ratio"])
    assert rows[50]["beyond"] == "below" and np.isnan(rows[50]["baseline_value"])
    loss_rows = {r["size"]: r for r in data_efficiency(res, "fl", score="loss")}
    assert loss_rows[100]["ratio"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="baseline"):
        data_efficiency(res, "fl", baseline="nope")
    with pytest.raises(ValueError, match="score"):
        data_efficiency(res, "fl", score="f1")


# ---------------------------------------------------------------- experiment


@pytest.mark.slow
def test_scaling_curve_resumes_after_a_crash_and_matches_a_fresh_run(digits, tmp_path):
    methods = ["random", "facility-location", Method("k-center", weighted=True)]
    args = (digits.train, digits.test, methods, [40, 80, 160])
    fresh = scaling_curve(*args, seeds=2, trainer=CentroidTrainer(), progress=False)
    assert len(fresh) == 18
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        scaling_curve(*args, seeds=2, trainer=CentroidTrainer(fail_after=7), out_dir=out,
                      progress=False)  # fmt: skip
    saved = json.loads((out / "results.json").read_text())
    assert len(saved["records"]) == 7
    assert (out / "results.csv").read_text().count("\n") == 8  # header + 7 rows
    again = CentroidTrainer()
    resumed = scaling_curve(*args, seeds=2, trainer=again, out_dir=out, progress=False)
    assert again.calls == 11  # only the unfinished cells were trained
    key = lambda r: (r["method"], r["size"], r["seed"])  # noqa: E731
    a = {key(r): (r["loss"], r["accuracy"]) for r in fresh.records}
    b = {key(r): (r["loss"], r["accuracy"]) for r in resumed.records}
    assert a == b
    assert ScalingResult.from_json(out / "results.json").methods == resumed.methods
    # selection is real: facility location beats random on digits at the smallest size
    _, fl = fresh.curve("facility_location", "accuracy")
    _, rnd = fresh.curve("random", "accuracy")
    assert fl[0].mean() > rnd[0].mean()
    # a directory of another experiment is refused
    with pytest.raises(ValueError, match="other data"):
        scaling_curve((digits.X[:500], digits.y[:500]), digits.test, ["random"], [40, 80],
                      seeds=1, trainer=CentroidTrainer(), out_dir=out, progress=False)  # fmt: skip
    png = plot_scaling(resumed, tmp_path / "plot" / "curves")
    assert png.name == "curves.png" and png.read_bytes()[:4] == b"\x89PNG"
    assert not png.with_suffix(".md").exists()  # drawing writes no report
    md = write_report(resumed, png.with_suffix(".md"), plot=png).read_text()
    assert "Data efficiency against random" in md and "facility_location" in md
    assert "Verdict" in md


def test_scaling_curve_validates_input(digits):
    tr = CentroidTrainer()
    with pytest.raises(ValueError, match="unknown method"):
        scaling_curve(digits.train, digits.test, ["nope"], [10], trainer=tr)
    with pytest.raises(ValueError, match="sizes"):
        scaling_curve(digits.train, digits.test, ["random"], [0], trainer=tr)
    with pytest.raises(ValueError, match="sizes"):
        scaling_curve(digits.train, digits.test, ["random"], [10**6], trainer=tr)
    with pytest.raises(ValueError, match="duplicate labels"):
        scaling_curve(digits.train, digits.test, ["random", "random"], [10], trainer=tr)
    with pytest.raises(ValueError, match="features must have"):
        scaling_curve(digits.train, digits.test, ["random"], [10], trainer=tr,
                      features=np.ones((3, 2)))  # fmt: skip
    with pytest.raises(TypeError, match="train must be"):
        scaling_curve(digits.X, digits.test, ["random"], [10], trainer=tr)
    with pytest.raises(TypeError, match="trainer must have"):
        scaling_curve(digits.train, digits.test, ["random"], [10], trainer=object())


# ---------------------------------------------------------------- trainer


@pytest.mark.slow
def test_torch_trainer_is_deterministic_weighted_and_leaves_global_rng_alone(digits):
    tr = default_trainer(digits, device="cpu", max_steps=150, min_steps=50)
    sub = (digits.X[:300], digits.y[:300])
    g_state, np_state, py_state = torch.get_rng_state(), _np_state(), random.getstate()
    threads = torch.get_num_threads()
    m1 = tr.fit(sub, seed=3)
    assert torch.equal(g_state, torch.get_rng_state())
    assert np.array_equal(np_state[1], _np_state()[1])
    assert py_state == random.getstate() and torch.get_num_threads() == threads
    s1 = tr.evaluate(m1, digits.test)
    s2 = tr.evaluate(tr.fit(sub, seed=3), digits.test)
    assert s1 == s2 and s1["accuracy"] > 0.8
    w = np.linspace(0.1, 3, 300)
    sw = tr.evaluate(tr.fit(sub, weights=w, seed=3), digits.test)
    assert sw != s1 and sw["accuracy"] > 0.7
    # torch Dataset input and tiny subsets (no validation split) work
    ds = torch.utils.data.TensorDataset(torch.tensor(digits.X[:5]), torch.tensor(digits.y[:5]))
    assert 0 <= tr.evaluate(tr.fit(ds, seed=0), digits.test)["accuracy"] <= 1
    assert tr.n_steps(10) == 50 and tr.n_steps(60) == 50 * 0 + 90 and tr.n_steps(10**6) == 150
    with pytest.raises(ValueError, match="weights must have shape"):
        tr.fit(sub, weights=np.ones(3))
    with pytest.raises(ValueError, match="not all zero"):
        tr.fit(sub, weights=np.zeros(300))
    with pytest.raises(ValueError, match="y must have shape"):
        tr.fit((digits.X[:10], digits.y[:9]))
    with pytest.raises(ValueError, match="val_fraction"):
        TorchClassifierTrainer(mlp(64, 10), val_fraction=0.9)
    with pytest.raises(TypeError, match="model_factory"):
        TorchClassifierTrainer(None)


@pytest.mark.slow
def test_torch_trainer_refit_trains_on_the_held_out_examples_too(digits):
    # Labels of the 10% validation split are scrambled: a model that never trained on
    # them predicts their true digit, a refitted one has memorised the scrambled label.
    X, y = digits.X[:300], digits.y[:300].copy()
    val = np.random.default_rng(0).permutation(300)[:30]  # the trainer's split for seed 0
    y[val] = (y[val] + 1) % 10
    kw = dict(device="cpu", max_steps=400, min_steps=400, patience=1000, calibrate=False)
    scores = {}
    for refit in (False, True):
        tr = default_trainer(digits, refit=refit, **kw)
        model = tr.fit((X, y), seed=0)
        scores[refit] = tr.evaluate(model, (X[val], y[val]))["accuracy"]
    assert scores[False] < 0.2 and scores[True] > 0.5, scores


def test_load_mnist1d_restores_global_rng(tmp_path):
    np_state, py_state = _np_state(), random.getstate()
    d = load_mnist1d(n_rows=500, cache_dir=tmp_path)
    assert np.array_equal(np_state[1], _np_state()[1]) and py_state == random.getstate()
    assert d.X.shape == (400, 40) and d.X_test.shape == (100, 40) and d.model == "cnn1d"
    cached = load_mnist1d(n_rows=500, cache_dir=tmp_path)
    assert np.array_equal(cached.X, d.X) and (tmp_path / "mnist1d_500.npz").exists()
    with pytest.raises(ValueError, match="neither"):
        load_dataset("no-such-dataset")


#: MNIST-1D's published CNN test accuracy (the mnist1d package's README, "Comparing MNIST
#: and MNIST-1D": logistic regression 32%, MLP 68%, CNN 94%, GRU 91%), one run of the paper.
PUBLISHED_CNN_ACCURACY = 0.94
#: How far the mean of three seeds may fall below it. Single runs of this trainer on full
#: data differ by seed and by CPU (float results are not bit-identical across machines):
#: 93.5 / 92.4 / 93.6% on seeds 0 / 1 / 2 on the machine of benchmarks/RESULTS.md, 91.6 /
#: 92.5 / 93.8% on another, i.e. up to 2.4 points under 94% for one run and 92.6-93.2% for
#: the mean of three. 2.5 points holds both machines' means with a point to spare, and
#: still fails the trainers this one replaced (no refit: 90.4% on seed 1; keeping the best
#: validation loss instead of accuracy: ~88%) and every model class below the CNN in that
#: table.
PUBLISHED_MARGIN = 0.025


@pytest.mark.slow
def test_reference_cnn_reaches_published_accuracy_on_full_mnist1d():
    d = load_mnist1d()
    tr = default_trainer(d, device="cpu")
    accs = [tr.evaluate(tr.fit(d.train, seed=seed), d.test)["accuracy"] for seed in (0, 1, 2)]
    assert np.mean(accs) >= PUBLISHED_CNN_ACCURACY - PUBLISHED_MARGIN, accs


def test_scaling_refuses_a_bad_plan_before_the_first_cell_trains(digits, tmp_path):
    class Counting:
        fits = 0

        def fit(self, train, weights=None, seed=0):
            Counting.fits += 1

        def evaluate(self, model, test):
            return {"loss": 1.0, "accuracy": 0.5}

    X, y = digits.X[:200], digits.y[:200]
    a_file = tmp_path / "results"
    a_file.write_text("not a directory")
    with pytest.raises(ValueError, match=r"out_dir .*results exists and is not a directory"):
        scaling_curve((X, y), (X, y), ["random"], [20], seeds=1, trainer=Counting(), out_dir=a_file)
    # 10 classes: a per-class subset of 5 cannot hold one row of each; found at once, not
    # after the cells of the sizes before it have trained
    with pytest.raises(ValueError, match=r"sizes: method 'facility_location_per_class' at size 5"):
        scaling_curve(
            (X, y), (X, y), ["random", "facility_location_per_class"], [40, 5], seeds=1,
            trainer=Counting(),
        )  # fmt: skip
    assert Counting.fits == 0


# ---------------------------------------------------------------- class balance


class LabelRecorder(CentroidTrainer):
    """CentroidTrainer that keeps the labels of every subset it trains on."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def fit(self, train, weights=None, seed=0):
        self.seen.append(np.asarray(train[1]).copy())
        return super().fit(train, weights=weights, seed=seed)


def test_cells_record_the_class_counts_of_their_subset(digits):
    X, y = digits.X[:300], digits.y[:300]
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    tr = LabelRecorder()
    res = scaling_curve((X, y), digits.test, ["random", "k-center"], [20, 40], seeds=2,
                        trainer=tr, class_names=np.array(names))  # fmt: skip
    assert res.class_names == names
    assert res.config["classes"]["pool_counts"] == np.bincount(y, minlength=10).tolist()
    for r in res.records:
        assert len(r["class_counts"]) == 10 and sum(r["class_counts"]) == r["size"]
    # the counts are those of the labels each cell trained on (one fit per cell)
    trained = sorted(tuple(np.bincount(s, minlength=10)) for s in tr.seen)
    assert trained == sorted(tuple(r["class_counts"]) for r in res.records)
    sizes, counts = res.class_counts("k_center")
    assert sizes.tolist() == [20, 40] and counts.shape == (2, 2, 10)
    assert counts.sum(axis=2).tolist() == [[20, 20], [40, 40]]
    # string labels without names (a trainer that takes them): named by their value
    words = np.array(names)[y]
    res = scaling_curve((X, words), (digits.X_test, np.array(names)[digits.y_test]),
                        ["random"], [30], seeds=1, trainer=CentroidTrainer())  # fmt: skip
    assert res.class_names == sorted(names)
    counts = dict(zip(res.class_names, res.records[0]["class_counts"], strict=True))
    sel = make_selector("random", 30, random_state=0).fit(X, words).ranking_
    assert counts == {n: int((words[sel] == n).sum()) for n in names}
    for bad, err, msg in [
        (names[:5], ValueError, r"class_names names 5 classes.*up to 9"),
        (names[:9] + ["zero"], ValueError, "distinct"),
        ("zero", TypeError, "list of str"),
        ([1.5] * 10, TypeError, "strings"),
    ]:
        with pytest.raises(err, match=msg):
            scaling_curve((X, y), digits.test, ["random"], [20], trainer=tr, class_names=bad)
    with pytest.raises(ValueError, match="must be integers"):
        scaling_curve((X, words), (X, words), ["random"], [20], trainer=tr, class_names=names)


def test_cells_written_before_the_counts_still_load_resume_and_render(digits, tmp_path):
    X, y = digits.X[:300], digits.y[:300]
    out = tmp_path / "run"
    args = ((X, y), digits.test, ["random", "k-center"])
    scaling_curve(*args, [20], seeds=2, trainer=CentroidTrainer(), out_dir=out)
    old = json.loads((out / "results.json").read_text())  # as an older version wrote it
    del old["config"]["classes"]
    for r in old["records"]:
        del r["class_counts"]
    (out / "results.json").write_text(json.dumps(old))
    md = write_report(ScalingResult.from_json(out / "results.json"), tmp_path / "a.md").read_text()
    assert "## Class balance" in md and "No per-class counts in this result" in md
    tr = CentroidTrainer()
    res = scaling_curve(*args, [20, 40], seeds=2, trainer=tr, out_dir=out)
    assert tr.calls == 4 and len(res) == 8  # the old cells were kept, not rerun
    assert sum("class_counts" in r for r in res.records) == 4
    _, counts = ScalingResult.from_json(out / "results.json").class_counts("random")
    assert np.isnan(counts[0]).all() and not np.isnan(counts[1]).any()
    md = write_report(ScalingResult.from_json(out / "results.json"), tmp_path / "b.md").read_text()
    # the old size has no counts ("–"), the new one has its ratios
    row = next(line for line in md.splitlines() if line.startswith("| 0 | "))
    assert row.count("– / ") == 2 and row.count("–") == 2


def _balance_result(pool, counts, size=20):
    """A hand-built result: ``counts`` {method: class counts of one subset per seed}."""
    names = list(pool)
    recs = [
        dict(method=m, size=size, seed=seed, loss=1.0, accuracy=0.5, selection_time=0.0,
             training_time=0.0, class_counts=c)
        for m, per_seed in counts.items()
        for seed, c in enumerate(per_seed)
    ]  # fmt: skip
    config = {"classes": {"names": names, "pool_counts": list(pool.values())}}
    return ScalingResult(recs, config)


def test_report_names_the_classes_and_flags_a_starving_method():
    pool = {"cat": 50, "dog": 30, "eel": 20}
    res = _balance_result(pool, {"random": [[10, 6, 4], [9, 7, 4]], "fl": [[18, 2, 0], [16, 3, 1]]})
    rows = {r["method"]: r for r in class_balance(res)}
    assert rows["random"]["starved"] == [] and rows["random"]["n_seeds"] == 2
    # fl keeps dog (2.5 of 20) at 0.42 and eel (0.5 of 20) at 0.125 of their pool share
    assert rows["fl"]["ratios"]["dog"] == pytest.approx(2.5 / 20 / 0.3)
    assert rows["fl"]["starved"] == ["eel", "dog"]
    assert class_balance(res, threshold=0.2)[1]["starved"] == ["eel"]
    md = render_report(res, n_boot=0)
    section = md[md.index("## Class balance") : md.index("## Learning-curve laws")]
    for name in pool:
        assert f"\n| {name} | " in section
    assert "| eel | 20.0% (20) | 1.00 | **0.12** |" in section
    assert "**fl** starves n = 20: eel (0.12), dog (0.42)." in section
    assert "Coverage methods" in section and "**random** starves" not in section
    # more than 20 classes: the 5 most under-represented by name
    pool = {f"c{i:02d}": 10 for i in range(25)}
    counts = {"random": [[2] * 13 + [1] * 12], "fl": [[0] * 6 + [2] * 19]}
    section = render_report(_balance_result(pool, counts, size=38), n_boot=0)
    section = section.split("## Class balance")[1]
    assert "5 most under-represented of the 25 classes" in section and "| c00 |" not in section
    fl_row = next(line for line in section.splitlines() if line.startswith("| fl |"))
    assert fl_row.count("**0.00**") == 5 and "c05" not in fl_row
    assert "| random | c13 0.66, c14 0.66," in section
    assert "**fl** starves n = 38: c00 (0.00), c01 (0.00), c02 (0.00), c03 (0.00), c04 (0.00) " \
        "and 1 more." in section  # fmt: skip
