"""Eight-lane float32 vectors for Numba kernels: a value type whose LLVM model is ``<8 x float>``.

Numba's auto-vectoriser picks its own loop to vectorise; in gather kernels it
vectorises the wrong one (with gathers) or rebuilds tuple accumulators at
every iteration. A :data:`float32x8` value is one SIMD register (AVX ``ymm``,
two SSE registers elsewhere: LLVM lowers the vector type to whatever the CPU
has), so an accumulator of eight adjacent output channels stays in a register
across a loop. The intrinsics do no bounds checks: the caller guarantees
``i + 8 <= len(a)`` for a 1-D C-contiguous float32 array ``a``.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, models, register_model

__all__ = ["add8", "float32x8", "load8", "store_add8", "zeros8"]

_V8 = ir.VectorType(ir.FloatType(), 8)


class Float32x8(types.Type):
    """Numba type of eight float32 lanes held as one LLVM vector."""

    def __init__(self) -> None:
        super().__init__(name="float32x8")


float32x8 = Float32x8()


@register_model(Float32x8)
class _Float32x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type) -> None:  # noqa: ANN001 - Numba's data-model signature
        super().__init__(dmm, fe_type, _V8)


def _lanes(context, builder, aryty, ary, index):  # noqa: ANN001, ANN202 - LLVM codegen helpers
    """Pointer to ``ary[index:index + 8]`` as a vector pointer (unaligned)."""
    data = context.make_array(aryty)(context, builder, ary).data
    return builder.bitcast(builder.gep(data, [index]), ir.PointerType(_V8))


@intrinsic
def zeros8(typingctx):  # noqa: ANN001, ANN201 - Numba intrinsic
    """Eight zero lanes."""
    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        return ir.Constant(_V8, [0.0] * 8)

    return float32x8(), codegen


@intrinsic
def load8(typingctx, a, i):  # noqa: ANN001, ANN201 - Numba intrinsic
    """``a[i:i + 8]`` of a 1-D float32 array as one vector."""
    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        return builder.load(_lanes(context, builder, signature.args[0], args[0], args[1]), align=4)

    return float32x8(a, i), codegen


@intrinsic
def add8(typingctx, u, v):  # noqa: ANN001, ANN201 - Numba intrinsic
    """Lane-wise ``u + v``."""
    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        return builder.fadd(args[0], args[1])

    return float32x8(u, v), codegen


@intrinsic
def store_add8(typingctx, a, i, v):  # noqa: ANN001, ANN201 - Numba intrinsic
    """``a[i:i + 8] += v`` for a 1-D float32 array."""
    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        ptr = _lanes(context, builder, signature.args[0], args[0], args[1])
        builder.store(builder.fadd(builder.load(ptr, align=4), args[2]), ptr, align=4)
        return context.get_dummy_value()

    return types.void(a, i, v), codegen
