"""TFLite Micro's int8 TANH and LOGISTIC as 256-entry tables, computed with its own integers.

TFLM evaluates both (``reference_integer_ops::Tanh`` / ``Logistic``) in gemmlowp's 32-bit
fixed point: the input minus its zero point is rescaled to Q4.27 by a multiplier and a
left shift prepared from the input scale alone (``tanh.cc``, ``logistic_common.cc``), then
``gemmlowp::tanh`` / ``gemmlowp::logistic`` (a Taylor series for exp on [-1/4, 0), a barrel
shifter of exp(-2**k) constants and three Newton-Raphson steps for the division) and a
rounding shift to int8. The output depends on the int8 input alone, so the generated C
holds the 256 results as a table: what TFLM computes per element, looked up. This module
reproduces that arithmetic in Python integers, wrapping to int32 where C++ does, from
gemmlowp's ``fixedpoint/fixedpoint.h``; tests/test_c_module.py checks the tables against
the tflite-micro interpreter through whole generators.
"""

from __future__ import annotations

import math

__all__ = ["tanh_table", "logistic_table", "prepare_tanh_or_logistic"]

_MIN, _MAX = -(2**31), 2**31 - 1


def _wrap(x: int) -> int:
    """int32 two's-complement wrap-around (gemmlowp's Add/Sub/Neg on int32)."""
    return (x + 2**31) % 2**32 - 2**31


def _srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul: the fixed-point product of two raw values."""
    if a == b == _MIN:
        return _MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _trunc_div(ab + nudge, 1 << 31)  # C++ division truncates


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _rdbpot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT: x / 2**exponent, rounded half away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def _sat_mul_pot(x: int, exponent: int) -> int:
    """SaturatingRoundingMultiplyByPOT<exponent> on an int32 raw value."""
    if exponent == 0:
        return x
    if exponent < 0:
        return _rdbpot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return _MAX
    if x < -threshold:
        return _MIN
    return _wrap(x << exponent)


def _rounding_half_sum(a: int, b: int) -> int:
    s = a + b
    return _trunc_div(s + (1 if s >= 0 else -1), 2)


def _one(integer_bits: int) -> int:
    return _MAX if integer_bits == 0 else 1 << (31 - integer_bits)


def _exp_on_interval(a: int) -> int:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out."""
    constant_term, one_third = 1895147668, 715827883  # exp(-1/8), 1/3
    x = _wrap(a + (1 << 28))  # a + 1/8
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_over_4 = _sat_mul_pot(x4, -2)
    poly = _sat_mul_pot(_wrap(_srdhm(_wrap(x4_over_4 + x3), one_third) + x2), -1)
    return _wrap(constant_term + _srdhm(constant_term, _wrap(x + poly)))


_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
           (3, 720401), (4, 242))


def _exp_on_negative_values(a: int, integer_bits: int) -> int:
    """exp(a) for a <= 0 given with `integer_bits` integer bits; Q0.31 out."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod = _wrap((a & mask) - one_quarter)
    result = _exp_on_interval(_sat_mul_pot(a_mod, integer_bits))  # Rescale<0>
    remainder = _wrap(a_mod - a)
    for exponent, multiplier in _BARREL:
        if integer_bits > exponent and remainder & (1 << (fractional_bits + exponent)):
            result = _srdhm(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    return _one(0) if a == 0 else result


def _newton_reciprocal(a: int) -> int:
    """x ~ 1 / (1 + a) * 2 in Q2.29 after three Newton-Raphson steps, and the half denominator."""
    half_denominator = _rounding_half_sum(a, _one(0))
    x = _wrap(1515870810 + _srdhm(half_denominator, -1010580540))  # 48/17 - 32/17 * d
    for _ in range(3):
        one_minus = _wrap(_one(2) - _srdhm(half_denominator, x))
        x = _wrap(x + _sat_mul_pot(_srdhm(x, one_minus), 2))  # Rescale<2> from Q4
    return x


def _tanh_q0(a: int) -> int:
    """gemmlowp::tanh of a Q4.27 raw value, Q0.31 out."""
    negative = a < 0
    n = a if negative else _wrap(-a)
    e = _exp_on_negative_values(n, 5)  # ExactMulByPot<1>: the same raw value, 5 integer bits
    x = _newton_reciprocal(e)
    t = _sat_mul_pot(_wrap(x - _one(2)), 2)  # one_minus_x_over_one_plus_x
    if a == 0:
        return 0
    return _wrap(-t) if negative else t


def _logistic_q0(a: int) -> int:
    """gemmlowp::logistic of a Q4.27 raw value, Q0.31 out."""
    positive = a > 0
    abs_input = a if positive else _wrap(-a)
    e = _exp_on_negative_values(_wrap(-abs_input), 4)
    result_if_positive = _sat_mul_pot(_newton_reciprocal(e), 1)  # Rescale<0>(ExactMulByPot<-1>)
    if a == 0:
        return 1 << 30
    return result_if_positive if positive else _wrap(_one(0) - result_if_positive)


def _round_half_away(x: float) -> int:
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def prepare_tanh_or_logistic(input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, input_range_radius) as TFLM's Prepare makes them
    from the float32 input scale, in double precision (kInputIntegerBits = 4)."""
    real = float(input_scale) * float(1 << 27)
    q, shift = math.frexp(real)
    multiplier = _round_half_away(q * (1 << 31))
    if multiplier > _MAX:
        raise ValueError(f"input scale {input_scale!r} rounds its multiplier to 2**31, which TFLM's "
                         f"int32 cast overflows")
    radius = math.floor(1.0 * 15 * (1 << 27) / (1 << shift)) if shift >= 0 else \
        math.floor(1.0 * 15 * (1 << 27) * 2.0 ** -shift)
    return multiplier, shift, radius


def _requantize(x: int, multiplier: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return _rdbpot(_srdhm(_wrap(x * (1 << left)), multiplier), right)


def _table(input_scale: float, input_zero_point: int, function, out_shift: int, out_offset: int) -> list[int]:
    multiplier, shift, radius = prepare_tanh_or_logistic(input_scale)
    table = []
    for q in range(-128, 128):
        x = q - input_zero_point
        if x <= -radius:
            table.append(-128)
        elif x >= radius:
            table.append(127)
        else:
            y = _rdbpot(function(_requantize(x, multiplier, shift)), out_shift) + out_offset
            table.append(min(max(y, -128), 127))
    return table


def tanh_table(input_scale: float, input_zero_point: int) -> list[int]:
    """TFLM's int8 TANH output for each input code -128..127, in that order."""
    return _table(input_scale, input_zero_point, _tanh_q0, 31 - 7, 0)


def logistic_table(input_scale: float, input_zero_point: int) -> list[int]:
    """TFLM's int8 LOGISTIC output (zero point -128) for each input code -128..127."""
    return _table(input_scale, input_zero_point, _logistic_q0, 31 - 8, -128)
