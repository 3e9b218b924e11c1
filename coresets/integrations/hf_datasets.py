"""Hugging Face ``datasets``: select from a ``datasets.Dataset`` and get the subset back as one.

- :func:`dataset_embeddings` - a float32 (n, d) matrix from a dataset's embedding column
  (read through Arrow, no per-row Python), or a text column embedded with the sentence
  model (:func:`coresets.embed.sentence_embeddings`).
- Every selector's ``fit`` and :func:`coresets.embed.embed` also take a
  ``datasets.Dataset`` directly; they use its embedding column (model input column for
  ``embed``), chosen by :func:`embedding_column`.
- :func:`select_dataset` - the chosen rows as a ``datasets.Dataset``: rows in dataset
  order (sorted indices read contiguously, then ``flatten_indices``), the selection
  order in a rank column and mean-1 coreset weights in a weight column.
- :func:`split_by_node` - this node's part of a dataset for distributed selection: a
  seeded uniform random partition (``split_dataset_by_node`` alone gives contiguous
  chunks) and the part's row ids in the original dataset.
- :class:`DatasetShards` - a dataset's embedding column as shards for
  :func:`coresets.streaming.select_from_shards` (RandGreeDi, SampleGreedy, Sieve,
  in-process or on Dask); the selection's indices are the dataset's row numbers.

``datasets`` is imported only when one of these is called (the ``datasets`` extra:
``pip install 'coresets[datasets]'``); importing this module imports neither it nor
pyarrow.

Example
-------
>>> import numpy as np, datasets
>>> from coresets import FacilityLocationSelector
>>> from coresets.integrations.hf_datasets import select_dataset
>>> ds = datasets.Dataset.from_dict({"embedding": np.random.rand(100, 8), "label": [0] * 100})
>>> sel = FacilityLocationSelector(n_samples=10).fit(ds)  # uses the "embedding" column
>>> subset = select_dataset(ds, sel)  # 10 rows + "selection_rank" and "coreset_weight"
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import warnings

import numpy as np

from .._validation import check_finite, check_indices, check_int
from ..selection import Selection
from ..shards import ShardedEmbeddings, arrow_vectors

__all__ = [
    "EMBEDDING_COLUMNS",
    "DatasetShards",
    "dataset_embeddings",
    "embedding_column",
    "select_dataset",
    "split_by_node",
]

#: Column names taken as the embedding column whatever else the dataset holds.
EMBEDDING_COLUMNS = ("embedding", "embeddings")

#: The ``datasets`` classes :func:`is_hf_dataset` recognises.
_KINDS = ("Dataset", "IterableDataset", "DatasetDict", "IterableDatasetDict", "Column")

#: Rows per shard of :class:`DatasetShards` by default (as ``embed_to_shards``).
DEFAULT_SHARD_SIZE = 65_536


def _import_datasets(what: str = "this function"):
    try:
        import datasets
    except ImportError as exc:
        raise ImportError(
            f"{what} needs Hugging Face datasets: pip install 'coresets[datasets]'; "
            f"import failed: {exc}"
        ) from None
    return datasets


def is_hf_dataset(obj) -> bool:
    """Whether ``obj`` is a ``datasets`` Dataset, IterableDataset, DatasetDict or Column.

    Never imports ``datasets``: an object of one of its classes exists only once the
    module is loaded, so the type's module name is checked first and ``sys.modules``
    is looked up after.
    """
    if type(obj).__module__.partition(".")[0] != "datasets":
        return False
    hf = sys.modules.get("datasets")
    kinds = tuple(getattr(hf, name) for name in _KINDS if isinstance(getattr(hf, name, None), type))
    return bool(kinds) and isinstance(obj, kinds)


@contextlib.contextmanager
def _library_progress(datasets, progress: bool):
    """Hide ``datasets``' own progress bars (``flatten_indices`` runs a ``map``) unless
    ``progress``; its global switch is restored afterwards."""
    disabled = getattr(datasets, "are_progress_bars_disabled", None)
    if progress or disabled is None or disabled():  # older datasets: leave its bars alone
        yield
        return
    with warnings.catch_warnings():
        # HF_DATASETS_DISABLE_PROGRESS_BARS=0 forces bars on; that choice is the user's
        warnings.simplefilter("ignore")
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if disabled():
            datasets.enable_progress_bars()


def _check_dataset(obj, name: str):
    """``obj`` if it is a map-style ``datasets.Dataset``, else a TypeError saying what to pass."""
    datasets = _import_datasets(f"{name} as a Hugging Face dataset")
    if isinstance(obj, datasets.Dataset):
        return obj
    if isinstance(obj, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        splits = list(obj)
        raise TypeError(
            f"{name} is a {type(obj).__name__} of splits {splits}; pass one split, "
            f"e.g. {name}[{splits[0]!r}]"
            if splits
            else f"{name} is an empty {type(obj).__name__}"
        )
    if isinstance(obj, datasets.IterableDataset):
        raise TypeError(
            f"{name} is a datasets.IterableDataset; this needs random access to its rows: "
            "load it without streaming=True or materialise it (datasets.Dataset.from_generator)"
        )
    raise TypeError(f"{name} must be a datasets.Dataset, got {type(obj).__name__}")


# --------------------------------------------------------------------------- columns
def _storage(typ):
    """The storage type of an Arrow extension type (``datasets``' ArrayND), else ``typ``."""
    import pyarrow as pa

    while isinstance(typ, pa.ExtensionType):
        typ = typ.storage_type
    return typ


def _is_list(typ) -> bool:
    import pyarrow as pa

    return pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ)


