"""Compiled CPU kernels for the graph-based functions (numba).

Every kernel reads rows of a similarity matrix in the row convention of
:class:`~coresets.submodular.functions.FacilityLocation` (row ``j`` = candidate
``j``'s similarities to the points it can represent) and accumulates in float64,
whatever the storage dtype. Sparse kernels walk CSR rows and never densify.
"""

from __future__ import annotations

from types import FunctionType
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

# Batches of candidates larger than this are spread over threads; smaller ones
# run serially because starting the thread pool costs more than the work.
PARALLEL_MIN_BATCH = 512


@njit(cache=True, nogil=True)
def _fl_dense_row_gain(row, cur):
    # Eight explicit accumulators let LLVM use SIMD without fast-math (a plain float sum
    # cannot be reordered); ~1.8x faster on 20k-wide rows. The order is fixed, so every
    # caller (batched, single, naive, lazy) gets bit-identical gains.
    n = row.shape[0]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    i = 0
    while i + 8 <= n:
        a0 += max(np.float64(row[i]) - np.float64(cur[i]), 0.0)
        a1 += max(np.float64(row[i + 1]) - np.float64(cur[i + 1]), 0.0)
        a2 += max(np.float64(row[i + 2]) - np.float64(cur[i + 2]), 0.0)
        a3 += max(np.float64(row[i + 3]) - np.float64(cur[i + 3]), 0.0)
        a4 += max(np.float64(row[i + 4]) - np.float64(cur[i + 4]), 0.0)
        a5 += max(np.float64(row[i + 5]) - np.float64(cur[i + 5]), 0.0)
        a6 += max(np.float64(row[i + 6]) - np.float64(cur[i + 6]), 0.0)
        a7 += max(np.float64(row[i + 7]) - np.float64(cur[i + 7]), 0.0)
        i += 8
    g = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
    while i < n:
        g += max(np.float64(row[i]) - np.float64(cur[i]), 0.0)
        i += 1
    return g


# fastmath lets this sum vectorise (3x, from 13 to under 5 microseconds a 20k row in
# cache). Reordering a float64 sum of n non-negative terms moves it by at most n - 1
# roundings either way, so scaling by 1 + 4n * 2^-53 keeps it above the exact kernel's sum.
@njit(cache=True, nogil=True, fastmath=True)
def _fl_dense_row_bound(row, cur):
    g = 0.0
    for i in range(row.shape[0]):
        g += max(np.float64(row[i]) - np.float64(cur[i]), 0.0)
    return g * (1.0 + 4.0 * row.shape[0] * 2.0**-53)


@njit(cache=True, nogil=True, parallel=True)
def fl_dense_bounds(S, cur, cands, out):
    for t in prange(cands.shape[0]):
        out[t] = _fl_dense_row_bound(S[cands[t]], cur)


def _serial_and_parallel(batch):
    """Compile one batched kernel twice: serially and threaded over its ``prange``.

    The threaded copy is a second Python function with its own qualified name, because
    numba's cache files are named by the function and do not record ``parallel``: two
    dispatchers of one function would read each other's cache.
    """
    serial = njit(cache=True, nogil=True)(batch)
    twin = FunctionType(
        batch.__code__, batch.__globals__, batch.__name__ + "_parallel", None, batch.__closure__
    )
    twin.__qualname__ = batch.__qualname__ + "_parallel"
    return serial, njit(cache=True, nogil=True, parallel=True)(twin)


def _fl_dense_gains(S, cur, cands, out):
    for t in prange(cands.shape[0]):
        out[t] = _fl_dense_row_gain(S[cands[t]], cur)


fl_dense_gains, fl_dense_gains_parallel = _serial_and_parallel(_fl_dense_gains)


@njit(cache=True, nogil=True)
def _fl_dense_row_add(row, cur):
    g = 0.0
    for i in range(row.shape[0]):
        if row[i] > cur[i]:
            g += np.float64(row[i]) - np.float64(cur[i])
            cur[i] = row[i]
    return g


