import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits

from coresets.cli import main, parse_size, parse_sizes
from coresets.selection import Selection
from coresets.selectors import FacilityLocationSelector


@pytest.fixture(scope="module")
def emb(tmp_path_factory):
    d = tmp_path_factory.mktemp("emb")
    X, y = load_digits(return_X_y=True)
    np.save(d / "X.npy", X[:300].astype(np.float32))
    np.save(d / "y.npy", y[:300])
    return d


def test_parse_sizes():
    assert parse_size("10%") == pytest.approx(0.1)
    assert parse_size("0.25") == 0.25 and parse_size("500") == 500
    assert parse_sizes("100, 200,5%") == [100, 200, 0.05]
    for bad in ("ten", "150%", "0.0"):
        with pytest.raises(ValueError, match="--n-samples"):
            parse_size(bad)


def test_select_npy_matches_the_selector(emb, tmp_path, capsys):
    out = tmp_path / "sel"
    rc = main(["select", "--input", str(emb / "X.npy"), "--n-samples", "10%",
               "--method", "facility-location", "--out", str(out), "--no-progress"])  # fmt: skip
    assert rc == 0 and "selected 30 rows" in capsys.readouterr().out
    X = np.load(emb / "X.npy")
    ref = FacilityLocationSelector(n_samples=30, random_state=0).fit(X)
    np.testing.assert_array_equal(np.load(out / "indices.npy"), ref.ranking_)
    np.testing.assert_allclose(np.load(out / "weights.npy"), ref.weights_)
    np.testing.assert_allclose(np.load(out / "gains.npy"), ref.gains_)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_selected"] == 30 and summary["n_rows"] == 300
    assert not list(out.glob(".*tmp"))  # atomic writes leave no temporaries
    rc = main(["select", "--input", str(emb / "X.npy"), "--n-samples", "20", "--method",
               "k-center", "--labels", str(emb / "y.npy"), "--per-class", "--out",
               str(tmp_path / "kc"), "--no-progress"])  # fmt: skip
    y = np.load(emb / "y.npy")
    idx = np.load(tmp_path / "kc" / "indices.npy")
    assert rc == 0 and len(idx) == 20 and len(np.unique(y[idx])) == 10


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--input", "missing.npy"], "does not exist"),
        (["--n-samples", "lots"], "--n-samples"),
        (["--method", "bogus"], "unknown"),
        (["--per-class"], "--per-class needs --labels"),
        (["--method", "random", "--n-neighbors", "8"], "--n-neighbors does not apply"),
        (["--n-samples", "100000"], "n_samples"),
    ],
)
def test_select_errors_are_one_line(emb, tmp_path, capsys, args, msg):
    base = {"--input": str(emb / "X.npy"), "--n-samples": "10", "--out": str(tmp_path / "o")}
    flags = []
    for i, a in enumerate(args):
        if a in base and i + 1 < len(args):
            base[a] = args[i + 1]
    skip = {i + 1 for i, a in enumerate(args) if a in base}
    flags = [a for i, a in enumerate(args) if a not in base and i not in skip]
    argv = ["select"] + [x for kv in base.items() for x in kv] + flags
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("coresets select: error:") and msg in err
    assert "\n" not in err and "Traceback" not in err


