"""Scaling runs share selection work between cells and still select what each cell alone would."""

import numpy as np
import pytest
from test_scaling import CentroidTrainer

import coresets.knn
import coresets.selectors.submodular as submodular_selectors
from coresets.scaling import Method, experiment, load_dataset, scaling_curve
from coresets.selectors import FacilityLocationSelector, selection_cache
from coresets.selectors.registry import METHODS


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _recording(monkeypatch):
    """Patch the experiment's make_selector to keep every cell's fitted selector."""
    made = []
    real = experiment.make_selector

    def make(method, n_samples, *, random_state=None, progress=False):
        sel = real(method, n_samples, random_state=random_state, progress=progress)
        if random_state is not None:  # a cell's selector (the plan check passes none)
            made.append((method if isinstance(method, str) else repr(method), sel))
        return sel

    monkeypatch.setattr(experiment, "make_selector", make)
    return made


def _selections(made):
    """(method, size, seed) -> [(ranking, weights)], one pair per method of that name."""
    out = {}
    for m, s in made:
        key = (m, int(s.n_samples), int(s.random_state))
        out.setdefault(key, []).append((s.ranking_.copy(), s.weights_.copy()))
    return out


def _counting(monkeypatch):
    """Count greedy runs and similarity builds of the graph selectors."""
    calls = {"maximize": 0, "knn_graph": 0, "similarity": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        submodular_selectors, "maximize", counted("maximize", submodular_selectors.maximize)
    )
    monkeypatch.setattr(
        submodular_selectors, "similarity", counted("similarity", submodular_selectors.similarity)
    )
    monkeypatch.setattr(coresets.knn, "knn_graph", counted("knn_graph", coresets.knn.knn_graph))
    return calls


def test_reuse_selects_what_every_cell_selects_alone(digits, monkeypatch):
    methods = [
        "random",
        "facility-location",
        "facility-location-per-class",
        Method("facility-location", label="fl_weighted", weighted=True),
        Method(FacilityLocationSelector(n_neighbors=10, optimizer="stochastic"), label="fl_sto"),
        Method("graph-cut", features=digits.X[:, ::2]),
        "auto",
    ]
    args = (digits.train, digits.test, methods, [40, 120, 400])
    runs = {}
    for reuse in (False, True):
        made = _recording(monkeypatch)
        res = scaling_curve(*args, seeds=2, trainer=CentroidTrainer(), reuse=reuse)
        runs[reuse] = (res, _selections(made))
    (plain, sel_plain), (shared, sel_shared) = runs[False], runs[True]
    assert sel_plain.keys() == sel_shared.keys()
    assert sum(map(len, sel_plain.values())) == sum(map(len, sel_shared.values())) == 7 * 3 * 2
    for key, pairs in sel_plain.items():
        assert len(sel_shared[key]) == len(pairs)
        for (ranking, weights), (r, w) in zip(pairs, sel_shared[key], strict=True):
            np.testing.assert_array_equal(r, ranking, err_msg=str(key))
            np.testing.assert_array_equal(w, weights, err_msg=str(key))
    # the same cells with the same scores, and the table in the same order
    drop = ("selection_time", "training_time")
    strip = lambda r: {k: v for k, v in r.items() if k not in drop}  # noqa: E731
    assert [strip(r) for r in shared.records] == [strip(r) for r in plain.records]


def test_reuse_runs_a_deterministic_greedy_once_and_builds_its_graph_once(digits, monkeypatch):
    fl = Method(FacilityLocationSelector(n_neighbors=10), label="fl")
    sizes, seeds = [40, 120, 400], 2
    cases = {
        # one graph and one greedy run for 3 sizes x 2 seeds
        "nested": (fl, True, 1, 1),
        # without reuse: one of each per cell
        "per cell": (fl, False, 6, 6),
        # the class shares change with the size, each class's run is still a prefix:
        # one graph and one run per class
        "per class": (
            Method(FacilityLocationSelector(n_neighbors=10, per_class=True), label="fl"),
            True,
            10,
            10,
        ),
        # stochastic greedy's sample depends on k: one graph, a run per cell
        "stochastic": (
            Method(FacilityLocationSelector(n_neighbors=10, optimizer="stochastic"), label="s"),
            True,
            1,
            6,
        ),
    }
    for name, (method, reuse, graphs, runs) in cases.items():
        calls = _counting(monkeypatch)
        scaling_curve(
            digits.train, digits.test, [method], sizes, seeds=seeds, trainer=CentroidTrainer(),
            reuse=reuse,
        )  # fmt: skip
        assert (calls["knn_graph"], calls["maximize"]) == (graphs, runs), name
        monkeypatch.undo()