@njit(cache=True, nogil=True)
def fl_dense_add(S, cur, j):
    return _fl_dense_row_add(S[j], cur)


@njit(cache=True, nogil=True)
def _fl_sparse_row_gain(data, indices, start, stop, cur):
    g = 0.0
    for p in range(start, stop):
        d = np.float64(data[p]) - np.float64(cur[indices[p]])
        if d > 0.0:
            g += d
    return g


def _fl_sparse_gains(data, indices, indptr, cur, cands, out):
    for t in prange(cands.shape[0]):
        j = cands[t]
        out[t] = _fl_sparse_row_gain(data, indices, indptr[j], indptr[j + 1], cur)


fl_sparse_gains, fl_sparse_gains_parallel = _serial_and_parallel(_fl_sparse_gains)


@njit(cache=True, nogil=True)
def fl_sparse_add(data, indices, indptr, cur, j):
    g = 0.0
    for p in range(indptr[j], indptr[j + 1]):
        i = indices[p]
        if data[p] > cur[i]:
            g += np.float64(data[p]) - np.float64(cur[i])
            cur[i] = data[p]
    return g


@njit(cache=True, nogil=True)
def _sc_dense_row_gain(row, cur, cap):
    g = 0.0
    for i in range(row.shape[0]):
        v = cur[i] + row[i]
        if v > cap[i]:
            v = cap[i]
        g += v - cur[i]
    return g


@njit(cache=True, nogil=True, parallel=True)
def sc_dense_gains(S, cur, cap, cands, out):
    for t in prange(cands.shape[0]):
        out[t] = _sc_dense_row_gain(S[cands[t]], cur, cap)


@njit(cache=True, nogil=True)
def sc_sparse_gains(data, indices, indptr, cur, cap, cands, out):
    for t in range(cands.shape[0]):
        j = cands[t]
        g = 0.0
        for p in range(indptr[j], indptr[j + 1]):
            i = indices[p]
            v = cur[i] + data[p]
            if v > cap[i]:
                v = cap[i]
            g += v - cur[i]
        out[t] = g


def run_gains(serial, parallel, *args):
    """Call the serial or the threaded kernel depending on the batch size.

    ``args`` ends with ``(cands, out)``; the kernels fill ``out`` in place.
    """
    cands = args[-2]
    kernel = parallel if cands.shape[0] >= PARALLEL_MIN_BATCH else serial
    kernel(*args)
    return args[-1]


def empty_gains(n: int) -> np.ndarray:
    return np.empty(n, dtype=np.float64)


# --- per-element kernels handed to the compiled optimiser loops -------------


class Kernels(NamedTuple):
    """What a function hands the compiled loops of :mod:`coresets.submodular._loops`.

    ``gain(args, cur, j) -> float`` and ``add(args, cur, j) -> float`` as in the
    function interface; ``fetch(args, j)`` only hints the cache (the loops call it
    for the element they will probably evaluate next, so its row arrives while they
    work); ``bound(args, cur, j) -> float``, optional, is an upper bound on the gain
    that is much cheaper than ``gain``. ``args`` is the function's tuple of arrays
    and ``cur`` its coverage state.

    The loops are compiled once per set of these functions
    (:func:`coresets.submodular._loops.specialise`) and cached on disk when the functions
    are defined in a source file; a storage should therefore name module-level
    kernels, not build new ones per call.
    """

    gain: object
    add: object
    fetch: object
    args: tuple
    cur: np.ndarray
    bound: object = None