def _is_number(typ) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(typ) or pa.types.is_floating(typ)


def _array_depth(typ) -> int:
    """Nesting depth of a list-of-numbers type (1: one vector per row); 0 for anything else."""
    depth, typ = 0, _storage(typ)
    while _is_list(typ):
        depth, typ = depth + 1, _storage(typ.value_type)
    return depth if depth and _is_number(typ) else 0


def _schema(dataset):
    features = dataset.features
    if features is None:  # an IterableDataset whose features were never resolved
        raise ValueError(
            "the dataset's features are unknown (a streamed IterableDataset); give them with "
            "dataset.cast(features) or load the dataset with its features"
        )
    return features.arrow_schema


def embedding_column(dataset, *, name: str = "dataset", hint: str | None = None) -> str:
    """The column that holds the embeddings (or model inputs) of ``dataset``.

    A column named ``"embedding"`` or ``"embeddings"`` (:data:`EMBEDDING_COLUMNS`, not
    both) when there is one; else the only column holding a list or array of numbers
    per row (``List(Value("float32"))``, fixed-size lists, ``Array2D`` ...). Labels,
    text and other scalar columns never count.

    Parameters
    ----------
    dataset : datasets.Dataset or datasets.IterableDataset
    name : str, default "dataset"
        The argument's name in error messages.
    hint : str, optional
        What the user should do instead, appended to the error.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        When no column or several columns qualify; the message lists the columns.
    """
    schema = _schema(dataset)
    names = list(schema.names)
    named = [c for c in EMBEDDING_COLUMNS if c in names]
    if len(named) == 1:
        return named[0]
    numeric = [c for c in names if _array_depth(schema.field(c).type)]
    if not named and len(numeric) == 1:
        return numeric[0]
    if named:
        reason = f"it has both {named[0]!r} and {named[1]!r}"
    elif numeric:
        reason = f"several columns hold arrays of numbers ({numeric})"
    else:
        reason = "no column holds a list or array of numbers per row"
    hint = hint or (
        "name the embedding column 'embedding' or pick it with "
        "coresets.integrations.hf_datasets.dataset_embeddings(dataset, column=...)"
    )
    raise ValueError(f"{name} is a datasets.Dataset with columns {names}: {reason}; {hint}")


def _check_column(dataset, column, name: str, option: str) -> str:
    if not isinstance(column, str):
        raise TypeError(f"{option} must be a column name (str), got {type(column).__name__}")
    if column not in dataset.column_names:
        raise ValueError(f"{option}={column!r} is not a column of {name}: {dataset.column_names}")
    return column