def test_reuse_builds_a_seeded_graph_once_per_seed(digits, monkeypatch):
    # past AUTO_EXACT_MAX rows the kNN graph is an IVF index trained on a sample drawn
    # from the seed: the graph differs by seed, so each seed builds (and runs) its own
    monkeypatch.setattr(coresets.knn, "AUTO_EXACT_MAX", 100)
    fl = Method(FacilityLocationSelector(n_neighbors=10), label="fl")
    made = _recording(monkeypatch)
    calls = _counting(monkeypatch)
    args = (digits.train, digits.test, [fl], [40, 400])
    shared = scaling_curve(*args, seeds=2, trainer=CentroidTrainer())
    assert (calls["knn_graph"], calls["maximize"]) == (2, 2)
    sel_shared = _selections(made)
    made.clear()
    plain = scaling_curve(*args, seeds=2, trainer=CentroidTrainer(), reuse=False)
    sel_plain = _selections(made)
    name = "FacilityLocationSelector(n_neighbors=10)"
    assert not np.array_equal(sel_plain[name, 400, 0][0][0], sel_plain[name, 400, 1][0][0])
    assert sel_plain.keys() == sel_shared.keys()
    for key, [(ranking, _)] in sel_plain.items():
        np.testing.assert_array_equal(sel_shared[key][0][0], ranking, err_msg=str(key))
    assert [r["accuracy"] for r in shared.records] == [r["accuracy"] for r in plain.records]


@pytest.mark.parametrize("graph", ["exact", "ivf"])
def test_selection_cache_leaves_a_generator_where_an_uncached_fit_does(digits, monkeypatch, graph):
    if graph == "ivf":
        monkeypatch.setattr(coresets.knn, "AUTO_EXACT_MAX", 100)
    X = digits.X.astype(np.float32)

    def fit(k):
        # stochastic greedy draws from the generator after the graph's build did (IVF)
        rng = np.random.default_rng(5)
        sel = FacilityLocationSelector(k, n_neighbors=10, optimizer="stochastic", random_state=rng)
        return sel.fit(X).ranking_, rng.bit_generator.state

    plain = [fit(k) for k in (300, 100, 300)]
    with selection_cache() as cache:
        cached = [fit(k) for k in (300, 100, 300)]
        # every fit after the first finds its graph (a seeded one under the same state)
        assert cache.hits == {"similarity": 2} and cache.misses == {"similarity": 1}
    for (a, state_a), (b, state_b) in zip(plain, cached, strict=True):
        np.testing.assert_array_equal(a, b)
        assert state_a == state_b
    assert len(cache) == 0  # emptied when the block ends


def test_resume_refuses_cells_of_a_changed_registry_entry_or_policy(digits, tmp_path, monkeypatch):
    out = tmp_path / "run"
    X, y = digits.X[:400], digits.y[:400]
    run = lambda methods: scaling_curve(  # noqa: E731
        (X, y), digits.test, methods, [40], seeds=1, trainer=CentroidTrainer(), out_dir=out
    )
    run(["facility-location", "auto"])
    config = experiment.ScalingResult.from_json(out / "results.json").config["methods"]
    assert config["facility_location"]["selector"].startswith("FacilityLocationSelector(")
    assert "coverage_fraction=0.15" in config["auto"]["selector"]
    assert len(run(["facility-location", "auto"])) == 2  # unchanged: resumed
    monkeypatch.setattr("coresets.selectors.auto.COVERAGE_FRACTION", 0.5)
    with pytest.raises(ValueError, match="method 'auto' defined differently"):
        run(["auto"])
    monkeypatch.undo()
    monkeypatch.setitem(
        METHODS, "facility_location", lambda: FacilityLocationSelector(n_neighbors=5)
    )
    with pytest.raises(ValueError, match="method 'facility_location' defined differently"):
        run(["facility-location"])