def test_select_corrupt_npy(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    assert main(["select", "--input", str(bad), "--n-samples", "2", "--out", str(tmp_path)]) == 1
    assert "could not be read" in capsys.readouterr().err


def test_select_shard_directory_calls_streaming(tmp_path, monkeypatch, capsys):
    import coresets.streaming as streaming
    from coresets.streaming import RandGreeDi

    seen = {}

    def fake(path, k, **kw):
        seen.update(kw, path=path, k=k)
        return Selection([4, 1], [2.0, 1.0], 3.0, weights=[5.0, 5.0])

    class FakeClient:
        def __init__(self, address):
            seen["address"] = address

        def close(self):
            seen["closed"] = True

    import dask.distributed

    monkeypatch.setattr(streaming, "select_from_shards", fake)
    monkeypatch.setattr(dask.distributed, "Client", FakeClient)
    shards = tmp_path / "shards"
    shards.mkdir()
    rc = main(["select", "--input", str(shards), "--n-samples", "2", "--method",
               "facility-location", "--n-neighbors", "16", "--scheduler", "tcp://x:1",
               "--out", str(tmp_path / "o"), "--no-progress"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert isinstance(seen["algorithm"], RandGreeDi) and seen["algorithm"].n_neighbors == 16
    assert seen["address"] == "tcp://x:1" and seen["closed"] and seen["k"] == 2
    assert isinstance(seen["client"], FakeClient)
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "indices.npy"), [4, 1])


@pytest.mark.slow
def test_scaling_command_writes_table_plot_and_report(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "coresets", "scaling", "--dataset", "digits", "--methods",
           "random,facility-location", "--sizes", "40,80,160", "--seeds", "1", "--max-steps",
           "200", "--out", str(out), "--no-progress"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for name in ("results.csv", "results.json", "scaling.png", "scaling.md"):
        assert (out / name).exists() and str(out / name) in r.stdout
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0] == "method,size,seed,loss,accuracy,selection_time,training_time"
    assert len(rows) == 7
    bad = subprocess.run(cmd[:5] + ["nowhere.npz", "--out", str(out)], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0 and "nowhere.npz" in bad.stderr


def test_select_shard_directory_end_to_end(tmp_path, capsys):
    from coresets.embed import embed_to_shards
    from coresets.streaming import RandGreeDi, select_from_shards

    X = np.random.default_rng(3).normal(size=(3000, 8)).astype(np.float32)
    shards = tmp_path / "shards"
    embed_to_shards(lambda b: b, X, shards, shard_size=1000, progress=False)
    rc = main(["select", "--input", str(shards), "--n-samples", "1%", "--method",
               "facility-location", "--n-neighbors", "16", "--seed", "0",
               "--out", str(tmp_path / "o"), "--no-progress"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    ref = select_from_shards(shards, 30, algorithm=RandGreeDi(n_neighbors=16), random_state=0)
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "indices.npy"), ref.indices)
    np.testing.assert_allclose(np.load(tmp_path / "o" / "weights.npy"), ref.weights)


def test_select_does_not_import_the_scaling_harness(emb, tmp_path):
    code = (
        "import sys; from coresets.cli import main; "
        f"rc = main(['select', '--input', {str(emb / 'X.npy')!r}, '--n-samples', '10', "
        f"'--method', 'facility-location', '--out', {str(tmp_path / 'o')!r}, '--no-progress']); "
        "assert rc == 0; assert 'coresets.scaling' not in sys.modules, 'scaling imported'; "
        # a CPU-only machine learns that CUDA is absent without paying for a torch import
        "from coresets._device import _no_cuda_driver; "
        "assert not _no_cuda_driver() or 'torch' not in sys.modules, 'torch imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_python_m_coresets_demo_is_the_demo_command():
    r = subprocess.run(
        [sys.executable, "-m", "coresets.demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: coresets demo") and "--features" in r.stdout


def test_no_driver_shortcut_agrees_with_torch():
    import torch

    from coresets._device import _no_cuda_driver, cuda_available

    if _no_cuda_driver():
        assert not torch.cuda.is_available()
    assert cuda_available() == torch.cuda.is_available()


# --- issue 14: --version, embed, knn, every objective, --metric dot, .npz input ------------


def test_version(capsys):
    import coresets

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"coresets {coresets.__version__}"


def _select(args, out):
    return main(["select", *args, "--out", str(out), "--no-progress"])


@pytest.mark.parametrize(
    "method",
    ["facility-location", "graph-cut", "saturated-coverage", "feature-based", "k-center",
     "herding", "random", "ccs", "d2", "moderate", "prototype", "facility-location-per-class",
     "k-center-per-class"],
)  # fmt: skip
def test_select_reaches_every_objective(emb, tmp_path, method):
    from coresets.selectors.registry import make_selector

    assert _select(["--input", str(emb / "X.npy"), "--labels", str(emb / "y.npy"),
                    "--n-samples", "15", "--method", method], tmp_path / "o") == 0  # fmt: skip
    X, y = np.load(emb / "X.npy"), np.load(emb / "y.npy")
    ref = make_selector(method, 15, random_state=0).fit(X, y)
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "indices.npy"), ref.ranking_)


def test_select_objective_options_and_dot_metric(emb, tmp_path):
    from coresets.selectors import (
        CCSSelector,
        FacilityLocationSelector,
        FeatureBasedSelector,
        GraphCutSelector,
    )

    X = np.load(emb / "X.npy")
    cases = [
        (["--method", "graph-cut", "--lam", "3"],
         GraphCutSelector(15, lam=3.0, n_neighbors="auto", random_state=0)),
        (["--metric", "dot", "--optimizer", "naive"],
         FacilityLocationSelector(15, metric="dot", n_neighbors="auto", optimizer="naive")),
        (["--method", "feature-based", "--concave", "log"], FeatureBasedSelector(15, concave="log")),
    ]  # fmt: skip
    scores = np.arange(300, dtype=float) % 17
    np.save(tmp_path / "scores.npy", scores)
    cases.append(
        (["--method", "ccs", "--scores", str(tmp_path / "scores.npy"), "--hard-prune", "0.2"],
         CCSSelector(15, scores=scores, hard_prune=0.2, random_state=0))
    )  # fmt: skip
    for i, (args, ref) in enumerate(cases):
        out = tmp_path / f"o{i}"
        assert _select(["--input", str(emb / "X.npy"), "--n-samples", "15", *args], out) == 0
        np.testing.assert_array_equal(np.load(out / "indices.npy"), ref.fit(X).ranking_)
    # the dot metric changes the choice on these unnormalised rows
    assert not np.array_equal(
        np.load(tmp_path / "o1" / "indices.npy"),
        FacilityLocationSelector(15, metric="euclidean").fit(X).ranking_,
    )


def test_knn_then_select_on_the_graph(emb, tmp_path, capsys):
    import scipy.sparse as sp

    from coresets.knn import knn_graph
    from coresets.selectors import FacilityLocationSelector

    g = tmp_path / "graph.npz"
    rc = main(["knn", "--input", str(emb / "X.npy"), "--n-neighbors", "10", "--metric",
               "euclidean", "--out", str(g), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "recall 1.000" in out and "; index flat" in out  # exact: no sample
    X = np.load(emb / "X.npy")
    G, ref = sp.load_npz(g), knn_graph(X, n_neighbors=10, metric="euclidean", random_state=0)
    assert G.format == "csr" and (G != ref).nnz == 0
    assert not list(tmp_path.glob(".*tmp"))
    assert _select(["--input", str(g), "--n-samples", "20"], tmp_path / "s") == 0
    # the graph is the similarity the selector would build itself from the embeddings
    own = FacilityLocationSelector(20, metric="euclidean", n_neighbors=10, random_state=0).fit(X)
    np.testing.assert_array_equal(np.load(tmp_path / "s" / "indices.npy"), own.ranking_)
    assert _select(["--input", str(g), "--n-samples", "20", "--method", "graph-cut"],
                   tmp_path / "gc") == 0  # fmt: skip


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--method", "k-center"], "needs embeddings (.npy), not a .npz graph"),
        (["--metric", "cosine"], "--metric does not apply to a .npz graph"),
        (["--lam", "2"], "--lam does not apply to --method facility-location"),
    ],
)
def test_select_on_a_graph_errors(emb, tmp_path, capsys, args, msg):
    g = tmp_path / "graph.npz"
    assert main(["knn", "--input", str(emb / "X.npy"), "--n-neighbors", "5", "--out", str(g),
                 "--recall-sample", "0", "--no-progress"]) == 0  # fmt: skip
    capsys.readouterr()
    assert _select(["--input", str(g), "--n-samples", "5", *args], tmp_path / "o") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("coresets select: error:") and msg in err and "\n" not in err


def test_npz_that_is_not_a_graph_is_a_clean_error(tmp_path, capsys):
    np.savez(tmp_path / "x.npz", X=np.ones((4, 2)))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    for name, msg in (("x.npz", "holds arrays ['X'], not a sparse graph"),
                      ("junk.npz", "could not be read as .npz")):  # fmt: skip
        assert _select(["--input", str(tmp_path / name), "--n-samples", "2"], tmp_path / "o") == 1
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err and err.count("\n") == 1


def test_knn_errors(emb, tmp_path, capsys):
    base = ["knn", "--input", str(emb / "X.npy"), "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "g.npy")]) == 1
    assert "--out must name a .npz file" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "g.npz"), "--n-neighbors", "300"]) == 1
    assert "n_neighbors must be < n_rows (300)" in capsys.readouterr().err