def _arrow_column(dataset, column, key):
    """Rows ``key`` (a slice or sorted row ids) of ``column`` as a pyarrow ChunkedArray.

    The ``arrow`` format reads through the dataset's indices mapping (a ``select`` or
    ``shuffle`` view) without converting rows to Python objects.
    """
    return dataset.with_format("arrow", columns=[column])[key].column(0)


def _column_matrix(dataset, column: str, key=slice(None), *, name: str = "dataset") -> np.ndarray:
    """Rows ``key`` of the vector column ``column`` as a float32 (n, d) C-contiguous array.

    Each Arrow chunk's flat value buffer is reshaped at once: no Python loop over rows.
    Ragged rows, nulls, nested arrays and non-numeric values raise ``ValueError`` naming
    the column; NaN and inf too.
    """
    what = f"{name} column {column!r}"
    col = _arrow_column(dataset, column, key)
    typ = _storage(col.type)
    if not _is_list(typ):
        extra = f"; pass text_column={column!r} to embed text" if _is_text(typ) else ""
        raise ValueError(f"{what} holds {col.type}, not a list of numbers per row{extra}")
    if not _is_number(_storage(typ.value_type)):
        kind = "nested arrays" if _is_list(_storage(typ.value_type)) else str(typ.value_type)
        raise ValueError(
            f"{what} holds {kind} per row; an embedding column holds one vector of numbers "
            "per row (flatten the arrays or embed them with coresets.embed.embed first)"
        )
    if len(col) == 0:
        raise ValueError(f"{what} is empty (0 rows)")
    out = arrow_vectors(col, what)
    check_finite(out, what)
    return out


def _is_text(typ) -> bool:
    import pyarrow as pa

    is_view = getattr(pa.types, "is_string_view", None)  # pyarrow >= 16
    return (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or (is_view is not None and is_view(typ))
    )


def _column_texts(dataset, column: str, name: str) -> list:
    col = _arrow_column(dataset, column, slice(None))
    if not _is_text(_storage(col.type)):
        raise ValueError(f"{name} text_column {column!r} holds {col.type}, not strings")
    if col.null_count:
        raise ValueError(f"{name} text_column {column!r} has {col.null_count} null rows")
    return col.to_pylist()


# --------------------------------------------------------------------------- embeddings
def dataset_embeddings(
    dataset,
    *,
    column=None,
    text_column=None,
    model="all-MiniLM-L6-v2",
    batch_size=64,
    device="auto",
    normalize=True,
    progress=False,
):
    """Embeddings of a ``datasets.Dataset``: its embedding column, or a text column embedded.

    Parameters
    ----------
    dataset : datasets.Dataset of n rows
        A ``select``/``shuffle`` view is read through its indices, in its row order.
    column : str, optional
        A column holding one vector of numbers per row (a list, fixed-size list or
        ``Sequence`` of ints or floats, all of one length). Default: the column
        :func:`embedding_column` picks. Read through Arrow, one chunk at a time.
    text_column : str, optional
        A string column to embed with the sentence model instead (not with ``column``).
    model : "all-MiniLM-L6-v2" or an object with a sentence-transformers ``encode`` method
        The sentence model for ``text_column`` (see
        :func:`coresets.embed.sentence_embeddings`; the ``text`` extra).
    batch_size, device, normalize, progress
        Passed to :func:`coresets.embed.sentence_embeddings` with ``text_column``;
        an embedding column is returned as stored (cast to float32).

    Returns
    -------
    embeddings : ndarray of float32, shape (n, d)

    Raises
    ------
    ValueError
        Naming the column: not a column, not numeric, ragged, nested, null or non-finite
        values; a text column that holds no strings.
    TypeError
        ``dataset`` is not a ``datasets.Dataset`` (a DatasetDict or IterableDataset
        says what to pass instead).
    """
    ds = _check_dataset(dataset, "dataset")
    if column is not None and text_column is not None:
        raise ValueError("pass column (an embedding column) or text_column, not both")
    if text_column is not None:
        from ..embed import sentence_embeddings

        texts = _column_texts(
            ds, _check_column(ds, text_column, "dataset", "text_column"), "dataset"
        )
        if not texts:
            raise ValueError(f"dataset text_column {text_column!r} is empty (0 rows)")
        return sentence_embeddings(
            texts,
            model,
            batch_size=batch_size,
            device=device,
            normalize=normalize,
            progress=progress,
        )
    if column is None:
        column = embedding_column(
            ds,
            hint="pass column=<embedding column>, or text_column=<text column> to embed text",
        )
    return _column_matrix(ds, _check_column(ds, column, "dataset", "column"))


