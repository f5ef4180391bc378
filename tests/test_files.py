"""hyperman.files: atomic writes (file and folder), --out checks, hashes."""

from __future__ import annotations

import hashlib

import pytest

from hyperman import files
from hyperman.errors import OutputError


def test_an_atomic_write_leaves_the_old_file_when_it_fails(tmp_path):
    path = tmp_path / "a" / "out.json"
    files.write_text_atomic(path, "old\n")
    assert path.read_text() == "old\n" and path.stat().st_mode & 0o777 == 0o644

    def half(handle):
        handle.write("new, half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        files.write_atomic(path, half)
    assert path.read_text() == "old\n" and sorted(p.name for p in path.parent.iterdir()) == ["out.json"]
    files.write_atomic(path, lambda handle: handle.write(b"\x00\x01"), binary=True, fsync=True)
    assert path.read_bytes() == b"\x00\x01"


def test_json_is_written_stamped_and_whole(tmp_path):
    files.write_json_atomic(tmp_path / "m.json", {"a": 1})
    assert '"a": 1' in (tmp_path / "m.json").read_text()


def test_a_folder_is_replaced_only_when_the_new_one_is_complete(tmp_path):
    out = tmp_path / "data"

    def build(staging):
        (staging / "manifest.json").write_text("1")  # prepare's own output: the only kind it replaces

    files.replace_dir_atomically(out, build, "prepare")
    assert (out / "manifest.json").read_text() == "1"

    def broken(staging):
        (staging / "manifest.json").write_text("2")
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        files.replace_dir_atomically(out, broken, "prepare")
    assert (out / "manifest.json").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no staging folder left behind
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("the user's")
    with pytest.raises(OutputError, match="holds other files"):  # never replaces a folder that is not its own
        files.replace_dir_atomically(other, build, "prepare")
    assert (other / "notes.txt").read_text() == "the user's"


def test_out_paths_are_checked_and_files_hashed(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is an existing file, not a folder"):
        files.check_out_folder(tmp_path / "f")
    assert files.sha256_file(tmp_path / "f") == hashlib.sha256(b"x").hexdigest()
