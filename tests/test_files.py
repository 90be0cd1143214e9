"""`write_atomically`: a state file is replaced whole or not at all (a full disk once left one empty)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from framework.files import write_atomically


def test_writes_creating_the_folder_and_replaces_the_old_content(tmp_path):
    target = tmp_path / "state" / "definition.json"
    write_atomically(target, '{"definition": "a"}')
    write_atomically(target, '{"definition": "b"}')
    assert target.read_text() == '{"definition": "b"}'
    assert [p.name for p in target.parent.iterdir()] == ["definition.json"]


def test_a_write_that_fails_half_way_leaves_the_old_content_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "definition.json"
    write_atomically(target, '{"definition": "old"}')
    real_write_text = Path.write_text

    def disk_full(self: Path, text: str, *args, **kwargs) -> int:
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)  # what reached the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, '{"definition": "new"}')
    monkeypatch.undo()
    assert target.read_text() == '{"definition": "old"}'
    assert [p.name for p in tmp_path.iterdir()] == ["definition.json"]