def selector_input(X, name: str = "X") -> np.ndarray:
    """A selector's X given as a ``datasets.Dataset`` (or one column of it): its embeddings.

    Selectors take no column option; the column is :func:`embedding_column`'s choice
    (or the ``Column`` given, ``dataset["embedding"]``).
    """
    datasets = _import_datasets(f"{name} as a Hugging Face dataset")
    column_type = getattr(datasets, "Column", None)
    if isinstance(column_type, type) and isinstance(X, column_type):
        if isinstance(X.source, datasets.Dataset):
            return _column_matrix(X.source, X.column_name, name=name)
        raise TypeError(f"{name} is a nested datasets.Column; pass the dataset's column instead")
    ds = _check_dataset(X, name)
    column = embedding_column(
        ds,
        name=name,
        hint=(
            "compute the embeddings with coresets.integrations.hf_datasets."
            f"dataset_embeddings({name}, column=... or text_column=...) and pass the array"
        ),
    )
    return _column_matrix(ds, column, name=name)


def label_values(y, name: str = "y") -> np.ndarray:
    """Labels given as a ``datasets.Column`` (``dataset["label"]``), read through Arrow.

    ``np.asarray`` on a ``Column`` converts it one row at a time (minutes for a million
    rows); this reads the column's Arrow array in one piece.
    """
    datasets = _import_datasets(f"{name} as a Hugging Face column")
    if not isinstance(y.source, datasets.Dataset):
        raise TypeError(f"{name} is a nested datasets.Column; pass the dataset's column instead")
    ds = y.source.select_columns([y.column_name]).with_format("numpy")
    return np.asarray(ds[:][y.column_name])


def iter_input_batches(data, batch_size: int, skip: int = 0, name: str = "data"):
    """Yield ``(x, None)`` torch batches of a dataset's model-input column, in row order.

    For :func:`coresets.embed.embed`: the column is :func:`embedding_column`'s choice
    (a list or array of numbers per row, any shape); batches come from the ``torch``
    format, sliced (``Dataset``) or streamed with ``.iter`` (``IterableDataset``), so
    rows are never collated one by one. The first ``skip`` rows never reach the model
    (a ``Dataset`` is sliced past them; an ``IterableDataset`` streams past them).
    """
    import torch

    datasets = _import_datasets(f"{name} as a Hugging Face dataset")
    if not isinstance(data, (datasets.Dataset, datasets.IterableDataset)):
        _check_dataset(data, name)  # raises the right TypeError
    column = embedding_column(
        data,
        name=name,
        hint=f"keep only the model's input column: {name}.select_columns([<column>])",
    )
    if isinstance(data, datasets.Dataset):
        ds = data.with_format("torch", columns=[column])
        batches = (ds[s : s + batch_size] for s in range(skip, len(ds), batch_size))
    else:
        ds = data.select_columns([column]).with_format("torch")
        batches = (ds.skip(skip) if skip else ds).iter(batch_size=batch_size)
    for batch in batches:
        x = batch[column]
        if not isinstance(x, torch.Tensor):
            raise ValueError(
                f"{name} column {column!r} does not form a tensor batch: its rows are "
                "ragged or not numbers"
            )
        yield x, None


