"""The provenance each exporter records (``contracts.provenance``): what kind of source the weights
came from and the digests of the files they came in.

A directory's digest covers its weight files only (by suffix), so a README or tokenizer change does
not make the same weights look different; the list is hashed in sorted order of relative paths.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from modelserve.contracts.provenance import Provenance, WeightsOrigin

# What holds weights in the directories exporters take (transformers, sentence-transformers, Keras).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".keras", ".msgpack", ".onnx")
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def weight_files(directory: Path) -> list[Path]:
    """The weight files under ``directory`` (hidden folders such as .git or .cache left out)."""
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file()
        and p.name.endswith(WEIGHT_SUFFIXES)
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def files_digest(files: dict[str, str]) -> str:
    """One digest for a set of files: sha256 over ``<relative path> <sha256>`` lines, sorted."""
    lines = "".join(f"{name} {files[name]}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def _of_files(weights: WeightsOrigin, source: str, files: dict[str, str]) -> Provenance:
    digest = files_digest(files) if files else None
    return Provenance(weights=weights, source=source, sha256=digest, files=files)


def directory_provenance(weights: WeightsOrigin, directory: Path, source: str) -> Provenance:
    files = {p.relative_to(directory).as_posix(): file_sha256(p) for p in weight_files(directory)}
    return _of_files(weights, source, files)


def file_provenance(weights: WeightsOrigin, path: Path, source: str | None = None) -> Provenance:
    label = str(path) if source is None else source
    return Provenance(weights=weights, source=label, sha256=file_sha256(path))


def local(path: Path, *, random: bool = False) -> Provenance:
    """Weights from a local file or directory; ``random``: the caller says they are random
    initialisation (a test or demo file), which no digest can tell."""
    origin: WeightsOrigin = "random" if random else "local"
    if path.is_dir():
        return directory_provenance(origin, path, str(path))
    return file_provenance(origin, path)


def random_init(source: str) -> Provenance:
    """Weights drawn at random by the exporter itself: there is no file to hash."""
    return Provenance(weights="random", source=source)


def trained(data: Sequence[Path], source: str | None = None) -> Provenance:
    """Fitted here on the ``data`` files: one file's digest, or for several their combined digest
    and each one's. ``source`` names the data where a path alone would not (a bundled data set)."""
    label = ", ".join(str(p) for p in data) if source is None else source
    paths = [p for p in data if p.is_file()]
    if len(paths) == 1:
        return file_provenance("trained", paths[0], label)
    return _of_files("trained", label, {str(p): file_sha256(p) for p in paths})


__all__ = [
    "WEIGHT_SUFFIXES",
    "directory_provenance",
    "file_provenance",
    "file_sha256",
    "files_digest",
    "local",
    "random_init",
    "trained",
    "weight_files",
]
