"""Atomic file writes: a reader never sees a half-written file (temp file in the same folder, then rename).

The file gets the permissions ``open()`` would give a new file (0666 less the umask), not ``mkstemp``'s 0600. The
temporary file's name carries the writer's process id, so one left behind by a killed process (no Python cleanup
runs on SIGKILL) is recognised and removed by ``remove_orphans``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on success rename it onto ``path``, else delete it."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_orphans(folder: str | Path) -> list[Path]:
    """Delete the temporary files of ``atomic_open`` in ``folder`` whose writer process no longer runs on this
    machine (killed mid-write). -> the files removed."""
    removed = []
    for tmp in Path(folder).glob(".*.tmp"):
        pid = tmp.name[:-len(".tmp")].rsplit(".", 2)[-2] if tmp.name.count(".") >= 3 else ""
        if pid.isdigit() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)        # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:    # it exists, under another user
        return True
    return True


def check_writable(path: str | Path, name: str, folder: bool = False) -> Path:
    """Raise ``ValueError`` naming ``name`` unless ``path`` can be written: a file (``folder``: a folder) that can
    be created or replaced. Called before long work starts, so a bad path costs nothing."""
    if path is None or str(path).strip() == "":
        raise ValueError(f"{name} must be a path, got an empty string")
    target = Path(path)
    if target.exists() and target.is_dir() != folder:
        raise ValueError(f"{name} {target} is {'not ' if folder else ''}a folder; expected a "
                         f"{'folder' if folder else 'file path'}")
    existing = target if folder and target.exists() else target.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{name} {target} cannot be written: {existing} is not a folder")
    try:   # a real write, not os.access: permissions, read-only file systems and /proc all answer honestly
        fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"{name} {target} cannot be written: {existing} is not a writable folder "
                         f"({err.strerror or err})") from None
    return target


def check_suffix(path: str | Path, name: str, suffixes: tuple[str, ...]) -> Path:
    """Raise ``ValueError`` naming ``name`` unless ``path`` ends in one of ``suffixes`` (what is written there is of
    that kind: a page named ``e.png`` that holds HTML would mislead every program that opens it)."""
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise ValueError(f"{name} {target} must end in {' or '.join(suffixes)} (what it writes), got "
                         f"{target.suffix or 'no extension'!r}")
    return target


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same inode where both exist (hard links, symlinks, ``..``), else
    the same resolved path."""
    a, b = Path(a).expanduser(), Path(b).expanduser()
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_distinct(outputs: Sequence[tuple[str, str | Path]], inputs: Sequence[tuple[str, str | Path]]) -> None:
    """Raise ``ValueError`` if an output ``(flag, path)`` is one of the ``inputs`` ``(flag, path)`` or another
    output: writing it would destroy what the command reads, or one result would replace another. Called before
    any work."""
    written: list[tuple[str, Path]] = []
    for flag, path in outputs:
        clashes = [(other, Path(known), "an input of this command: writing it would destroy it")
                   for other, known in inputs]
        clashes += [(other, known, "another output of this command") for other, known in written]
        for other, known, what in clashes:
            if same_file(path, known):
                raise ValueError(f"{flag} {path} is {other} {known}, {what}; choose another path")
        written.append((flag, Path(path)))


def _umask() -> int:
    mask = os.umask(0o022)   # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj: object) -> None:
    """Write ``obj`` as indented JSON, atomically; non-finite floats (NaN, inf) are written as ``null``, the
    only JSON value that every reader accepts for them."""
    def clean(o: object) -> object:
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    with atomic_open(path, "w") as fh:
        json.dump(clean(obj), fh, indent=1)
