"""The manifest of a run over a tree: what became of each input, kept in the output folder so
that a rerun after a crash, a kill or Ctrl-C skips what is done and redoes the rest.

OUT/colorgan_manifest.jsonl holds one JSON object per line: settings lines, each naming a set
of settings (model, format, reference, hints, post-processing, ...) by a short hash, and one
record per input as it finishes, naming the settings it was made with,

    {"settings": {"model": {...}, "fmt": "png", ...}, "id": "1dfb5c36cf50"}
    {"input": "/abs/in/a.jpg", "status": "done", "output": "/abs/out/a.png", "bytes": 81234,
     "seconds": 0.41, "size": [640, 480], "settings": "1dfb5c36cf50"}
    {"input": "/abs/in/b.jpg", "status": "failed", "reason": "not a readable image (...)",
     "seconds": 0.01, "settings": "1dfb5c36cf50"}

One folder may hold outputs made with different settings (photo after photo, each with its
own reference); what a rerun keeps is an input done with this run's settings, and an input
done with other ones is the caller's to refuse or redo (`other`). A manifest written before
settings were per record (its first line `{"settings": {...}}` alone, records without
"settings") reads as all made with that first line's settings.

Each record is appended with one write() of one whole line on a file opened O_APPEND, so a
kill leaves every finished record whole (the kernel keeps what was written); only a power
cut can leave a torn last line, which reading drops. At the end of a run the file is
rewritten, the settings in use and then one line per input (the last), and published whole
(fileio). An exclusive lock keeps two runs off one manifest. A later record of an input
replaces an earlier one.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from pathlib import Path

from absl import logging

from colorgan import fileio
from colorgan.errors import UserError

NAME = "colorgan_manifest.jsonl"


def settings_id(settings: dict) -> str:
    """The short name of a set of settings: a hash of its JSON, keys sorted."""
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def read(path: str | os.PathLike) -> tuple[dict[str, dict], dict[str, dict]]:
    """(settings id -> settings, input -> its last record) of a manifest, without locking it
    (for reports and tests); a torn last line is left out."""
    lines = Path(path).read_text("utf-8").splitlines(keepends=True)
    return _parse([line for line in lines if line.endswith("\n")])


def _parse(lines: list[str]) -> tuple[dict[str, dict], dict[str, dict]]:
    """(settings id -> settings, input -> its last record, "settings" filled in) of a
    manifest's whole lines; the first must be a settings line. Raises ValueError, KeyError
    or TypeError on anything else."""
    known: dict[str, dict] = {}
    records: dict[str, dict] = {}
    first = None
    for line in lines:
        entry = json.loads(line)
        if "input" not in entry:  # a settings line
            if not isinstance(entry["settings"], dict):
                raise TypeError("settings")
            name = entry.get("id") or settings_id(entry["settings"])
            known[name] = entry["settings"]
            first = first or name
            continue
        if first is None:
            raise KeyError("settings")
        entry.setdefault("settings", first)  # a manifest from before per-record settings
        records[entry["input"]] = entry
    if first is None:
        raise KeyError("settings")
    return known, records


class Manifest:
    """The records of earlier runs (`records`: input -> its last record) and an open file
    to append this run's to. Use as a context manager (or call close())."""

    def __init__(self, path: str | os.PathLike, settings: dict):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.settings = json.loads(json.dumps(settings))  # as read back: tuples are lists
        self.id = settings_id(self.settings)
        self.known: dict[str, dict] = {}  # settings id -> settings, of every run's records
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, fileio.FILE_MODE)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise UserError(f"{self.path}: another run is writing to this output folder; "
                            "wait for it or choose another") from None
        self.records: dict[str, dict] = {}
        try:
            self._read()
        except BaseException:
            os.close(self.fd)  # and with it the lock
            raise

    def _read(self) -> None:
        data = self.path.read_bytes()
        whole = data[:data.rfind(b"\n") + 1]
        if data:
            first, _, _ = data.partition(b"\n")
            try:  # before anything is changed: a file that is no manifest is left as it is
                said = json.loads(first)
                if "input" in said or not isinstance(said["settings"], dict):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise UserError(f"{self.path}: not a colorgan manifest (move it away to start "
                                "over)") from None
            if len(whole) != len(data):  # a torn last line (a power cut): dropped
                logging.warning("%s: dropping a torn last line", self.path)
                os.truncate(self.path, len(whole))
            try:
                self.known, self.records = _parse(whole.decode("utf-8").splitlines())
            except (ValueError, KeyError, TypeError):
                raise UserError(f"{self.path}: a damaged colorgan manifest (move it away to "
                                "start over)") from None
        if self.id not in self.known:
            self.known[self.id] = self.settings
            self._append({"settings": self.settings, "id": self.id})

    def _append(self, record: dict) -> None:
        self._append_lines([record])

    def _append_lines(self, records: list[dict]) -> None:
        # ASCII JSON: a file name that is not UTF-8 (a surrogate escape) stays \udcXX.
        line = "".join(json.dumps(r) + "\n" for r in records).encode("ascii")
        size = os.fstat(self.fd).st_size
        written = os.write(self.fd, line)  # O_APPEND: one write, whole lines
        if written != len(line):  # a nearly full disk: no half line left to glue onto
            os.ftruncate(self.fd, size)
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

    def done(self, key: str) -> dict | None:
        """The record of `key` if an earlier run wrote it with these settings and its output
        is still there, whole (its size as recorded); else None."""
        record = self._whole(key)
        return record if record and record["settings"] == self.id else None

    def other(self, key: str) -> dict | None:
        """The record of `key` if an earlier run wrote it with other settings and its output
        is still there, whole; else None (never written, failed, or with these settings)."""
        record = self._whole(key)
        return record if record and record["settings"] != self.id else None

    def outputs(self) -> set[str]:
        """Every output an earlier run recorded, done or planned, with any settings."""
        return {r["output"] for r in self.records.values() if r.get("output")}

    def changes(self, record: dict) -> str:
        """How the settings `record` was made with differ from this run's, as
        "key=then, now now, ..."."""
        said = self.known.get(record["settings"], {})
        differ = sorted(k for k in set(said) | set(self.settings)
                        if said.get(k) != self.settings.get(k))
        return ", ".join(f"{k}={said.get(k)!r}, now {self.settings.get(k)!r}" for k in differ)

    def _whole(self, key: str) -> dict | None:
        record = self.records.get(key)
        if not record or record.get("status") != "done":
            return None
        out = Path(record["output"])
        try:
            if out.is_dir() or out.stat().st_size == record["bytes"]:
                return record
        except OSError:
            pass
        return None

    def add(self, record: dict) -> None:
        """Records what became of one input (its "input" key names it) under this run's
        settings."""
        self.add_many([record])

    def add_many(self, records: list[dict]) -> None:
        """add() for many records, in one write per ~1 MB (each line whole)."""
        chunk: list[dict] = []
        for record in records:
            record = {**record, "settings": self.id}
            self.records[record["input"]] = record
            chunk.append(record)
            if len(chunk) == 4096:
                self._append_lines(chunk)
                chunk = []
        if chunk:
            self._append_lines(chunk)

    def failures(self) -> list[dict]:
        return [r for r in self.records.values() if r.get("status") == "failed"]

    def close(self) -> None:
        """Rewrites the manifest compact (the settings in use, then one line per input),
        published whole, and unlocks."""
        if self.fd < 0:
            return
        try:
            # The settings some record was made with (a manifest with no record keeps this
            # run's: the first line is always a settings line).
            used = {r["settings"] for r in self.records.values()} or {self.id}
            lines = [json.dumps({"settings": self.known[i], "id": i})
                     for i in self.known if i in used]
            lines += [json.dumps(r) for r in self.records.values()]
            fileio.write_text_atomic(self.path, "\n".join(lines) + "\n")
        except OSError as e:  # a full disk: the journal as appended is just as valid
            logging.warning("%s: kept as appended, not compacted (%s)", self.path, e)
        finally:
            os.close(self.fd)  # the lock goes with the last descriptor
            self.fd = -1

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
