"""Blockwise weight quantization into ONNX Runtime's MatMulNBits layout (pure numpy).

Why our own packing instead of ORT's MatMulNBitsQuantizer: ORT's quantizer stores zero
points as integers, so an asymmetric block's minimum is rounded onto the grid. Our source is
Q4_1 (blocks of 32 along K, each `scale * q + min`), and MatMulNBits' CPU kernel accepts
zero points of the scales' float type: with `zero_point = -min / scale` every Q4_1 block is
represented exactly, so re-quantizing to int4 with block 32 loses (almost) nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Packed:
    """MatMulNBits initializers for one weight of shape [K, N]."""

    data: np.ndarray  # uint8 [N, blocks, block_size * bits / 8]
    scales: np.ndarray  # float32 [N * blocks]
    # float32 [N * blocks] (4 bits) or uint8 [N * blocks] (8 bits); None: the midpoint.
    zero_points: np.ndarray | None
    k: int
    n: int
    bits: int
    block_size: int


def quantize_blockwise(weight: np.ndarray, bits: int, block_size: int, symmetric: bool) -> Packed:
    """Quantize W [K, N] in blocks along K (the reduction axis, as MatMulNBits wants)."""
    k, n = weight.shape
    blocks = -(-k // block_size)
    padded = np.zeros((blocks * block_size, n), dtype=np.float32)
    padded[:k] = weight
    rows = padded.T.reshape(n, blocks, block_size)
    if symmetric:
        scales = _symmetric_scales(rows, bits)
        q, zero_points = _symmetric(rows, bits, scales), None
    elif bits == 8:
        # ORT's CPU kernel refuses float zero points for 8-bit weights.
        q, scales, zero_points = _asymmetric_integer(rows, bits)
    else:
        q, scales, zero_points = _asymmetric(rows, bits)
    return Packed(_pack(q, bits), scales.reshape(-1), zero_points, k, n, bits, block_size)


def dequantize(packed: Packed) -> np.ndarray:
    """Inverse of quantize_blockwise, returning W [K, N]: used by tests and error reports."""
    q = _unpack(packed.data, packed.bits).astype(np.float32)
    blocks = q.shape[1]
    scales = packed.scales.reshape(packed.n, blocks, 1)
    zero: np.ndarray | np.float32
    if packed.zero_points is None:
        zero = np.float32(1 << (packed.bits - 1))
    else:
        zero = packed.zero_points.astype(np.float32).reshape(packed.n, blocks, 1)
    rows = (q - zero) * scales
    return np.asarray(rows.reshape(packed.n, -1)[:, : packed.k].T)


def _symmetric_scales(rows: np.ndarray, bits: int) -> np.ndarray:
    amax = np.abs(rows).max(axis=-1)
    scales = amax / np.float32((1 << (bits - 1)) - 1)
    return np.where(scales == 0, np.float32(1), scales).astype(np.float32)


def _symmetric(rows: np.ndarray, bits: int, scales: np.ndarray) -> np.ndarray:
    half = 1 << (bits - 1)
    q = np.clip(np.rint(rows / scales[..., None]), -half, half - 1) + half
    return np.asarray(q, dtype=np.uint8)


def _asymmetric(rows: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min/max per block with a float zero point: exact for data already on a min+scale grid."""
    low = rows.min(axis=-1)
    high = rows.max(axis=-1)
    scales = (high - low) / np.float32((1 << bits) - 1)
    scales = np.where(scales == 0, np.float32(1), scales).astype(np.float32)
    q = np.clip(np.rint((rows - low[..., None]) / scales[..., None]), 0, (1 << bits) - 1)
    zero_points = (-low / scales).astype(np.float32)
    return q.astype(np.uint8), scales, zero_points.reshape(-1)


def _asymmetric_integer(rows: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min/max per block with the range widened to hold 0, so the zero point is an integer."""
    top = (1 << bits) - 1
    low = np.minimum(rows.min(axis=-1), 0)
    high = np.maximum(rows.max(axis=-1), 0)
    scales = (high - low) / np.float32(top)
    scales = np.where(scales == 0, np.float32(1), scales).astype(np.float32)
    zero_points = np.clip(np.rint(-low / scales), 0, top)
    q = np.clip(np.rint(rows / scales[..., None]) + zero_points[..., None], 0, top)
    return q.astype(np.uint8), scales, zero_points.astype(np.uint8).reshape(-1)


def _pack(q: np.ndarray, bits: int) -> np.ndarray:
    if bits == 8:
        return np.ascontiguousarray(q)
    # 4 bits: element 2i in the low nibble, 2i+1 in the high nibble.
    return np.ascontiguousarray(q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


def _unpack(data: np.ndarray, bits: int) -> np.ndarray:
    if bits == 8:
        return data
    out = np.empty((*data.shape[:-1], data.shape[-1] * 2), dtype=np.uint8)
    out[..., 0::2] = data & 0x0F
    out[..., 1::2] = data >> 4
    return out
