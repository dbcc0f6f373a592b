"""Training data from a file, for the command line: CSV (with or without a header),
``.npy`` (one 2-D table) or ``.npz`` (arrays ``X`` and ``Y``, or one 2-D table).

Every problem is found before any training and reported as one ValueError that
names the file, and the row and column where there is one.
"""

from __future__ import annotations

import csv
import itertools
import math
import sys
import zipfile
from array import array
from pathlib import Path

import numpy as np

from ..base.files import available_memory, check_zip_member, npy_header


def _number(text: str, row: int, column: int, path: str) -> float:
    # float() also takes "1_000" and non-ASCII digits; a data file's numbers are plain
    try:
        if "_" in text or not text.isascii():
            raise ValueError
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}: row {row}, column {column + 1}: {text.strip()!r} is not a "
                         f"number") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}: row {row}, column {column + 1}: {text.strip()} (only "
                         f"finite numbers can be trained on)")
    return value


def _is_number(text: str) -> bool:
    try:
        _number(text, 0, 0, "")
    except ValueError:
        return False
    return True


def _is_integer(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()


def _numeric_header(first: list[str], integer_columns: list[bool]) -> bool:
    """Is an all-numeric first row a header? As csv.Sniffer.has_header votes: a column
    votes for a header where its first cell's kind (integer or not) differs from the
    kind of every cell below it, against where it is the same."""
    votes = sum(1 if _is_integer(cell) != integer else -1
                for cell, integer in zip(first, integer_columns))
    return votes > 0


def _rows(path: str):
    """(line, cells) of every non-blank row; a UTF-8 BOM is not part of the first cell."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for line, row in enumerate(csv.reader(fh), start=1):
                if row and any(v.strip() for v in row):
                    yield line, row
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None


def _read_csv(path: str, header: bool | None) -> tuple[list[str] | None, np.ndarray]:
    """The header (None without) and the table of a CSV file, read row by row into one
    float64 buffer (refused once it would outgrow the memory available).

    ``header``: True, the first row is the header; False, there is none; None, infer:
    a first row with any cell that is not a number is the header, and an all-numeric
    one is a header where its cells' kinds differ from their columns'
    (:func:`_numeric_header`), with a note on stderr saying how to override that.
    """
    rows = _rows(path)
    first = next(rows, None)
    if first is None:
        raise ValueError(f"{path} is empty")
    first_line, first_row = first
    width = len(first_row)
    if header is None and not all(_is_number(v) for v in first_row):
        header = True
    values, integer_columns, count = array("d"), [True] * width, 0
    inferring = header is None  # an all-numeric first row: the cells' kinds decide
    budget = available_memory() // MEMORY_FACTOR  # bytes of values: copies follow
    data = rows if header else itertools.chain([first], rows)
    for line, row in data:
        if len(row) != width:
            raise ValueError(f"{path}: row {line} has {len(row)} columns, the "
                             f"{'header' if header else 'first row'} {width}")
        for c, v in enumerate(row):
            values.append(_number(v, line, c, path))
            if inferring and line != first_line:
                integer_columns[c] = integer_columns[c] and _is_integer(v)
        count += 1
        if not count % 4096 and len(values) * 8 > budget:
            raise ValueError(f"{path} is too large for the memory available "
                             f"({available_memory() / 2**30:.1f} GiB)")
    if count == 0:
        raise ValueError(f"{path} has a header but no rows of data")
    table = np.frombuffer(values, dtype=np.float64).reshape(count, width)
    if header is None:
        header = count > 1 and _numeric_header(first_row, integer_columns)
        if header:
            print(f"fastbp: note: the first row of {path} ({', '.join(first_row)}) is read "
                  f"as column names, its numbers being of another kind than their "
                  f"columns'; pass --no-header if it is data", file=sys.stderr)
            table = table[1:]
    return ([v.strip() for v in first_row] if header else None), table


def _check_table(table: np.ndarray, path: str, what: str = "the table") -> np.ndarray:
    if table.ndim != 2 or 0 in table.shape:
        raise ValueError(f"{path}: {what} must be a non-empty 2-D array, got shape {table.shape}")
    table = table.astype(np.float64)
    if not np.isfinite(table).all():
        r, c = np.argwhere(~np.isfinite(table))[0]
        raise ValueError(f"{path}: {what} holds {table[r, c]} at row {r}, column {c} (only "
                         f"finite numbers can be trained on)")
    return table


def _check_declared(shape: tuple[int, ...], dtype: np.dtype, stored: int, path: str,
                    what: str) -> int:
    """Refuse an array that its header declares of a kind fastbp cannot train on, or
    larger than the bytes stored for it, before it is read; return its size in float64
    bytes."""
    if dtype.kind not in "iuf" or dtype.hasobject:
        raise ValueError(f"{path}: {what} must hold numbers, got dtype {dtype}")
    count = math.prod(shape)
    if count * dtype.itemsize > stored:
        raise ValueError(f"{path}: {what} declares shape {shape} of {dtype} "
                         f"({count * dtype.itemsize:,} bytes), but the file holds "
                         f"{stored:,}: it is truncated or damaged")
    return count * 8


#: Training on a table takes about this many times its float64 size: the table, X and Y
#: cut from it, and train's own copies of them.
MEMORY_FACTOR = 4


def _check_memory(needed: int, path: str) -> None:
    if MEMORY_FACTOR * needed > available_memory():
        raise ValueError(f"{path} holds {needed / 2**30:.1f} GiB of numbers as float64; "
                         f"training on it needs about {MEMORY_FACTOR * needed / 2**30:.1f} "
                         f"GiB, more than the {available_memory() / 2**30:.1f} GiB available")


def _read_numpy(path: str) -> tuple[np.ndarray | None, np.ndarray]:
    """(None, table) from a .npy or a one-array .npz; (X, Y) from an .npz holding X and Y.
    Every array's header is checked before the array is read."""
    try:
        if path.endswith(".npy"):
            with open(path, "rb") as fh:
                shape, dtype = npy_header(fh)
                stored = Path(path).stat().st_size - fh.tell()
                _check_memory(_check_declared(shape, dtype, stored, path, "the table"), path)
                fh.seek(0)
                return None, _check_table(np.lib.format.read_array(fh, allow_pickle=False),
                                          path)
        with zipfile.ZipFile(path) as archive:
            needed, arrays = 0, {}
            for info in archive.infolist():
                check_zip_member(info, path)
                name = info.filename.removesuffix(".npy")
                with archive.open(info) as fh:
                    shape, dtype = npy_header(fh)
                    stored = info.file_size - fh.tell()
                needed += _check_declared(shape, dtype, stored, path, name)
            _check_memory(needed, path)
            for info in archive.infolist():
                with archive.open(info) as fh:
                    arrays[info.filename.removesuffix(".npy")] = \
                        np.lib.format.read_array(fh, allow_pickle=False)
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile,
            NotImplementedError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
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


def load(path: str, targets: str | None, onehot: bool = False,
         header: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` from ``path``: the ``targets`` columns (names or 0-based indices, separated by
    commas) are Y, every other column X; ``onehot`` turns one class column into one-hot rows.
    An ``.npz`` with arrays X and Y needs no ``targets``. ``header`` says whether a CSV
    file's first row is a header (None: infer it, see :func:`_read_csv`)."""
    if not Path(path).is_file():
        raise ValueError(f"--data: {path} does not exist" if not Path(path).exists()
                         else f"--data: {path} is not a file")
    if path.endswith((".npy", ".npz")):
        X, table = _read_numpy(path)
        header = None
    else:
        header, table = _read_csv(path, header)
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