# --------------------------------------------------------------------------- subsets
def _selection_arrays(selection, n: int):
    """``(indices in selection order, weights or None)`` of a Selection, selector or ids."""
    weights = None
    if isinstance(selection, Selection) or (
        hasattr(selection, "fit") and hasattr(selection, "get_params")  # a selector
    ):
        if not isinstance(selection, Selection):
            from sklearn.utils.validation import check_is_fitted

            check_is_fitted(selection, "selection_")
            n_fit = getattr(selection, "n_rows_fit_", n)
            if n_fit != n:
                raise ValueError(
                    f"selection: {type(selection).__name__} was fitted on {n_fit} rows but "
                    f"dataset has {n}"
                )
            selection = selection.selection_
        arr, weights = selection.indices, selection.weights
    else:
        arr = np.asarray(selection)
        if arr.dtype == np.bool_:
            if arr.shape != (n,):
                raise ValueError(
                    f"selection is a boolean mask of shape {arr.shape}; dataset has {n} rows"
                )
            arr = np.flatnonzero(arr)
    indices = check_indices(arr, n, "selection")
    if indices.size == 0:
        raise ValueError("selection is empty; a subset needs at least one row")
    return indices, weights


def select_dataset(
    dataset,
    selection,
    *,
    rank_column="selection_rank",
    weight_column="coreset_weight",
    keep_in_memory=False,
    progress=False,
):
    """The chosen rows of ``dataset`` as a ``datasets.Dataset``, read contiguously.

    ``dataset.select(ranking)`` in selection order leaves an indices mapping that
    jumps around the Arrow table, and every later read pays for it. Here the rows are
    selected in dataset order (sorted ids) and copied into a new contiguous table
    (``flatten_indices``, or an Arrow ``take`` when the result is in memory), and the
    selection order is kept in ``rank_column``: ``subset.sort(rank_column)`` gives the
    rows in the order they were chosen.

    Parameters
    ----------
    dataset : datasets.Dataset of n rows
    selection : Selection, fitted selector, or array-like of int (k,) / bool (n,)
        A :class:`~coresets.selection.Selection` (its ``indices`` in the order chosen),
        a fitted selector (its ``selection_``; it must have been fitted on these n
        rows), distinct row ids in selection order, or a boolean mask of length n.
    rank_column : str or None, default "selection_rank"
        New int64 column: each row's position in the selection order (0 = chosen
        first). None: no rank column.
    weight_column : str or None, default "coreset_weight"
        New float64 column of coreset weights, added when the selection has weights.
        They are divided by their mean, so they have mean 1 over the subset and keep
        their ratios (as every weight :mod:`coresets.sampling` hands to a training loop):
        ``(loss * weight).mean()`` has the scale of the unweighted mean loss. None: no
        weight column.
    keep_in_memory : bool, default False
        Build the subset in memory (one Arrow ``take`` of the sorted rows) instead of
        ``select`` + ``flatten_indices`` into a cache file next to the dataset's. An
        in-memory dataset (no cache files) always takes the in-memory path, which is
        where ``flatten_indices`` would leave it too.
    progress : bool, default False
        Show ``datasets``' progress bar while the rows are flattened.

    Returns
    -------
    datasets.Dataset of k rows
        The chosen rows in increasing row order with every column of ``dataset``, plus
        ``rank_column`` and ``weight_column``, no indices mapping, and ``dataset``'s
        format (type and columns, with the new columns added to a column list).
    """
    ds = _check_dataset(dataset, "dataset")
    indices, weights = _selection_arrays(selection, len(ds))
    added = {}
    order = np.argsort(indices, kind="stable")  # order[p] = rank of the p-th row by id
    if rank_column is not None:
        added[rank_column] = order.astype(np.int64)
    if weight_column is not None and weights is not None:
        from ..sampling import _mean_one

        added[weight_column] = _mean_one(weights)[order]
    for option, col in (("rank_column", rank_column), ("weight_column", weight_column)):
        if col is not None and (not isinstance(col, str) or col in ds.column_names):
            raise ValueError(
                f"{option}={col!r} must be a new column name; dataset has {ds.column_names}"
            )
    if rank_column is not None and rank_column == weight_column:
        raise ValueError("rank_column and weight_column must differ")
    fmt = ds.format
    rows = indices[order]
    datasets = _import_datasets("select_dataset")
    with _library_progress(datasets, progress):
        if keep_in_memory or not ds.cache_files:
            # The subset lives in memory either way (flatten_indices keeps an in-memory
            # dataset's result in memory): one Arrow take of the sorted rows and one
            # concatenation, instead of flatten_indices' map, which casts the gathered
            # rows one Arrow chunk at a time (4-10x slower on 20k scattered rows).
            table = ds.with_format("arrow")[rows].combine_chunks()
            sub = datasets.Dataset(table, info=ds.info.copy(), split=ds.split)
        else:  # written to a cache file beside the dataset's, as flatten_indices does
            sub = ds.select(rows).flatten_indices()
        for col, values in added.items():
            sub = sub.add_column(col, values)
    columns = fmt["columns"]
    if columns is not None:
        columns = None if set(columns) == set(ds.column_names) else [*columns, *added]
    return sub.with_format(
        fmt["type"],
        columns=columns,
        output_all_columns=fmt["output_all_columns"],
        **fmt["format_kwargs"],
    )


