"""Read one DICOM file with pydicom, refusing what would allocate without bound.

pydicom decodes whatever a header declares: an RLE file declaring 30000x30000 pixels has its
output buffer allocated before the decoder notices the data is missing, a *Deflated Explicit
VR Little Endian* file is inflated whole (a "zip bomb" fills the memory), an RLE segment
can expand 64 times, and an embedded JPEG may declare another size than the header. Here the
header is checked first, the deflated stream is inflated with a limit, RLE segments are
measured before they are decoded and embedded JPEG / JPEG 2000 sizes are compared with the
header, all before ``pixel_array`` is touched.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np

from ._decoders import Decoded, ImageRefused, Limits, check_pixels, scale_to_uint8

_DEFLATED = "1.2.840.10008.1.2.1.99"
_EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
_RLE = "1.2.840.10008.1.2.5"
_RLE_EXPANSION = 64  # a 2-byte RLE run decodes to at most 128 bytes
_RLE_SLACK = 4096  # decoded bytes tolerated past a segment's size (non-conformant padding)


def _not_file_meta(tag, vr, length) -> bool:
    return tag >> 16 != 2


def _read_file_meta(handle, pydicom):
    """The File Meta group (always Explicit VR Little Endian; retried as implicit, as
    pydicom does), leaving ``handle`` at the start of the data set."""
    from pydicom.filereader import read_dataset, read_preamble

    read_preamble(handle, True)
    start = handle.tell()
    meta = read_dataset(handle, False, True, stop_when=_not_file_meta)
    try:
        for tag in list(meta.keys())[:1]:  # as pydicom does: decoding the first one tells
            meta[tag]
    except NotImplementedError:
        handle.seek(start)
        meta = read_dataset(handle, True, True, stop_when=_not_file_meta)
    return meta


def _inflate(handle, limit: int) -> bytes:
    """Inflate a raw deflate stream from ``handle``, refusing more than ``limit`` bytes."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = bytearray()
    while chunk := handle.read(1 << 20):
        out += inflater.decompress(chunk, limit + 1 - len(out))
        if len(out) > limit or inflater.unconsumed_tail:
            raise ImageRefused(
                f"its deflated data set inflates to more than max_file_bytes={limit:,} bytes "
                "(a decompression bomb, or raise max_file_bytes to read it)"
            )
        if inflater.eof:
            break
    out += inflater.flush()
    if len(out) > limit:
        raise ImageRefused(f"its deflated data set inflates past max_file_bytes={limit:,}")
    return bytes(out)


def _parse(handle, pydicom, limits: Limits):
    meta = _read_file_meta(handle, pydicom)
    if str(meta.get("TransferSyntaxUID", "")).strip("\0 ") != _DEFLATED:
        handle.seek(0)
        return pydicom.dcmread(handle, force=True)
    # pydicom would zlib.decompress the whole rest of the file without a limit.
    body = _inflate(handle, limits.max_file_bytes)
    ds = pydicom.dcmread(io.BytesIO(body), force=True)
    meta.TransferSyntaxUID = _EXPLICIT_LITTLE  # what the inflated data set is
    ds.file_meta = pydicom.dataset.FileMetaDataset(meta)
    return ds


def _header_int(ds, keyword: str, default: int) -> int:
    value = ds.get(keyword, default)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ImageRefused(f"the DICOM header's {keyword} is not an integer: {value!r}") from None


def _rle_decoded_length(segment: bytes, limit: int) -> int:
    """Bytes an RLE (PackBits) segment decodes to, counted without decoding; stops past
    ``limit``. Follows pydicom's decoder: n < 128 copies n + 1 bytes, n > 128 repeats the
    next byte 257 - n times, 128 does nothing."""
    pos, out, n = 0, 0, len(segment)
    while pos < n and out <= limit:
        header = segment[pos]
        if header < 128:
            out += header + 1
            pos += header + 2
        elif header > 128:
            out += 257 - header
            pos += 2
        else:
            pos += 1
    return out


