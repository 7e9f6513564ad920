"""Input files through Beam's FileSystems, so that the masking ExampleGen reads local paths and
remote ones (gs://, s3://, hdfs://: whichever filesystems the installed Beam extras register)
the same way, in the executor and on Beam workers. Files ending in .gz or .bz2 are decompressed
(Beam's CompressionTypes.AUTO); the names in error messages stay the names given.
"""
import hashlib
import io
from typing import BinaryIO, List, TextIO, Tuple

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

ENCODING = "utf-8"


def match(input_base: str, pattern: str) -> List[str]:
    """The files (not directories) under input_base matching pattern, sorted; Beam's glob
    syntax (`*` stays within a directory, `**` crosses them)."""
    found = FileSystems.match([FileSystems.join(input_base, pattern)])[0].metadata_list
    return sorted(metadata.path for metadata in found)


class _RawReader(io.RawIOBase):
    """A Beam file (CompressedFile for .gz has only read()) as an io raw stream."""

    def __init__(self, beam_file):
        super().__init__()
        self._file = beam_file

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._file.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


def open_binary(path: str, decompress: bool = True) -> BinaryIO:
    """The file's bytes, decompressed (by extension) unless decompress=False (the stored bytes,
    e.g. for a checksum that `sha256sum` of the file reproduces)."""
    compression = CompressionTypes.AUTO if decompress else CompressionTypes.UNCOMPRESSED
    return io.BufferedReader(_RawReader(FileSystems.open(path, compression_type=compression)),
                             buffer_size=1 << 20)


def exists(path: str) -> bool:
    return FileSystems.exists(path)


def digest(path: str) -> Tuple[str, int]:
    """SHA-256 (what `sha256sum` of the file prints) and size of the stored bytes, in one read."""
    hashed, size = hashlib.sha256(), 0
    with open_binary(path, decompress=False) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            hashed.update(block)
            size += len(block)
    return hashed.hexdigest(), size


def sha256(path: str) -> str:
    return digest(path)[0]


def open_text(path: str) -> TextIO:
    """UTF-8 text with line endings kept as they are (what the csv module expects)."""
    return io.TextIOWrapper(open_binary(path), encoding=ENCODING, newline="")
