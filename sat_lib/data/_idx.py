"""IDX files (the MNIST family's format), raw or gzip-compressed.

Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, one big-endian uint32
per dimension, then the data in C order.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from sat_lib.data._errors import CorruptDatasetError

UBYTE = 0x08


def read_idx(path: Path, ndim: int, fix: str = "") -> np.ndarray:
    """A uint8 IDX file with ``ndim`` dimensions; ``CorruptDatasetError`` names the file and the defect."""
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptDatasetError(path, f"cannot decompress/read ({type(exc).__name__}: {exc})", fix) from None
    expected_magic = (UBYTE << 8) | ndim
    if len(raw) < 4:
        raise CorruptDatasetError(path, f"only {len(raw)} bytes, too short for an IDX header", fix)
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        raise CorruptDatasetError(
            path,
            f"bad IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x} (unsigned bytes, {ndim} dims)",
            fix,
        )
    if len(raw) < 4 + 4 * ndim:
        raise CorruptDatasetError(path, f"only {len(raw)} bytes, too short for an IDX header", fix)
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    offset = 4 + 4 * ndim
    need = int(np.prod(dims, dtype=np.int64))
    if len(raw) - offset != need:
        raise CorruptDatasetError(
            path, f"header says {dims} = {need} bytes of data, found {len(raw) - offset} (truncated?)", fix
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)
