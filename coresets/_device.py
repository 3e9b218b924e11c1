"""Device resolution shared by embedding, kNN and dense kernels."""

from __future__ import annotations

import os
import sys

#: Paths that exist wherever an NVIDIA driver (or WSL's GPU bridge) can serve CUDA.
_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg")


def _no_cuda_driver() -> bool:
    """True when this is Linux and no NVIDIA driver is loaded: CUDA cannot be there."""
    if not sys.platform.startswith("linux"):
        return False  # no cheap proof elsewhere: ask torch
    return not any(os.path.exists(p) for p in _DRIVER_PATHS)


def cuda_available() -> bool:
    """True when torch sees a CUDA device (False when torch cannot be imported).

    On a Linux machine without an NVIDIA driver the answer is known without importing
    torch, which takes seconds that a CPU-only ``coresets select`` would otherwise pay.
    """
    if "torch" not in sys.modules and _no_cuda_driver():
        return False
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a runtime dependency
        return False
    return bool(torch.cuda.is_available())


def resolve_device(device="auto", name: str = "device"):
    """Return a ``torch.device``: ``"auto"`` picks CUDA when present, else the CPU.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
    name : argument name used in error messages.
    """
    import torch

    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"{name} must be 'auto', 'cpu', 'cuda' or a torch.device, got {device!r}"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={device!r} was requested but CUDA is not available")
    return dev


def cuda_device(device, name: str = "device"):
    """The CUDA ``torch.device`` that ``device`` asks for, or None when it means the CPU.

    ``"auto"`` means CUDA when present; ``"cpu"`` and ``torch.device("cpu")`` mean the CPU
    alike, so a caller that computes with numpy on the CPU and torch on a GPU returns
    the same type for both spellings.
    """
    if isinstance(device, str) and device == "cpu":
        return None  # without importing torch (seconds, and hundreds of MB)
    if isinstance(device, str) and device == "auto" and not cuda_available():
        return None
    dev = resolve_device(device, name)
    return None if dev.type == "cpu" else dev
