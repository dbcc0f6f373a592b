"""Training data from a file, for the command line: CSV (with or without a header),
``.npy`` (one 2-D table) or ``.npz`` (arrays ``X`` and ``Y``, or one 2-D table).

Every problem is found before any training and reported as one ValueError that
names the file, and the row and column where there is one.
"""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path

import numpy as np


def _number(text: str, row: int, column: int, path: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}: row {row}, column {column + 1}: {text.strip()!r} is not a "
                         f"number") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}: row {row}, column {column + 1}: {text.strip()} (only "
                         f"finite numbers can be trained on)")
    return value


def _read_csv(path: str) -> tuple[list[str] | None, np.ndarray]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [(i, r) for i, r in enumerate(csv.reader(fh), start=1)
                    if r and any(v.strip() for v in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise ValueError(f"{path} is empty")
    header = None
    try:
        [float(v) for v in rows[0][1]]
    except ValueError:
        header = [v.strip() for v in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise ValueError(f"{path} has a header but no rows of data") from None
    width = len(header) if header is not None else len(rows[0][1])
    for line, row in rows:
        if len(row) != width:
            raise ValueError(f"{path}: row {line} has {len(row)} columns, the "
                             f"{'header' if header else 'first row'} {width}")
    table = np.array([[_number(v, line, c, path) for c, v in enumerate(row)]
                      for line, row in rows], dtype=np.float64)
    return header, table


def _check_table(table: np.ndarray, path: str, what: str = "the table") -> np.ndarray:
    if table.dtype == bool or not (np.issubdtype(table.dtype, np.integer)
                                   or np.issubdtype(table.dtype, np.floating)):
        raise ValueError(f"{path}: {what} must hold numbers, got dtype {table.dtype}")
    if table.ndim != 2 or 0 in table.shape:
        raise ValueError(f"{path}: {what} must be a non-empty 2-D array, got shape {table.shape}")
    table = table.astype(np.float64)
    if not np.isfinite(table).all():
        r, c = np.argwhere(~np.isfinite(table))[0]
        raise ValueError(f"{path}: {what} holds {table[r, c]} at row {r}, column {c} (only "
                         f"finite numbers can be trained on)")
    return table


def _read_numpy(path: str) -> tuple[np.ndarray | None, np.ndarray]:
    """(None, table) from a .npy or a one-array .npz; (X, Y) from an .npz holding X and Y."""
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            return None, _check_table(data, path)
        with data:
            arrays = {name: np.array(data[name]) for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if {"X", "Y"} <= set(arrays):
        X = arrays["X"]
        Y = arrays["Y"].reshape(-1, 1) if arrays["Y"].ndim == 1 else arrays["Y"]
        X, Y = _check_table(X, path, "X"), _check_table(Y, path, "Y")
        if len(X) != len(Y):
            raise ValueError(f"{path}: X has {len(X)} rows, Y {len(Y)}")
        return X, Y
    if len(arrays) != 1:
        raise ValueError(f"{path} must hold arrays X and Y, or one 2-D table; it holds "
                         f"{sorted(arrays)}")
    return None, _check_table(next(iter(arrays.values())), path)


def _columns(targets: str, header: list[str] | None, width: int, path: str) -> list[int]:
    columns = []
    for name in (c.strip() for c in targets.split(",")):
        if header is not None and name in header:
            columns.append(header.index(name))
        elif name.isdigit() and int(name) < width:
            columns.append(int(name))
        else:
            known = f"its columns are {', '.join(header)}" if header else \
                f"it has {width} columns, 0 to {width - 1}"
            raise ValueError(f"--targets: no column {name!r} in {path} ({known})")
    if len(set(columns)) != len(columns):
        raise ValueError(f"--targets names a column twice: {targets!r}")
    if len(columns) == width:
        raise ValueError(f"--targets: every column of {path} is a target; none is left as input")
    return columns


def one_hot(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class labels (one column) as one-hot rows, the classes in sorted order."""
    classes, index = np.unique(labels, return_inverse=True)
    return np.eye(len(classes))[index.ravel()], classes


def load(path: str, targets: str | None, onehot: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` from ``path``: the ``targets`` columns (names or 0-based indices, separated by
    commas) are Y, every other column X; ``onehot`` turns one class column into one-hot rows.
    An ``.npz`` with arrays X and Y needs no ``targets``."""
    if not Path(path).is_file():
        raise ValueError(f"--data: {path} does not exist" if not Path(path).exists()
                         else f"--data: {path} is not a file")
    if path.endswith((".npy", ".npz")):
        X, table = _read_numpy(path)
        header = None
    else:
        header, table = _read_csv(path)
        X = None
    if X is not None:
        if targets:
            raise ValueError(f"--targets: {path} holds X and Y already")
        Y = table
    else:
        if not targets:
            raise ValueError(f"--data {path} needs --targets: the target columns")
        columns = _columns(targets, header, table.shape[1], path)
        X = table[:, [c for c in range(table.shape[1]) if c not in columns]]
        Y = table[:, columns]
    if onehot:
        if Y.shape[1] != 1:
            raise ValueError(f"--one-hot needs one target column (the class), got {Y.shape[1]}")
        Y, _ = one_hot(Y)
    return np.ascontiguousarray(X), np.ascontiguousarray(Y)
