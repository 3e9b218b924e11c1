"""RandGreeDi on a 2-worker Dask LocalCluster: same selection as in-process, survives a dead worker."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from coresets.streaming import RandGreeDi, select_from_shards

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    # One cluster for the module: starting worker processes costs seconds each.
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(15, 8)) * 4
    X = (centers[rng.integers(15, size=2400)] + rng.normal(size=(2400, 8))).astype(np.float32)
    root = tmp_path_factory.mktemp("dask_shards")
    for i in range(4):
        np.save(root / f"shard_{i}.npy", X[i * 600 : (i + 1) * 600])
    return root


KW = dict(algorithm=RandGreeDi(n_partitions=4), random_state=11)


def test_cluster_gives_in_process_selection(client, shards):
    local = select_from_shards(shards, 30, **KW)
    remote = select_from_shards(shards, 30, client=client, **KW)
    np.testing.assert_array_equal(remote.indices, local.indices)
    np.testing.assert_array_equal(remote.gains, local.gains)
    np.testing.assert_array_equal(remote.weights, local.weights)


def test_dead_worker_is_survived_with_the_same_result(client, shards, tmp_path):
    marker = str(tmp_path / "killed-once")

    class KillOnce(distributed.WorkerPlugin):
        """SIGKILL the worker process the first time it starts a partition task."""

        def transition(self, key, start, finish, **kwargs):
            if finish == "executing" and "partition" in str(key) and not os.path.exists(marker):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)

    local = select_from_shards(shards, 30, **KW)
    client.register_plugin(KillOnce(), name="kill-once")
    try:
        remote = select_from_shards(shards, 30, client=client, **KW)
    finally:
        client.unregister_worker_plugin("kill-once")
    assert os.path.exists(marker)  # a worker really died
    np.testing.assert_array_equal(remote.indices, local.indices)
    np.testing.assert_array_equal(remote.weights, local.weights)
    client.wait_for_workers(2, timeout=60)