# --------------------------------------------------------------------------- distributed
def split_by_node(dataset, *, rank, world_size, random_state=0):
    """This node's part of ``dataset`` in a seeded uniform random partition, and its row ids.

    ``datasets.distributed.split_dataset_by_node`` gives node ``r`` the ``r``-th
    contiguous chunk. RandGreeDi's guarantee (Barbosa et al., 2015: a constant
    fraction of the centralised optimum, in expectation) holds for a uniformly random
    partition; contiguous chunks of data stored by class, source or time give each node
    a biased part and the local selections no longer cover the data. So the rows are
    shuffled with ``random_state`` first: node ``rank`` gets exactly the rows of
    ``split_dataset_by_node(dataset.shuffle(seed=random_state), rank, world_size)``,
    sorted by row id so they are read in storage order (which rows a node holds is
    what the partition decides; their order inside it does not matter to selection).

    Run it on every node with the same ``random_state``, select on the part, and map
    the part's local ids back with ``row_ids``::

        part, row_ids = split_by_node(ds, rank=rank, world_size=world, random_state=0)
        sel = FacilityLocationSelector(n_samples=local_k).fit(part)
        candidates = row_ids[sel.ranking_]   # rows of ds; gather them across nodes

    (:class:`DatasetShards` runs the whole of RandGreeDi, partition and merge, in one
    process or on Dask.)

    Parameters
    ----------
    dataset : datasets.Dataset of n rows
    rank : int in [0, world_size)
    world_size : int >= 1
    random_state : int, default 0
        Seed of the permutation, the same on every node (``None`` is refused: each node
        would draw its own partition and rows would be lost or repeated).

    Returns
    -------
    part : datasets.Dataset
        ``n // world_size`` or one more rows, in increasing row order (a ``select``
        view of ``dataset``).
    row_ids : ndarray of int64, shape (len(part),)
        ``part[i]`` is ``dataset[int(row_ids[i])]``. Across all ranks the row ids cover
        every row of ``dataset`` exactly once.
    """
    datasets = _import_datasets("split_by_node")
    from datasets.distributed import split_dataset_by_node

    ds = _check_dataset(dataset, "dataset")
    world_size = check_int(world_size, "world_size", low=1)
    rank = check_int(rank, "rank", low=0, high=world_size - 1)
    if random_state is None:
        raise ValueError(
            "random_state must be an int shared by every node; None would give each node "
            "its own partition"
        )
    random_state = check_int(random_state, "random_state", low=0)
    n = len(ds)
    if n < world_size:
        raise ValueError(f"dataset has {n} rows, fewer than world_size={world_size}")
    # The permutation Dataset.shuffle(seed=) draws, split by the library itself on a
    # one-column table of row ids: the same rows without reading the dataset.
    perm = np.random.default_rng(random_state).permutation(n)
    ids = datasets.Dataset.from_dict({"row": perm})
    part_ids = split_dataset_by_node(ids, rank=rank, world_size=world_size)
    # through Arrow: np.asarray of a datasets Column converts row by row (230 s for 1M ids)
    row_ids = np.sort(_arrow_column(part_ids, "row", slice(None)).to_numpy().astype(np.int64))
    return ds.select(row_ids), row_ids


