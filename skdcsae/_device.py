"""Resolving the ``device`` parameter of the torch-backed estimators."""

from __future__ import annotations

import re

import torch

__all__ = ["resolve_device"]

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device | None) -> str:
    """Turn a user's ``device`` setting into a concrete, available torch device string.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device or None
        ``"auto"`` (or None) picks CUDA when available, else MPS, else the CPU.

    Returns
    -------
    device : str
        A device string torch accepts, e.g. ``"cpu"`` or ``"cuda:0"``.

    Raises
    ------
    ValueError
        If the string is not a known device, or names a device this machine does not have.
    """
    if device is None:
        device = "auto"
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
        raise ValueError(
            f"Unknown device {device!r}. Use 'auto', 'cpu', 'cuda', 'cuda:N' (N a GPU index) "
            "or 'mps'."
        )
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if _mps_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False: no GPU, or a CPU-only torch build). "
                "Use device='cpu' or device='auto'."
            )
        if ":" in device:
            index = int(device.split(":")[1])
            count = torch.cuda.device_count()
            if index >= count:
                raise ValueError(
                    f"device={device!r} was requested but this machine has {count} CUDA "
                    f"device(s) (valid indices 0..{count - 1})."
                )
        return device
    if device == "mps" and not _mps_available():
        raise ValueError(
            "device='mps' was requested but the Apple MPS backend is not available on this "
            "machine. Use device='cpu' or device='auto'."
        )
    return device
