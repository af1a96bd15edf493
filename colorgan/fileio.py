"""Paths that may be local or remote (gs://, s3://, ram://, ...), all through tf.io.gfile.

Workdirs, checkpoints, exports, sheets, TensorBoard logs and evaluation outputs are
str paths handled here, as in flax and big_vision: pathlib folds "gs://bucket/run"
into the local folder "gs:/bucket/run", so a TPU VM's checkpoints would land on its
own disk and die with it. Inputs that are local by nature (the package's own files,
photos for colorize.py, image folders for --data) keep pathlib.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import posixpath
import re
import shutil
import tempfile
from typing import Iterator

import tensorflow as tf

PathLike = str | os.PathLike

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# What pathlib makes of "gs://b/x": "gs:/b/x". Never a sensible local path, so it is refused.
_FOLDED = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/(?!/)")


def fspath(path: PathLike) -> str:
    """str or os.PathLike -> str; a pathlib path that once held a URL is a ValueError."""
    text = os.fspath(path)
    if isinstance(path, pathlib.PurePath) and _FOLDED.match(text):
        raise ValueError(f"{text!r} looks like a URL that went through pathlib "
                         "(which drops one '/'); pass remote paths as str")
    return text


def is_remote(path: PathLike) -> bool:
    """Whether `path` has a scheme (gs://, s3://, ram://, hdfs://, ...)."""
    return bool(_SCHEME.match(fspath(path)))


def join(base: PathLike, *parts: str) -> str:
    """join("gs://b/run", "ckpt") == "gs://b/run/ckpt"; local paths join as os.path does."""
    base = fspath(base)
    # URLs always take "/", whatever the local separator is.
    return posixpath.join(base, *parts) if is_remote(base) else os.path.join(base, *parts)


def dirname(path: PathLike) -> str:
    """The parent: dirname("gs://b/run/checkpoints/") == "gs://b/run"; "." for a bare name."""
    path = fspath(path)
    if is_remote(path):
        return posixpath.dirname(path.rstrip("/"))
    return os.path.dirname(os.path.normpath(path)) or "."


def basename(path: PathLike) -> str:
    """The last component: basename("gs://b/export/3/") == "3"."""
    path = fspath(path)
    if is_remote(path):
        return posixpath.basename(path.rstrip("/"))
    return os.path.basename(os.path.normpath(path))


def exists(path: PathLike) -> bool:
    return tf.io.gfile.exists(fspath(path))


def isdir(path: PathLike) -> bool:
    return tf.io.gfile.isdir(fspath(path))


def isfile(path: PathLike) -> bool:
    return exists(path) and not isdir(path)


def makedirs(path: PathLike) -> None:
    """mkdir -p; a no-op where the folder exists."""
    tf.io.gfile.makedirs(fspath(path))


def listdir(path: PathLike) -> list[str]:
    """Names in a folder (no trailing "/", which some object stores add); [] if it is none."""
    if not isdir(path):
        return []
    return [name.rstrip("/") for name in tf.io.gfile.listdir(fspath(path))]


def versions(path: PathLike) -> list[int]:
    """The numeric names in a folder, ascending: TF Serving's model versions ([] if none)."""
    return sorted(int(name) for name in listdir(path) if name.isdigit())


def latest_with(path: PathLike, name: str) -> str | None:
    """`path` if it holds file `name`, else its highest numeric version (TF Serving's
    layout) holding it, else None."""
    path = fspath(path)
    if isfile(join(path, name)):
        return path
    held = [v for v in versions(path) if isfile(join(path, str(v), name))]
    return join(path, str(held[-1])) if held else None


def read_bytes(path: PathLike) -> bytes:
    with tf.io.gfile.GFile(fspath(path), "rb") as f:
        return f.read()


def read_text(path: PathLike) -> str:
    return read_bytes(path).decode("utf-8")


def _read_umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; it is set straight back
    os.umask(mask)
    return mask


# Read once, at import: setting it to read it is not thread-safe (the web app writes from
# threads), and a process's umask does not change under it.
UMASK = _read_umask()
FILE_MODE = 0o666 & ~UMASK  # what open() would create: readable by those the user allows
FOLDER_MODE = 0o777 & ~UMASK


@contextlib.contextmanager
def publishing(path: PathLike, *, folder: bool = False) -> Iterator[str]:
    """Yields a temporary path to write `path`'s content to; when the block ends without an
    error it becomes `path` whole, else it is removed. The one way colorgan publishes a
    file or folder (photos, videos, frame folders, exports, shipped weights, sheets,
    metrics, checkpoints' JSON): a reader, a server or a rerun sees the old one or the
    whole new one, never half, and an error or Ctrl-C leaves nothing behind.

    Local: a temporary name beside `path` (same filesystem, so the rename is atomic; a
    file keeps `path`'s suffix, which writers such as PyAV read the format from), given
    the permissions a plain open() or mkdir would (FILE_MODE, FOLDER_MODE; mkstemp's
    0600 would hide a photo or an export from a server's user), then renamed over `path`.
    An existing folder is replaced. Remote (gs://, ram://, ...): a file goes to NAME.tmp
    and is renamed over `path` (on gs:// a server-side copy, one object replaced whole; on
    ram://, writes append to an existing file, so writing in place would not replace it);
    a folder is written in place, since a folder rename there copies every object: its
    writer must write its marker file last (a SavedModel's saved_model.pb).
    """
    path = fspath(path).rstrip("/") if is_remote(path) else fspath(path)
    if is_remote(path):
        if folder:
            makedirs(path)
            yield path
            return
        tmp = path + ".tmp"
        if exists(tmp):  # left by a crash: a ram:// write would append to it
            tf.io.gfile.remove(tmp)
        try:
            yield tmp
            tf.io.gfile.rename(tmp, path, overwrite=True)
        finally:
            if exists(tmp):
                tf.io.gfile.remove(tmp)
        return
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(os.path.normpath(path))
    if folder:
        tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=parent)
        os.chmod(tmp, FOLDER_MODE)
    else:
        stem, suffix = os.path.splitext(name)
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}-", suffix=suffix, dir=parent)
        os.close(fd)
        os.chmod(tmp, FILE_MODE)
    try:
        yield tmp
        if folder and os.path.isdir(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.remove(tmp)


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    """Writes `data` so that a reader sees the old file or the whole new one (publishing)."""
    with publishing(path) as tmp:
        if is_remote(tmp):
            with tf.io.gfile.GFile(tmp, "wb") as f:
                f.write(data)
        else:  # open(): a full disk is an OSError with its errno (GFile's is a
            # ResourceExhaustedError), which a caller can tell apart (archive/stream.py)
            with open(tmp, "wb") as f:
                f.write(data)


def write_text_atomic(path: PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))
