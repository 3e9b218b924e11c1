"""Run independent tasks in-process or on a Dask cluster, handing results back as they finish.

The in-process executor is a plain loop. With a ``dask.distributed.Client`` every task
is submitted with ``retries``, so a task whose worker dies (or that raises) is run
again elsewhere; the task functions here are pure (their result depends only on their
arguments), so a retried task returns exactly what the first attempt would have.
"""

from __future__ import annotations

#: Retries per task on a Dask cluster (a dead worker costs one).
DEFAULT_RETRIES = 3


def check_client(client):
    """Return ``client`` if it is None or a ``dask.distributed.Client``; else raise ``TypeError``."""
    if client is None:
        return None
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - dask is in the dask/dev extras
        raise ImportError("client needs dask.distributed: pip install 'coresets[dask]'") from exc
    if not isinstance(client, Client):
        raise TypeError(
            f"client must be a dask.distributed.Client or None, got {type(client).__name__}"
        )
    return client


def run_tasks(fn, tasks, *, client=None, name="task", retries=DEFAULT_RETRIES):
    """Run ``fn(*args)`` for every ``(key, args)`` in ``tasks``; yield ``(key, result)`` as each ends.

    Parameters
    ----------
    fn : callable, importable at module level (Dask workers unpickle it by reference).
    tasks : list of (key, tuple)
        ``key`` is a str or int naming the unit of work (used in the Dask task key).
    client : dask.distributed.Client or None
        None runs the tasks one after another in this process, in order.
    name : str, prefix of the Dask task keys.
    retries : int, Dask retries per task.

    Yields
    ------
    (key, result), in finishing order (submission order in-process).
    """
    tasks = list(tasks)
    if client is None:
        for key, args in tasks:
            yield key, fn(*args)
        return
    from distributed import as_completed

    futures = {}
    for key, args in tasks:
        # Explicit keys: the same work gets the same key, so nothing runs twice when a
        # driver resubmits, and dashboards show what each task is.
        fut = client.submit(fn, *args, key=f"{name}-{key}", retries=retries, pure=False)
        futures[fut] = key
    try:
        for fut in as_completed(list(futures)):
            yield futures[fut], fut.result()
    finally:
        for fut in futures:
            fut.release()
