"""Gradient compression for allreduce, as Horovod's: `Compression.none`, `.fp16`, `.bf16`.

A compressor turns a tensor into what travels (`compress(t) -> (t_wire, ctx)`) and back
(`decompress(t_wire, ctx) -> t`). The built-in ones also say which dtype they send
(`wire_dtype(dtype)`), which lets DistributedOptimizer cast into a preallocated buffer instead of
allocating per step. Only floating-point tensors are cast; integer tensors travel unchanged.

Averages and overflow: a sum of N float16 values can overflow float16 (max 65504) even when their
average cannot. With a narrowing compressor and op=Average, cohort therefore divides by the
world size *before* the cast (in the original dtype) and sums on the wire, so every partial sum
is bounded by the largest average. (The price: gradients below float16's smallest normal value
times N lose precision earlier; bfloat16 has float32's range and does not have either problem.)
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import torch


class Compressor:
    """Interface of a compressor (classes with static methods, as in Horovod)."""

    @staticmethod
    def compress(tensor: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        """(tensor to send, context for decompress)."""
        raise NotImplementedError

    @staticmethod
    def decompress(tensor: torch.Tensor, ctx: Any) -> torch.Tensor:
        """The tensor that was compressed, from what arrived."""
        raise NotImplementedError

    @classmethod
    def wire_dtype(cls, dtype: torch.dtype) -> Optional[torch.dtype]:
        """dtype sent for a tensor of `dtype`, or None when unknown (custom compressors)."""
        return None


class NoneCompressor(Compressor):
    """Sends tensors as they are."""

    @staticmethod
    def compress(tensor: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        return tensor, None

    @staticmethod
    def decompress(tensor: torch.Tensor, ctx: Any) -> torch.Tensor:
        return tensor

    @classmethod
    def wire_dtype(cls, dtype: torch.dtype) -> Optional[torch.dtype]:
        return dtype


class _CastCompressor(Compressor):
    """Casts floating-point tensors to `_wire` for the trip and back after it."""

    _wire: torch.dtype = torch.float16

    @classmethod
    def compress(cls, tensor: torch.Tensor) -> Tuple[torch.Tensor, Any]:
        if tensor.dtype.is_floating_point and tensor.dtype != cls._wire:
            return tensor.to(cls._wire), tensor.dtype
        return tensor, None

    @staticmethod
    def decompress(tensor: torch.Tensor, ctx: Any) -> torch.Tensor:
        return tensor.to(ctx) if ctx is not None else tensor

    @classmethod
    def wire_dtype(cls, dtype: torch.dtype) -> Optional[torch.dtype]:
        return cls._wire if dtype.is_floating_point else dtype


class FP16Compressor(_CastCompressor):
    """Sends floating-point tensors as float16 (half the bytes of float32)."""

    _wire = torch.float16


class BF16Compressor(_CastCompressor):
    """Sends floating-point tensors as bfloat16 (float32's range, 8 bits of mantissa)."""

    _wire = torch.bfloat16


class Compression:
    """The built-in compressors: `Compression.none`, `Compression.fp16`, `Compression.bf16`."""

    none = NoneCompressor
    fp16 = FP16Compressor
    bf16 = BF16Compressor


def narrows(compression: Any, dtype: torch.dtype) -> bool:
    """True when `compression` may send a tensor of `dtype` in another (narrower) dtype."""
    wire = compression.wire_dtype(dtype) if hasattr(compression, "wire_dtype") else None
    return wire != dtype
