"""Refuse a torch device this machine cannot run on, when the provider is built.

torch itself accepts ``device="cuda:7"`` on a CPU build and fails at the first encode (an
AssertionError from its lazy CUDA init); ``"tpu"`` fails there too, as a RuntimeError. Checked here
so the mistake is one line naming the device and the fix, before any model is read.
"""

from __future__ import annotations

from ..errors import InvalidOptionError

__all__ = ["check_device"]

_FIX = "use device='cpu', 'cuda', 'cuda:<index>' or 'mps', or leave it unset to let Sentence Transformers choose"


def _count(torch: object, kind: str) -> int:
    """Devices of ``kind`` this torch build can use (0: none, or a kind torch cannot report on)."""
    if kind == "mps":
        backends = getattr(torch, "backends", None)
        return int(bool(getattr(backends, "mps", None) and backends.mps.is_available()))  # type: ignore[union-attr]
    module = getattr(torch, kind, None)
    if module is None or not hasattr(module, "is_available") or not module.is_available():
        return 0
    return int(module.device_count()) if hasattr(module, "device_count") else 1


def check_device(device: str | None, *, provider: str) -> None:
    """Raise :class:`InvalidOptionError` unless ``device`` is None, the CPU, or a device torch sees."""
    if device is None:
        return
    import torch  # only when a device is named: the default path stays torch-free until the first embed

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise InvalidOptionError(f"device={device!r} is not a torch device: {_FIX}", provider=provider) from None
    if parsed.type == "cpu":
        return
    count = _count(torch, parsed.type)
    if count == 0:
        raise InvalidOptionError(
            f"device={device!r}: this torch build ({torch.__version__}) sees no {parsed.type} device; {_FIX}",
            provider=provider,
        )
    if parsed.index is not None and parsed.index >= count:
        raise InvalidOptionError(
            f"device={device!r}: torch sees {count} {parsed.type} device(s), "
            f"{parsed.type}:0 to {parsed.type}:{count - 1}; pick one of them",
            provider=provider,
        )
