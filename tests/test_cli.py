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
