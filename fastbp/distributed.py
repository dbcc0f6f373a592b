"""``train_many`` across a dask.distributed cluster: chunks of networks, one task each.

Each worker runs :func:`fastbp.train_many` on its chunk with the compiled
kernels; every chunk sees the same seeded sample order, so the trained
networks are identical to a local run. Needs the ``distributed`` extra.
"""

from __future__ import annotations

import numpy as np

from .network import Network


def _train_chunk(nets: list[Network], X: np.ndarray, Y: np.ndarray, lrs: np.ndarray,
                 options: dict, backend: str, threads: int | None):
    from .training import train_many

    results = train_many(nets, X, Y, lr=lrs, backend=backend, threads=threads, **options)
    return [net.params for net in nets], results


def train_many_on(client, nets: list[Network], X: np.ndarray, Y: np.ndarray, lrs: np.ndarray,
                  opts, backend: str, threads: int | None) -> list:
    """Train ``nets`` in place on ``client``'s workers; see :func:`fastbp.train_many`."""
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    chunks = [c for c in np.array_split(np.arange(len(nets)), min(len(nets), 2 * workers))
              if len(c)]
    options = {"epochs": opts.epochs, "batch_size": opts.batch_size, "momentum": opts.momentum,
               "loss": opts.loss, "shuffle": opts.shuffle, "seed": opts.seed,
               "record_every": opts.record_every}
    X_remote, Y_remote = client.scatter([X, Y], broadcast=True)
    futures = [client.submit(_train_chunk, [nets[k] for k in chunk], X_remote, Y_remote,
                             lrs[chunk], options, backend, threads, pure=False)
               for chunk in chunks]
    results: list = [None] * len(nets)
    for chunk, (params, chunk_results) in zip(chunks, client.gather(futures)):
        for k, row, result in zip(chunk, params, chunk_results):
            nets[k].params[...] = row
            results[k] = result
    return results