class DatasetShards(ShardedEmbeddings):
    """A ``datasets.Dataset``'s embedding column as shards for ``select_from_shards``.

    Shard ``s`` is rows ``s * shard_size`` to ``(s + 1) * shard_size`` of the dataset,
    converted from Arrow when read, so global row ids are the dataset's row numbers and
    a selection's ``indices`` index ``dataset`` directly (``select_dataset(dataset,
    sel)``). RandGreeDi draws its own uniform random partition within every shard, so
    contiguous shards do not bias it::

        from coresets.streaming import RandGreeDi, select_from_shards
        sel = select_from_shards(DatasetShards(ds), k=1000, algorithm=RandGreeDi(n_partitions=8))

    Parameters
    ----------
    dataset : datasets.Dataset
        Read through its indices mapping, if any. With a Dask client the object is
        pickled to the workers: a dataset backed by cache files travels as their
        paths (which the workers must be able to read), an in-memory one whole.
    column : str, optional
        The embedding column (one vector of numbers per row); default
        :func:`embedding_column`'s choice.
    shard_size : int, default 65536
        Rows per shard (the unit of reading and of RandGreeDi's per-shard partition).

    Attributes
    ----------
    dataset, column, shard_size, and those of :class:`~coresets.shards.ShardedEmbeddings`
    (``n_rows``, ``n_features``, ``dtype`` float32, ``shard_sizes``, ``offsets``).

    Notes
    -----
    :meth:`fingerprint` (a checkpoint's identity) hashes the dataset's ``datasets``
    fingerprint, the column, the row count and the shard size: a dataset loaded from
    the same files resumes a checkpoint; one rebuilt in memory may get a new
    fingerprint, and its checkpoint is then refused rather than reused.
    """

    def __init__(self, dataset, *, column=None, shard_size=DEFAULT_SHARD_SIZE):
        ds = _check_dataset(dataset, "dataset")
        if column is None:
            column = embedding_column(ds, hint="pass column=<embedding column>")
        self.column = _check_column(ds, column, "dataset", "column")
        self.dataset = ds
        self.shard_size = check_int(shard_size, "shard_size", low=1)
        n = len(ds)
        if n == 0:
            raise ValueError("dataset is empty (0 rows)")
        starts = np.arange(0, n, self.shard_size, dtype=np.int64)
        stops = np.minimum(starts + self.shard_size, n)
        self.root = f"datasets.Dataset column {self.column!r}"
        self.paths = [f"{self.root} rows {a}:{b}" for a, b in zip(starts, stops, strict=True)]
        self.shard_sizes = stops - starts
        # the first row gives the width (and a column that is no vector column fails here)
        self.n_features = int(_column_matrix(ds, self.column, slice(0, 1)).shape[1])
        self.dtype = np.dtype(np.float32)
        self._finish_init()

    def _load(self, s: int) -> np.ndarray:
        start, stop = int(self.offsets[s]), int(self.offsets[s + 1])
        X = _column_matrix(self.dataset, self.column, slice(start, stop))
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"{self.paths[s]}: {X.shape[1]} values per row, row 0 has {self.n_features}"
            )
        return X

    def take(self, rows) -> np.ndarray:
        """Gather global ``rows`` (any order) reading only those rows from Arrow."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty((0, self.n_features), dtype=self.dtype)
        if rows.min() < 0 or rows.max() >= self.n_rows:
            raise ValueError(f"rows must lie in [0, {self.n_rows})")
        order = np.argsort(rows, kind="stable")
        X = _column_matrix(self.dataset, self.column, rows[order])
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"{self.root}: rows have {X.shape[1]} values, row 0 has {self.n_features}"
            )
        out = np.empty_like(X)
        out[order] = X
        return out

    def ids(self, s: int) -> np.ndarray:
        """Row numbers of shard ``s`` in the dataset."""
        return np.arange(self.offsets[s], self.offsets[s + 1], dtype=np.int64)

    @property
    def columns(self) -> dict:
        return {"embedding_column": self.column}

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(f"{self.dataset._fingerprint}|{self.column}|{self.n_rows}|".encode())
        h.update(f"{self.shard_size}|{self.n_features}".encode())
        return h.hexdigest()