def _check_rle(frame: bytes, rows: int, columns: int, n_segments: int) -> None:
    if len(frame) < 64:
        raise ImageRefused("its RLE data is shorter than the 64-byte RLE header")
    offsets = struct.unpack("<16I", frame[:64])
    if offsets[0] != n_segments:
        raise ImageRefused(
            f"its RLE data has {offsets[0]} segments where the header implies {n_segments}"
        )
    starts = list(offsets[1 : 1 + n_segments])
    ends = [*starts[1:], len(frame)]
    size = rows * columns
    limit = size + _RLE_SLACK
    for start, end in zip(starts, ends, strict=True):
        segment = frame[start:end]
        if len(segment) * _RLE_EXPANSION <= limit:
            continue  # cannot decode to more than the limit
        if _rle_decoded_length(segment, limit) > limit:
            raise ImageRefused(
                f"an RLE segment decodes to more than the {size:,} bytes that "
                f"{rows}x{columns} pixels need (a decompression bomb)"
            )


def _check_embedded_size(frame: bytes, rows: int, columns: int, Image) -> None:
    """An embedded JPEG / JPEG 2000 stream must declare the header's size; Pillow reads its
    header only. Streams Pillow cannot open are left to pydicom's decoders."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            embedded = Image.open(io.BytesIO(frame), formats=("JPEG", "JPEG2000"))
        size = embedded.size
        embedded.close()
    except Exception:
        return
    if size != (columns, rows):
        raise ImageRefused(
            f"its compressed image declares {size[1]}x{size[0]} pixels (height x width) but "
            f"the DICOM header says {rows}x{columns}"
        )


def read_dicom(handle, *, Image, dicom, limits: Limits) -> Decoded:
    """Decode a single-frame DICOM file, gray (scaled to 0-255) or colour."""
    pydicom, apply_modality_lut, apply_voi_lut = dicom
    ds = _parse(handle, pydicom, limits)
    if "PixelData" not in ds:
        raise ImageRefused("the DICOM file has no pixel data")
    rows, columns = _header_int(ds, "Rows", 0), _header_int(ds, "Columns", 0)
    samples = _header_int(ds, "SamplesPerPixel", 1)
    frames = _header_int(ds, "NumberOfFrames", 1)
    bits = _header_int(ds, "BitsAllocated", 0)
    if frames > 1:
        raise ImageRefused(
            f"multi-frame DICOM ({frames} frames) is not supported; export the frame you "
            "want as a single-frame file"
        )
    if samples not in (1, 3):
        raise ImageRefused(f"SamplesPerPixel {samples} is not supported (only 1 or 3)")
    if bits not in (1, 8, 16, 32):
        raise ImageRefused(f"BitsAllocated {bits} is not supported (only 1, 8, 16 or 32)")
    check_pixels(rows, columns, samples, limits, what="its header declares")

    syntax = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
    try:
        compressed = syntax is not None and syntax.is_compressed
    except ValueError:  # pydicom: not a transfer syntax it knows
        raise ImageRefused(f"its transfer syntax {str(syntax)!r} is unknown") from None
    if compressed:
        from pydicom.encaps import generate_frames

        frame = next(generate_frames(ds.PixelData, number_of_frames=1), b"")
        if syntax == _RLE:
            _check_rle(frame, rows, columns, samples * max(1, bits // 8))
        else:
            _check_embedded_size(frame, rows, columns, Image)

    arr = ds.pixel_array
    expected = (rows, columns) if samples == 1 else (rows, columns, 3)
    if arr.shape != expected:
        raise ImageRefused(f"decoded to shape {arr.shape}, not the declared {expected}")
    if samples == 1:

        def luts(block):  # Modality LUT / rescale, then VOI LUT / windowing
            return apply_voi_lut(apply_modality_lut(block, ds), ds)

        pixels = scale_to_uint8(arr, luts)
        del arr
        if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
            np.subtract(255, pixels, out=pixels)  # MONOCHROME1: low values are bright
        return Decoded(Image.fromarray(pixels), rows, columns, "gray", rescaled=True)
    # Colour: pydicom returns RGB (YBR is converted); scale deeper data to 8 bits.
    rescaled = arr.dtype != np.uint8
    pixels = scale_to_uint8(arr) if rescaled else np.ascontiguousarray(arr)
    return Decoded(Image.fromarray(pixels), rows, columns, "rgb", rescaled=rescaled)
