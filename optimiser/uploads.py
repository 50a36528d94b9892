"""Files people upload through the app, kept where they can do no harm.

A browser sends a file name of its choosing: ``../../data/llr_default.gpkg`` or an absolute
path is as easy to send as ``population.csv``. So an upload is never written under the name
it came with: :class:`UploadFolder` writes each one into a fresh private folder (mode 0700)
under a name the server chooses from what the file is for (``upload-population.csv``,
``upload-boundaries.zip``, ...), refuses a second file for the same purpose rather than overwrite
it, and removes the folder when the import is over. The name the person gave is kept only
to show them in messages (and the dataset's provenance), cleaned of paths and odd
characters.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

from optimiser.errors import InputError

__all__ = ["UploadFolder", "display_name", "MAX_UNZIPPED_BYTES"]

MAX_UNZIPPED_BYTES = 500_000_000      # a zipped shapefile may hold this much when unpacked
_KIND = re.compile(r"[a-z][a-z_]{0,30}")


def display_name(client_name: str, limit: int = 80) -> str:
    """The last part of a browser-supplied file name, with anything but letters, digits,
    spaces and ``. _ - ( )`` replaced: for messages only, never for a path."""
    name = PureWindowsPath(PurePosixPath(str(client_name)).name).name
    name = re.sub(r"[^0-9A-Za-z ._()\-]", "_", name).strip(" .") or "upload"
    return name if len(name) <= limit else name[:limit - 10] + "…" + name[-9:]


class UploadFolder:
    """A private temporary folder for one import's uploads; use it in a ``with`` block (the
    folder and everything in it are removed at the end, whatever happens)."""

    def __init__(self, prefix: str = "llr-upload-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))      # mode 0700: this process only
        self.shown: dict[str, str] = {}                        # server name -> the person's name
        self._digest = hashlib.sha256()

    def __enter__(self) -> UploadFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def store(self, kind: str, client_name: str, content: bytes, suffixes: Sequence[str]) -> Path:
        """Write ``content`` as ``upload-<kind><suffix>`` in the folder; ``suffix`` is the client
        name's extension if it is one of ``suffixes`` (else InputError). Returns the path."""
        if not _KIND.fullmatch(kind):
            raise ValueError(f"not an upload kind: {kind!r}")
        shown = display_name(client_name)
        suffix = PurePosixPath(shown).suffix.lower()
        if suffix not in suffixes:
            raise InputError(f"is not one of the accepted kinds of file ({', '.join(suffixes)})", file=shown)
        path = self.path / f"upload-{kind}{suffix}"
        if any(p.stem == f"upload-{kind}" for p in self.path.iterdir()):
            raise InputError(f"a second file for the {kind.replace('_', ' ')} was given", file=shown)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        if suffix == ".zip":
            _check_zip(path, shown)
        self.shown[path.name] = shown
        self._digest.update(kind.encode() + b"\0" + hashlib.sha256(content).digest())
        return path

    @property
    def digest(self) -> str:
        """A fingerprint of everything stored (what, and its bytes)."""
        return self._digest.hexdigest()

    def relabel(self, text: str) -> str:
        """``text`` with the server's names for the files replaced by the person's."""
        for server, shown in self.shown.items():
            text = text.replace(server, shown)
        return text.replace(str(self.path) + os.sep, "")

    def relabel_dataset(self, ds):
        """The dataset with the person's file names in its name, metadata and provenance."""
        provenance = ds.provenance.copy()
        for column in provenance.columns:
            provenance[column] = provenance[column].map(lambda v: self.relabel(v) if isinstance(v, str) else v)
        metadata = {k: self.relabel(v) if isinstance(v, str) else v for k, v in ds.metadata.items()}
        return dataclasses.replace(ds, name=self.relabel(ds.name), metadata=metadata, provenance=provenance)


def _check_zip(path: Path, shown: str) -> None:
    """A zipped shapefile must be a real zip whose contents unpack to a sane size (GDAL
    reads it in place: nothing is extracted to disk)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InputError("is not a readable zip file", file=shown) from None
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED_BYTES or len(infos) > 1_000:
        raise InputError(f"unpacks to {total:,} bytes in {len(infos):,} files; the most accepted is "
                         f"{MAX_UNZIPPED_BYTES:,} bytes", file=shown)
