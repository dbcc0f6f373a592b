"""files.atomic_write: whole files or none, with the permissions open() would give."""

import os
import stat
from pathlib import Path

import pytest

from fastbp.base.files import atomic_write, check_output_path


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_not_0600(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write(tmp_path / "new.txt", lambda tmp: Path(tmp).write_text("hello"))
    finally:
        os.umask(old)
    assert path.read_text() == "hello"
    assert mode(path) == 0o640


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "kept.txt"
    path.write_text("old")
    path.chmod(0o604)
    atomic_write(path, lambda tmp: Path(tmp).write_text("new"))
    assert path.read_text() == "new" and mode(path) == 0o604


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("intact")

    def half_then_fail(tmp):
        with open(tmp, "w") as fh:
            fh.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "intact"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.txt"]


def test_a_missing_directory_is_named_as_the_user_wrote_it(tmp_path):
    target = tmp_path / "no" / "such" / "net.npz"
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "no" / "such")) as caught:
        atomic_write(target, lambda tmp: None)
    assert ".tmp" not in str(caught.value)
    with pytest.raises(ValueError, match=r"--save: cannot write .*net.npz.*does not exist"):
        check_output_path(target, "--save")
    with pytest.raises(ValueError, match="it is a directory"):
        check_output_path(tmp_path, "--save")
