"""Builders of hostile image files for the tests, and a child process with bounded memory."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def png_declaring(path: Path, width: int, height: int, *, color_type=0, bit_depth=8) -> Path:
    """A PNG whose IHDR declares ``width`` x ``height`` but whose data is a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    return path


def dicom_dataset(rows, columns, syntax, *, bits=8, samples=1, frames=None):
    """A minimal DICOM data set (Secondary Capture) without pixel data yet."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, columns, samples
    ds.PhotometricInterpretation = "MONOCHROME2" if samples == 1 else "RGB"
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if frames is not None:
        ds.NumberOfFrames = frames
    return ds


def save_dicom(ds, path: Path, pixel_data: bytes, *, encapsulated: bool) -> Path:
    from pydicom.encaps import encapsulate

    ds.PixelData = encapsulate([pixel_data]) if encapsulated else pixel_data
    ds["PixelData"].VR = "OB"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def rle_frame(*segments: bytes) -> bytes:
    """An RLE frame: the 64-byte header (segment count and offsets), then the segments."""
    offsets, position = [], 64
    for segment in segments:
        offsets.append(position)
        position += len(segment)
    header = struct.pack("<16I", len(segments), *offsets, *[0] * (15 - len(segments)))
    return header + b"".join(segments)


def rle_dicom(path: Path, rows: int, columns: int, segment: bytes) -> Path:
    from pydicom.uid import RLELossless

    ds = dicom_dataset(rows, columns, RLELossless)
    return save_dicom(ds, path, rle_frame(segment), encapsulated=True)


def jpeg_in_dicom(path: Path, rows: int, columns: int, jpeg_side: int) -> Path:
    from PIL import Image
    from pydicom.uid import JPEGBaseline8Bit

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((jpeg_side, jpeg_side), np.uint8)).save(buffer, "JPEG")
    ds = dicom_dataset(rows, columns, JPEGBaseline8Bit)
    return save_dicom(ds, path, buffer.getvalue(), encapsulated=True)


def deflated_dicom(path: Path, raw: np.ndarray) -> Path:
    """A genuine Deflated Explicit VR Little Endian file holding ``raw`` (uint8, 2-D)."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = dicom_dataset(*raw.shape, DeflatedExplicitVRLittleEndian)
    return save_dicom(ds, path, raw.tobytes(), encapsulated=False)


def deflate_bomb(path: Path, inflated_bytes: int) -> Path:
    """A deflated DICOM whose data set inflates to ``inflated_bytes`` zero bytes."""
    from pydicom.filereader import read_dataset, read_preamble

    deflated_dicom(path, np.zeros((4, 4), np.uint8))
    with open(path, "rb") as handle:
        read_preamble(handle, False)
        read_dataset(handle, False, True, stop_when=lambda tag, vr, length: tag >> 16 != 2)
        header = path.read_bytes()[: handle.tell()]
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    body = b"".join(squeezer.compress(zeros) for _ in range(inflated_bytes >> 20))
    path.write_bytes(header + body + squeezer.flush())
    return path


_CHILD = textwrap.dedent(
    """
    import json, resource, sys, warnings
    import numpy, PIL.Image, pydicom, pydicom.encaps, pydicom.filereader, pydicom.pixels
    import pydicom.pixels.decoders.rle
    from skdcsae.datasets import load_image_folder

    PIL.Image.init()
    folder, budget_mb, kwargs = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
    with open("/proc/self/status") as status:
        size = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize"))
    limit = size + (budget_mb << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")
    try:
        bunch = load_image_folder(folder, **kwargs)
    except ValueError as exc:
        print("ValueError:", exc)
    except MemoryError:
        print("MemoryError")
        sys.exit(3)
    else:
        print("loaded", bunch.filenames.tolist())
    """
)


def load_in_child(folder: Path, *, budget_mb: int, timeout=120, **kwargs) -> str:
    """Run load_image_folder(folder, **kwargs) in a child process whose address space may
    grow by only ``budget_mb`` MiB after the imports; return what it printed."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder), str(budget_mb), json.dumps(kwargs)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, f"child failed ({proc.returncode}): {proc.stdout}{proc.stderr}"
    return proc.stdout