def test_embed_text_file_with_the_sentence_model(tmp_path, capsys):
    from coresets.embed import sentence_embeddings

    lines = ["the cat sat on the mat", "", "a kitten sat on a rug", "stocks fell sharply today"]
    (tmp_path / "t.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "e.npy"
    assert main(["embed", "--input", str(tmp_path / "t.txt"), "--out", str(out),
                 "--device", "cpu", "--no-progress"]) == 0  # fmt: skip
    assert "embedded 4 rows into 384 dims" in capsys.readouterr().out
    E = np.load(out)
    assert E.shape == (4, 384) and E.dtype == np.float32  # the blank line is a row too
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    ref = sentence_embeddings(lines, device="cpu")
    np.testing.assert_allclose(E, ref, atol=1e-5)
    # similar sentences are closer: the real model, not a stand-in
    assert E[0] @ E[2] > E[0] @ E[3]


def test_embed_npy_with_a_model(tmp_path, capsys):
    import torch

    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    base = ["embed", "--input", str(tmp_path / "X.npy"), "--no-progress", "--device", "cpu"]
    assert main([*base, "--model", "torch:tanh", "--out", str(tmp_path / "a.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "a.npy"), np.tanh(X), atol=1e-6)
    lin = torch.nn.Linear(4, 3)
    batch = torch.export.Dim("batch")
    ep = torch.export.export(lin, (torch.zeros(8, 4),), dynamic_shapes=({0: batch},))
    torch.export.save(ep, tmp_path / "lin.pt2")
    out = tmp_path / "b.npy"
    assert main([*base, "--model", str(tmp_path / "lin.pt2"), "--batch-size", "16",
                 "--normalize", "--out", str(out)]) == 0  # fmt: skip
    with torch.no_grad():
        want = torch.nn.functional.normalize(lin(torch.as_tensor(X)), dim=1).numpy()
    np.testing.assert_allclose(np.load(out), want, atol=1e-5)
    capsys.readouterr()
    for extra, msg in (
        ([], "--model is required for .npy input"),
        (["--model", "nosuchmodule_xyz:f"], "could not be imported"),
        (["--model", "torch:no_such_thing"], "has no attribute"),
        (["--model", "plainword"], "neither a file nor module:attribute"),
    ):
        assert main([*base, *extra, "--out", str(tmp_path / "c.npy")]) == 1
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00bad")
    assert (
        main(["embed", "--input", str(tmp_path / "bad.txt"), "--out", str(tmp_path / "d.npy")]) == 1
    )
    assert "is not UTF-8 text" in capsys.readouterr().err
    assert main([*base, "--model", "torch:tanh", "--out", str(tmp_path / "e.txt")]) == 1
    assert "--out must name a .npy file" in capsys.readouterr().err


def test_scaling_help_lists_the_input_formats(capsys):
    with pytest.raises(SystemExit):
        main(["scaling", "--help"])
    text = capsys.readouterr().out
    for word in (".npz", "X.npy", ".csv", ".parquet", "--label-column", "--test-fraction",
                 "--labels", "shard", "strings"):  # fmt: skip
        assert word in text, word


def test_scaling_resume_error_names_the_flags(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text(
        json.dumps({"config": {"data": {"n_train": 1}}, "records": []})
    )
    argv = ["scaling", "--dataset", "digits", "--methods", "random", "--sizes", "40",
            "--seeds", "1", "--max-steps", "200", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "--no-resume" in err and "resume=False" not in err
    assert f"--out {out}" in err and "out_dir" not in err


def test_scaling_bad_dataset_files_are_one_line(tmp_path, capsys):
    np.save(tmp_path / "X.npy", np.zeros((10, 2)))
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    cases = [
        (["--dataset", str(tmp_path / "X.npy")], "pass labels (--labels y.npy)"),
        (["--dataset", str(tmp_path / "t.csv")], "--label-column"),
        (["--dataset", str(tmp_path / "nope.npz")], "neither one of"),
        (["--dataset", "digits", "--labels", "y.npy"], "labels applies to data files"),
    ]
    for args, msg in cases:
        assert main(["scaling", *args, "--out", str(tmp_path / "o"), "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_scaling_on_a_csv_with_string_labels(tmp_path):
    X, y = load_digits(return_X_y=True)
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])[y]  # fmt: skip
    rows = ["label," + ",".join(f"p{i}" for i in range(64))]
    rows += [f"{n}," + ",".join(str(int(v)) for v in x) for n, x in zip(names, X, strict=True)]
    (tmp_path / "digits.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    rc = main(["scaling", "--dataset", str(tmp_path / "digits.csv"), "--test-fraction", "0.25",
               "--methods", "random,graph-cut", "--sizes", "60", "--seeds", "1",
               "--max-steps", "200", "--out", str(out), "--no-progress"])  # fmt: skip
    assert rc == 0
    table = (out / "results.csv").read_text().splitlines()
    assert len(table) == 3 and {r.split(",")[0] for r in table[1:]} == {"random", "graph_cut"}
    config = json.loads((out / "results.json").read_text())["config"]
    assert config["data"]["n_test"] == 450 and config["data"]["n_train"] == 1347


@pytest.mark.slow
def test_scaling_rerun_with_fewer_methods_keeps_the_whole_table_in_plot_and_report(tmp_path):
    out = tmp_path / "run"
    base = ["scaling", "--dataset", "digits", "--sizes", "40", "--seeds", "1",
            "--max-steps", "200", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main([*base, "--methods", "random,k-center"]) == 0
    assert main([*base, "--methods", "random"]) == 0
    report = (out / "scaling.md").read_text()
    assert "| k_center |" in report and "| random |" in report
    rows = (out / "results.csv").read_text().splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == ["k_center", "random"]


def test_dedup_subcommand_matches_the_function(tmp_path):
    from coresets.dedup import semantic_duplicates

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 16)).astype(np.float32)
    X = np.vstack([X, X[:40] + 1e-3 * rng.normal(size=(40, 16)).astype(np.float32)])
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "dedup"
    assert (
        main(["dedup", "--input", str(tmp_path / "X.npy"), "--out", str(out), "--no-progress"]) == 0
    )
    ref = semantic_duplicates(X, random_state=0)
    np.testing.assert_array_equal(np.load(out / "kept.npy"), ref.kept)
    np.testing.assert_array_equal(np.load(out / "duplicate_of.npy"), ref.duplicate_of)
    assert len(ref.removed) >= 40
    assert json.loads((out / "summary.json").read_text())["removed"] == len(ref.removed)
    assert main(["dedup", "--input", str(tmp_path / "nope.npy"), "--out", str(out)]) == 1


def test_select_summary_reports_the_knn_graph(tmp_path):
    X = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "sel"
    rc = main(["select", "--input", str(tmp_path / "X.npy"), "--n-samples", "10%",
               "--n-neighbors", "8", "--out", str(out), "--no-progress"])  # fmt: skip
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["knn_graphs"] == [{"index": "flat", "recall": 1.0, "sample": 0}]


def test_scaling_report_names_string_classes(tmp_path):
    from sklearn.datasets import load_iris

    iris = load_iris()
    rows = ["species," + ",".join(f"f{i}" for i in range(4))]
    rows += [
        f"{iris.target_names[t]}," + ",".join(f"{v:g}" for v in x)
        for x, t in zip(iris.data, iris.target, strict=True)
    ]
    (tmp_path / "iris.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    rc = main(["scaling", "--dataset", str(tmp_path / "iris.csv"), "--label-column", "species",
               "--methods", "k-center", "--sizes", "24", "--seeds", "1",
               "--max-steps", "200", "--out", str(out), "--no-progress"])  # fmt: skip
    assert rc == 0
    saved = json.loads((out / "results.json").read_text())
    assert saved["config"]["classes"] == {
        "names": ["setosa", "versicolor", "virginica"],
        "pool_counts": [40, 40, 40],  # the stratified 80% of 50 each
    }
    report = (out / "scaling.md").read_text()
    section = report[report.index("## Class balance") : report.index("## Learning-curve laws")]
    for name in iris.target_names:
        assert f"\n| {name} | 33.3% (40) | " in section
