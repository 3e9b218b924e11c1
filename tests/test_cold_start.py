"""Cold start: the compiled optimiser loops load from numba's disk cache in a fresh process.

Issue 13: a fresh process that selects pays imports and cache loads, not the ~3 s of
compiling the lazy-greedy loop again. The checks read numba's cache (its index files and
the dispatchers' hit/miss counts), not the clock.
"""

import importlib.util
import json
import os
import subprocess
import sys

from coresets.submodular import _loops

# A tiny selection per compiled loop, on a stored sparse similarity (the storage whose
# kernels compile fastest: no threaded ones, no similarity to build); prints each loop's
# cache hits and misses in this process.
_SELECT = """
import json
import numpy as np
import scipy.sparse as sp
from coresets.submodular import _loops
from coresets.submodular.functions import FacilityLocation
from coresets.submodular.optimizers import StochasticGreedy, maximize

X = np.random.default_rng(0).random((40, 3))
S = X @ X.T
f = FacilityLocation(sp.csr_matrix(np.where(S > 0.6, S, 0.0)))
lazy = maximize(f, 5, "lazy")
stochastic = maximize(f, 5, StochasticGreedy(random_state=0))
loops = _loops.specialise(f.kernels(f.init_state()))
print(json.dumps({
    "picks": [lazy.indices.tolist(), stochastic.indices.tolist()],
    **{
        name: [sum(loop.stats.cache_hits.values()), sum(loop.stats.cache_misses.values())]
        for name, loop in loops._asdict().items()
    },
}))
"""


def _run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), NUMBA_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", _SELECT], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cache_files(cache_dir):
    return {
        p.name: p.stat().st_mtime_ns for p in cache_dir.rglob("*") if p.suffix in (".nbi", ".nbc")
    }


def test_loops_compile_once_then_load_from_the_disk_cache(tmp_path):
    first = _run(tmp_path)
    # compiled here, with entries written for both loops of the sparse kernel set
    assert first["lazy"] == [0, 1] and first["stochastic"] == [0, 1]
    files = _cache_files(tmp_path)
    for template in ("lazy_loop", "stochastic_loop"):
        index = [n for n in files if n.startswith(f"_loops.{template}_fl_sparse_gain1_")]
        assert index and any(n.endswith(".nbi") for n in index), sorted(files)

    second = _run(tmp_path)
    # a fresh process loads both loops and compiles nothing: no file written or rewritten
    assert second["lazy"] == [1, 0] and second["stochastic"] == [1, 0]
    assert _cache_files(tmp_path) == files
    assert second["picks"] == first["picks"]


def _kernel_module(path, name, body):
    """Write a one-kernel module to ``path`` and import it as a new module ``name``."""
    path.write_text(f"from numba import njit\n\n\n@njit\ndef gain(args, cur, j):\n    {body}\n")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loop_names_follow_the_kernels_source(tmp_path):
    # numba checks only the loop's own file; an edit of the kernels' file (between two
    # processes) must give the loops a new name, so new cache entries, instead of loading
    # loops built on the old kernels
    path = tmp_path / "user_kernels.py"
    name, cached = _loops._label([_kernel_module(path, "user_kernels", "return 1.0").gain])
    assert cached and name.startswith("gain_") and name.isidentifier()
    again = _loops._label([_kernel_module(path, "user_kernels", "return 1.0").gain])
    edited = _loops._label([_kernel_module(path, "user_kernels", "return 2.0").gain])
    assert again == (name, True)  # the same text, the same name
    assert edited[1] and edited[0] != name

    namespace = {}
    exec("from numba import njit\ngain = njit(lambda args, cur, j: 1.0)", namespace)
    assert _loops._label([namespace["gain"]])[1] is False  # no source file: not cached


def test_one_specialisation_per_kernel_set():
    import numpy as np
    import scipy.sparse as sp

    from coresets.submodular.functions import FacilityLocation

    S = np.eye(4)
    dense, dense64, sparse = (
        FacilityLocation(S.astype(np.float32)),
        FacilityLocation(S),
        FacilityLocation(sp.csr_matrix(S)),
    )
    specialised = [_loops.specialise(f.kernels(f.init_state())) for f in (dense, dense64, sparse)]
    # dtypes are signatures of one loop; another storage is another loop
    assert specialised[0] is specialised[1]
    assert specialised[0].lazy is not specialised[2].lazy
    assert specialised[0].lazy.py_func.__qualname__.startswith("lazy_loop_fl_dense_gain1_")
    assert specialised[2].stochastic.py_func.__qualname__.startswith(
        "stochastic_loop_fl_sparse_gain1_"
    )


def test_importing_the_selectors_stays_light():
    # what scikit-learn itself imports (it imports pandas where installed) is not ours to avoid
    code = (
        "import sys; import sklearn.base; before = set(sys.modules); "
        "import coresets.selectors; "
        "added = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "heavy = {'torch', 'dask', 'pandas', 'matplotlib', 'sentence_transformers'}; "
        "assert not added & heavy, sorted(added & heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
