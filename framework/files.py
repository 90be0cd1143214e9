"""Small state files written all at once: the engine's state beside checkpoints, caches, generated data.

A file rewritten in place is empty or half-written if the process is killed or the disk fills up
mid-write, and the next run reads that instead of the old content (seen: a full disk left a table's
definition state empty and every later run failed parsing it). Written to a temporary file in the same
folder and renamed over the target, a reader sees the old content or the new, never a part; the
temporary file does not outlive a failed write.
"""

from __future__ import annotations

import uuid
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Replace `path`'s content with `text` in one rename (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
