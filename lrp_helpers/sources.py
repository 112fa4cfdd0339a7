"""Where a dataset's files come from: the one locate → check → download path every loader shares.

A loader describes its data as a `Source` and calls `locate(source, data_dir, download)`, which looks in this
order and stops at the first that exists:

1. the `data_dir` the caller passes;
2. the folder named by the source's environment variable (`lrp_helpers.settings`);
3. its folder in the Keras cache, ``~/.keras/datasets/...``;
4. a download of its files into that folder with Keras's `get_file` (checked against a SHA-256 where the
   source gives one), unless `download=False`.

Whatever is found must be complete (`Source.missing`); every failure raises the source's own error, which
says what is wrong and how to fix it. `verify_sha256sums` checks a ``SHA256SUMS`` file a folder may hold.
This module imports nothing else of the package.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Download:
    """One file of a source: saved as `name` (unpacked to a folder of that name if `untar`)."""

    name: str
    url: str
    sha256: str | None = None
    untar: bool = False


@dataclass(frozen=True)
class Source:
    title: str  # e.g. "CIFAR-10", in "CIFAR-10 not found: ..."
    folder_title: str  # e.g. "CIFAR-10 folder", in "CIFAR-10 folder /x does not exist"
    variable: str  # the environment variable that names its folder
    cache_folder: str  # under ~/.keras/datasets/
    error: type[Exception]
    how_to_fix: Callable[[Path | None], str]  # the folder concerned (None: none yet) -> the advice
    missing: Callable[[Path], str | None]  # a folder -> what it lacks, or None if complete
    downloads: Callable[[], tuple[Download, ...]]  # its files, read when a download starts

    @property
    def cache(self) -> Path:
        return Path.home() / ".keras" / "datasets" / self.cache_folder


def require_complete(source: Source, folder: Path, named_by: str) -> Path:
    if not folder.is_dir():
        raise source.error(
            f"{source.folder_title} {folder} (from {named_by}) does not exist. {source.how_to_fix(folder)}"
        )
    lacking = source.missing(folder)
    if lacking:
        raise source.error(
            f"{source.folder_title} {folder} (from {named_by}) is incomplete: {lacking}. {source.how_to_fix(folder)}"
        )
    return folder


def locate(source: Source, data_dir: str | Path | None = None, download: bool = True) -> Path:
    """The source's folder, found in the order of the module doc; its error, with advice, if none works."""
    if data_dir is not None:
        return require_complete(source, Path(data_dir), "the data_dir argument")
    if os.environ.get(source.variable):
        return require_complete(source, Path(os.environ[source.variable]), f"${source.variable}")
    cache = source.cache
    if cache.exists():
        return require_complete(source, cache, "the Keras cache")
    if not download:
        raise source.error(
            f"{source.title} not found: no data_dir given, ${source.variable} is not set, and {cache} "
            f"does not exist (downloading is switched off). {source.how_to_fix(None)}"
        )
    return require_complete(source, fetch(source), "the download")


def fetch(source: Source) -> Path:
    """Download the source's files into its cache folder with Keras's `get_file` (a broken download leaves
    nothing behind; a wrong SHA-256 is refused). Returns the folder."""
    import tensorflow as tf

    downloads = source.downloads()
    for item in downloads:
        single = len(downloads) == 1 and item.untar  # the archive unpacks to the cache folder itself
        subdir = "datasets" if single else f"datasets/{source.cache_folder}"
        try:
            path = tf.keras.utils.get_file(
                item.name, origin=item.url, untar=item.untar, file_hash=item.sha256, cache_subdir=subdir
            )
        except Exception as error:  # network errors come in many types
            raise source.error(
                f"{source.title} not found locally and the download of {item.name} failed ({error}). "
                + source.how_to_fix(source.cache)
            ) from error
        if single:
            return Path(path)
    return source.cache


def verify_sha256sums(source: Source, folder: Path, contents: dict[str, bytes] | None = None) -> int | None:
    """Check every file a ``SHA256SUMS`` file in `folder` lists (taking their bytes from `contents` where
    given, e.g. messages read from an archive); the number checked, or None if there is no such file."""
    sums_file = folder / "SHA256SUMS"
    if not sums_file.is_file():
        return None
    contents = contents or {}
    lines = [line.split(maxsplit=1) for line in sums_file.read_text().splitlines() if line.strip()]
    for expected, name in lines:
        name = name.lstrip("*")
        if name in contents:
            data = contents[name]
        elif (folder / name).is_file():
            data = (folder / name).read_bytes()
        else:
            raise source.error(f"{folder / name} is listed in {sums_file} but missing. {source.how_to_fix(folder)}")
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected:
            raise source.error(
                f"{folder / name} is corrupt: its SHA-256 is {digest}, {sums_file} expects {expected}. "
                + source.how_to_fix(folder)
            )
    return len(lines)
