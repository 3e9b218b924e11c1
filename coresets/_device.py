"""Device resolution shared by embedding, kNN and dense kernels."""

from __future__ import annotations


def cuda_available() -> bool:
    """True when torch sees a CUDA device (False when torch cannot be imported)."""
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