@intrinsic
def prefetch(typingctx, array, index):
    """Hint the CPU to load ``array[index]``'s cache line (LLVM ``prefetch``, read, keep)."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [args[1]])
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        hint_type = ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32])
        hint = cgutils.get_or_insert_function(builder.module, hint_type, "llvm.prefetch.p0")
        # read access, high temporal locality, data cache
        builder.call(hint, [builder.bitcast(pointer, byte_pointer), int32(0), int32(3), int32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@njit(cache=True, nogil=True)
def fl_dense_gain1(args, cur, j):
    return _fl_dense_row_gain(args[0][j], cur)


@njit(cache=True, nogil=True)
def fl_dense_add1(args, cur, j):
    return fl_dense_add(args[0], cur, j)


@njit(cache=True, nogil=True)
def fl_dense_bound1(args, cur, j):
    return _fl_dense_row_bound(args[0][j], cur)


@njit(cache=True, nogil=True)
def fl_dense_fetch1(args, j):
    # the hardware prefetcher follows a long row once it has started
    prefetch(args[0][j], 0)


@njit(cache=True, nogil=True)
def fl_sparse_gain1(args, cur, j):
    data, indices, indptr = args
    return _fl_sparse_row_gain(data, indices, indptr[j], indptr[j + 1], cur)


@njit(cache=True, nogil=True)
def fl_sparse_add1(args, cur, j):
    data, indices, indptr = args
    return fl_sparse_add(data, indices, indptr, cur, j)


_CACHE_LINE = 64
# lines hinted per row; past these the hardware prefetcher has picked the row up
_FETCH_LINES = 4


@njit(cache=True, nogil=True)
def fl_sparse_fetch1(args, j):
    # a random row starts with a cache miss in each array; ask for its first lines at once
    data, indices, indptr = args
    step = _CACHE_LINE // max(data.itemsize, indices.itemsize)
    start = indptr[j]
    for p in range(start, min(indptr[j + 1], start + _FETCH_LINES * step), step):
        prefetch(data, p)
        prefetch(indices, p)


# --- dense similarity construction -------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _squared_distance(sq_a, sq_b, dot, same):
    # sklearn's expansion |a|^2 + |b|^2 - 2 a.b, clipped at 0, exactly 0 for a point itself
    v = sq_a + sq_b - 2 * dot
    if v < 0 or same:
        v = 0
    return v


@njit(cache=True, nogil=True, parallel=True)
def finish_squared_distances(block, sq_rows, sq_all, lo):
    """In place: ``block[r, c] = max(sq_rows[r] + sq_all[c] - 2 block[r, c], 0)``, 0 on the diagonal.

    ``block`` holds dot products of rows ``lo:lo + len(block)`` with all rows; one fused
    pass instead of four numpy passes over the block. Returns the block's maximum.
    """
    rows = block.shape[0]
    row_max = np.zeros(rows, dtype=np.float64)
    for r in prange(rows):
        m = 0.0
        line = block[r]
        for c in range(line.shape[0]):
            v = _squared_distance(sq_rows[r], sq_all[c], line[c], c == lo + r)
            line[c] = v
            if v > m:
                m = v
        row_max[r] = m
    return row_max.max()


@njit(cache=True, nogil=True, parallel=True)
def subtract_from(top, S):
    """In place ``S = top - S`` over rows in parallel."""
    for r in prange(S.shape[0]):
        line = S[r]
        for c in range(line.shape[0]):
            line[c] = top - line[c]


@njit(cache=True, nogil=True, parallel=True)
def touch_pages(S):
    """Write one zero per 4 KiB page of a fresh C-ordered matrix, from all threads.

    Fresh memory is mapped on first write, one fault per page; faulting 1.6 GB from one
    thread (inside BLAS) took 3.4 s here and 1.4 s spread over two.
    """
    step = max(1, 4096 // S.itemsize)
    for r in prange(S.shape[0]):
        line = S[r]
        for c in range(0, line.shape[0], step):
            line[c] = 0


# --- implicit dense similarity: rows computed from features -----------------
# Every similarity value is computed by `_value_rows`, whoever asks (the table
# build, one row in the lazy loop, a batch of gains), so all of them see the same
# bits: the dot products are summed in the order k = 0..d-1 in float32, a fixed
# order that no BLAS promises across matrix shapes.

_TILE_COLUMNS = 1024
_TILE_ROWS = 16
# 16-bit codes: 0..65535
_CODE_MAX = 65535


@njit(cache=True, nogil=True, inline="always")
def _finish_values(o, j, c0, sq, euclidean):
    # dot products of row j with columns c0.. -> squared distances or clipped dots
    if euclidean:
        norms = sq[c0 : c0 + o.shape[0]]
        for c in range(o.shape[0]):
            o[c] = _squared_distance(sq[j], norms[c], o[c], c0 + c == j)
    else:
        for c in range(o.shape[0]):
            if o[c] < 0:
                o[c] = 0.0


@njit(cache=True, nogil=True)
def _value_rows(X, XT, sq, euclidean, ids, out):
    """``out[t] = v(ids[t], :)`` in float32: the squared distance (euclidean) or ``max(dot, 0)``.

    ``XT`` is ``X.T`` in C order; column tiles of it are reused by all rows of ``ids``.
    """
    n = XT.shape[1]
    d = XT.shape[0]
    m = ids.shape[0]
    spare = np.empty(_TILE_COLUMNS, dtype=np.float32)
    for c0 in range(0, n, _TILE_COLUMNS):
        c1 = min(n, c0 + _TILE_COLUMNS)
        width = c1 - c0
        # rows in pairs share every load of XT (1.7x faster); an odd last row is paired
        # with a throwaway copy of itself
        for t in range(0, m, 2):
            x = X[ids[t]]
            # slices indexed from 0: loops LLVM vectorises (offset indices were 8x slower)
            o = out[t, c0:c1]
            if t + 1 < m:
                y = X[ids[t + 1]]
                p = out[t + 1, c0:c1]
            else:
                y = x
                p = spare[:width]
            o[:] = 0.0
            p[:] = 0.0
            k = 0
            # four terms per pass over the tile, added one after another: the same
            # rounding as one term per pass, with a quarter of the loads and stores
            while k + 4 <= d:
                w0, w1, w2, w3 = x[k], x[k + 1], x[k + 2], x[k + 3]
                v0, v1, v2, v3 = y[k], y[k + 1], y[k + 2], y[k + 3]
                a0 = XT[k, c0:c1]
                a1 = XT[k + 1, c0:c1]
                a2 = XT[k + 2, c0:c1]
                a3 = XT[k + 3, c0:c1]
                for c in range(width):
                    b0, b1, b2, b3 = a0[c], a1[c], a2[c], a3[c]
                    o[c] = (((o[c] + w0 * b0) + w1 * b1) + w2 * b2) + w3 * b3
                    p[c] = (((p[c] + v0 * b0) + v1 * b1) + v2 * b2) + v3 * b3
                k += 4
            while k < d:
                w = x[k]
                v = y[k]
                a = XT[k, c0:c1]
                for c in range(width):
                    o[c] = o[c] + w * a[c]
                    p[c] = p[c] + v * a[c]
                k += 1
            _finish_values(o, ids[t], c0, sq, euclidean)
            if t + 1 < m:
                _finish_values(p, ids[t + 1], c0, sq, euclidean)


@njit(cache=True, nogil=True)
def _values_to_similarities(values, euclidean, top):
    # euclidean similarity is top - D2, subtracted in float32 as the dense path does
    if euclidean:
        for t in range(values.shape[0]):
            line = values[t]
            for c in range(line.shape[0]):
                line[c] = top - line[c]


@njit(cache=True, nogil=True, parallel=True)
def implicit_build_codes(X, XT, sq, euclidean, lo, hi, codes, row_max, step):
    """Rows ``lo:hi`` of the 16-bit code table; returns nothing, fills ``codes``/``row_max``/``step``.

    Row ``j`` is coded on its own scale ``delta = row_max[j] / 65535``, rounded so that
    decoding (``offset + step * code``) never falls below the similarity: squared
    distances round down (similarity ``top - D2``), clipped dot products round up.
    """
    n = XT.shape[1]
    n_blocks = (hi - lo + _TILE_ROWS - 1) // _TILE_ROWS
    for b in prange(n_blocks):
        r0 = lo + b * _TILE_ROWS
        r1 = min(hi, r0 + _TILE_ROWS)
        ids = np.arange(r0, r1)
        values = np.empty((r1 - r0, n), dtype=np.float32)
        _value_rows(X, XT, sq, euclidean, ids, values)
        for t in range(r1 - r0):
            j = r0 + t
            line = values[t]
            m = 0.0
            for c in range(n):
                if line[c] > m:
                    m = line[c]
            row_max[j] = m
            out = codes[j]
            if euclidean:
                delta = m / _CODE_MAX if m > 0 else 1.0
                step[j] = -delta
                scale = 1.0 / delta
                for c in range(n):
                    # one code below the floor: rounding in the scaling (relative 1e-16)
                    # cannot push the decoded distance above the true one
                    q = np.floor(line[c] * scale) - 1.0
                    out[c] = np.uint16(min(max(q, 0.0), _CODE_MAX))
            else:
                delta = m / (_CODE_MAX - 2) if m > 0 else 1.0
                step[j] = delta
                scale = 1.0 / delta
                for c in range(n):
                    q = np.ceil(line[c] * scale) + 1.0
                    out[c] = np.uint16(min(q, _CODE_MAX))


# fastmath (reassociation) lets this sum vectorise: 3x faster. A bound only has to stay
# above the exact gain, and each positive term already exceeds the exact one by a code
# step (1/65535 of the row's range) or, for distances coded 0, by 2^-22 of ``top``: far
# more than reordering a float64 sum can change.
@njit(cache=True, nogil=True, fastmath=True)
def _fl_coded_row_gain(codes, offset, step, cur):
    """Upper bound on a facility-location gain from a row of codes (``offset + step * code``)."""
    g = 0.0
    for i in range(codes.shape[0]):
        g += max(offset + step * codes[i] - cur[i], 0.0)
    return g


@njit(cache=True, nogil=True, parallel=True)
def fl_coded_bounds(codes, offset, step, cur, cands, out):
    for t in prange(cands.shape[0]):
        j = cands[t]
        out[t] = _fl_coded_row_gain(codes[j], offset[j], step[j], cur)


@njit(cache=True, nogil=True, parallel=True)
def fl_implicit_gains(X, XT, sq, euclidean, top, cur, cands, out):
    """Exact gains of ``cands``, ``_TILE_ROWS`` rows at a time across threads."""
    n = XT.shape[1]
    n_blocks = (cands.shape[0] + _TILE_ROWS - 1) // _TILE_ROWS
    for b in prange(n_blocks):
        t0 = b * _TILE_ROWS
        t1 = min(cands.shape[0], t0 + _TILE_ROWS)
        values = np.empty((t1 - t0, n), dtype=np.float32)
        _value_rows(X, XT, sq, euclidean, cands[t0:t1], values)
        _values_to_similarities(values, euclidean, top)
        for t in range(t1 - t0):
            out[t0 + t] = _fl_dense_row_gain(values[t], cur)


@njit(cache=True, nogil=True)
def implicit_row(args, j):
    """Similarity row ``j`` in the args' scratch buffer (computed once per ``j`` in a row)."""
    X, XT, sq, euclidean, top, codes, offset, step, row, row_id = args
    if row_id[0] != j:
        _value_rows(X, XT, sq, euclidean, np.array([j]), row)
        _values_to_similarities(row, euclidean, top)
        row_id[0] = j
    return row[0]


@njit(cache=True, nogil=True)
def fl_implicit_gain1(args, cur, j):
    return _fl_dense_row_gain(implicit_row(args, j), cur)


@njit(cache=True, nogil=True)
def fl_implicit_add1(args, cur, j):
    return _fl_dense_row_add(implicit_row(args, j), cur)


@njit(cache=True, nogil=True)
def fl_implicit_bound1(args, cur, j):
    codes, offset, step = args[5], args[6], args[7]
    return _fl_coded_row_gain(codes[j], offset[j], step[j], cur)


@njit(cache=True, nogil=True)
def fl_implicit_fetch1(args, j):
    prefetch(args[5][j], 0)
