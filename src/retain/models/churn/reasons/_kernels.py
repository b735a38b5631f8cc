"""Compiled kernels of the batch path: per-family sums, each row's picks, the JSON bytes.

They work on plain arrays that :mod:`.vectorised` lays out from the rule table: each family's
variants (a mask column per variant, in the order the rule tries them), the members of families
without a rule, and the constant pieces of JSON text. Nothing here knows a message key.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["SPECIAL", "pick", "sum_families", "write"]

SPECIAL = 1e9
"""Contributions this large, and NaN or infinities, are worded by Python instead of the kernel."""


@njit(cache=True, nogil=True)  # type: ignore[misc]
def sum_families(contributions: np.ndarray, family: np.ndarray, n_fam: int) -> np.ndarray:
    """``sums[i, family[j]] += contributions[i, j]`` over the feature columns, left to right."""
    n = contributions.shape[0]
    sums = np.zeros((n, n_fam))
    for i in range(n):
        for j in range(family.shape[0]):
            sums[i, family[j]] += contributions[i, j]
    return sums


@njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _reason_of(
    i: int,
    k: int,
    contributions: np.ndarray,
    masks: np.ndarray,
    fam_var: np.ndarray,
    fb_lo: np.ndarray,
    fb_hi: np.ndarray,
    fb_cols: np.ndarray,
    fb_missing: np.ndarray,
) -> tuple[int, int]:
    """Row ``i``'s variant of family ``k`` (-1: none) and the slot of its strongest member.

    The slot is -1 unless the family has no rule.
    """
    chosen = -1
    arg = -1
    for g in range(fam_var[k + 1] - 1, fam_var[k] - 1, -1):  # the first variant that holds
        lo, hi = fb_lo[g], fb_hi[g]
        if lo == hi:
            chosen = g if masks[i, g] else chosen
            continue
        # No rule: the strongest member (as np.argmax: the first NaN, else the first max).
        arg = lo
        best = contributions[i, fb_cols[lo]]
        if best == best:
            for s in range(lo + 1, hi):
                x = contributions[i, fb_cols[s]]
                if x != x:
                    arg = s
                    break
                if x > best:
                    arg, best = s, x
        chosen = -1 if fb_missing[i, arg + 1] else g
    return chosen, arg


@njit(cache=True, nogil=True)  # type: ignore[misc]
def pick(
    sums: np.ndarray,
    contributions: np.ndarray,
    masks: np.ndarray,
    fam_var: np.ndarray,
    fb_lo: np.ndarray,
    fb_hi: np.ndarray,
    fb_cols: np.ndarray,
    fb_missing: np.ndarray,
    var_topic: np.ndarray,
    fb_topic: np.ndarray,
    top: int,
    floor: float,
    rows: np.ndarray,
    order: np.ndarray,
    n_picks: np.ndarray,
    pick_var: np.ndarray,
    pick_arg: np.ndarray,
    pick_val: np.ndarray,
    tied: np.ndarray,
) -> int:
    """Each row's reasons, strongest family first, as :func:`reason_codes` picks them.

    Without ``rows`` (empty), every row: the families above the floor that have a reason for
    the row are sorted, and the first ``top`` taken. Families without a reason are passed over
    wherever they rank, so only equal sums among the others can change the result: a row
    where two of those the walk reaches are equal is only marked in ``tied`` (equal sums come
    in the order ``np.argsort`` gives them, which the caller computes). With ``rows``, those
    rows, walking their families in ``order``. Returns how many picked contributions Python
    has to word (see :data:`SPECIAL`).

    A reason whose topics (``var_topic`` of its variant, ``fb_topic`` of its member slot: bits
    of ``rules.OVERLAPS``) meet those of a reason already picked is passed over too.
    """
    n, n_fam = sums.shape
    special = 0
    ordered = rows.shape[0] > 0
    values = np.empty(n_fam)
    variants = np.empty(n_fam, dtype=np.int64)
    args = np.empty(n_fam, dtype=np.int64)
    taken = np.empty(n_fam, dtype=np.int64)
    for r in range(rows.shape[0] if ordered else n):
        i = rows[r] if ordered else r
        count = 0
        said = np.int64(0)
        if ordered:
            for p in range(n_fam):
                k = order[r, p]
                value = sums[i, k]
                if value <= floor or count >= top:
                    break
                g, arg = _reason_of(
                    i, k, contributions, masks, fam_var, fb_lo, fb_hi, fb_cols, fb_missing
                )
                if g < 0:
                    continue
                topic = var_topic[g] if arg < 0 else fb_topic[arg]
                if topic & said:
                    continue
                said |= topic
                pick_var[i, count], pick_arg[i, count], pick_val[i, count] = g, arg, value
                special += not abs(value) < SPECIAL
                count += 1
            n_picks[i] = count
            continue
        # The families above the floor (NaN too) with a reason, strongest first (NaN last).
        m = 0
        low = False
        nans = 0
        for k in range(n_fam):
            x = sums[i, k]
            if x <= floor:
                low = True
                continue
            g, arg = _reason_of(
                i, k, contributions, masks, fam_var, fb_lo, fb_hi, fb_cols, fb_missing
            )
            if g < 0:
                continue
            p = m
            while p > 0 and (x > values[p - 1] or (values[p - 1] != values[p - 1] and x == x)):
                values[p], variants[p], args[p] = values[p - 1], variants[p - 1], args[p - 1]
                p -= 1
            values[p], variants[p], args[p] = x, g, arg
            m += 1
            nans += x != x
        if low:  # NaN ranks last: the walk stops at a family below the floor before any NaN
            m -= nans
        # Walk them strongest first, passing over a reason that repeats one already taken.
        walked = 0
        for p in range(m):
            if count >= top:
                break
            walked = p + 1
            arg = args[p]
            topic = var_topic[variants[p]] if arg < 0 else fb_topic[arg]
            if topic & said:
                continue
            said |= topic
            taken[count] = p
            count += 1
        for p in range(min(walked, m - 1)):  # up to the first one left out
            a, b = values[p], values[p + 1]
            if a == b or (a != a and b != b):
                tied[i] = True
                count = 0
        for c in range(count):
            p = taken[c]
            pick_var[i, c], pick_arg[i, c], pick_val[i, c] = variants[p], args[p], values[p]
            special += not abs(values[p]) < SPECIAL
        n_picks[i] = count
    return special


@njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _put(buf: np.ndarray, pos: int, pieces: np.ndarray, starts: np.ndarray, piece: int) -> int:
    """Copy a piece to ``buf[pos:]``; returns the next position.

    Indices here are unsigned: numba then skips its negative-index checks, twice as fast.
    """
    lo = np.uint64(starts[piece])
    size = np.uint64(starts[piece + 1]) - lo
    at = np.uint64(pos)
    for q in range(size):
        buf[at + q] = pieces[lo + q]
    return pos + int(size)


@njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _put_int(buf: np.ndarray, pos: int, value: int) -> int:
    """Decimal digits of an int64, as ``str(int)``."""
    u = np.uint64(value)
    if value < 0:
        buf[np.uint64(pos)] = 45  # -
        pos += 1
        u = np.uint64(0) - u
    digits = 1
    t = u
    while t >= np.uint64(10):
        t //= np.uint64(10)
        digits += 1
    at = np.uint64(pos + digits)
    for _ in range(digits):
        at -= np.uint64(1)
        buf[at] = np.uint8(48) + np.uint8(u % np.uint64(10))
        u //= np.uint64(10)
    return pos + digits


@njit(cache=True, nogil=True, inline="always")  # type: ignore[misc]
def _put_round4(buf: np.ndarray, pos: int, x: float) -> int:
    """``repr(round(x, 4))`` for finite ``|x| < SPECIAL``.

    ``round`` rounds the exact binary value of ``x`` to 4 decimals, half to even; ``repr`` of the
    result is that decimal, trailing zeros dropped (at most 14 significant digits here, so it
    is the shortest text that reads back as the same float). ``x * 10**4`` is exactly
    ``mantissa * 625 * 2**(exponent + 4)``, an integer times a power of two in int64.
    """
    if math.copysign(1.0, x) < 0:
        buf[np.uint64(pos)] = 45  # -
        pos += 1
    a = abs(x)
    m = 0
    if a != 0:
        frac, exp = math.frexp(a)  # a = frac * 2**exp, 0.5 <= frac < 1
        big = np.int64(frac * 9007199254740992.0) * 625  # frac * 2**53 is an integer < 2**53
        shift = exp - 53 + 4
        if shift >= 0:
            m = int(big << shift)
        elif shift >= -63:  # below that, a * 10**4 < 2**63 / 2**64 rounds to 0
            q = big >> -shift if shift > -63 else np.int64(0)
            rest = big - (q << -shift) if shift > -63 else big
            half = np.int64(1) << (-shift - 1)
            if rest > half or (rest == half and q & 1):
                q += 1
            m = int(q)
    pos = _put_int(buf, pos, m // 10000)
    buf[np.uint64(pos)] = 46  # .
    pos += 1
    frac4 = m % 10000
    digits = 4
    while digits > 1 and frac4 % 10 == 0:
        frac4 //= 10
        digits -= 1
    at = np.uint64(pos + digits)
    for _ in range(digits):
        at -= np.uint64(1)
        buf[at] = np.uint8(48 + frac4 % 10)
        frac4 //= 10
    return pos + digits


@njit(cache=True, nogil=True)  # type: ignore[misc]
def write(
    n_picks: np.ndarray,
    pick_var: np.ndarray,
    pick_val: np.ndarray,
    pick_piece: np.ndarray,
    pick_text: np.ndarray,
    pieces: np.ndarray,
    starts: np.ndarray,
    var_head: np.ndarray,
    var_par: np.ndarray,
    par_prefix: np.ndarray,
    par_kind: np.ndarray,
    par_col: np.ndarray,
    ints: np.ndarray,
    strs: np.ndarray,
    str_base: np.ndarray,
    row_bound: int,
    capacity: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Every row's JSON list of reasons as UTF-8 bytes, and each row's end offset.

    A pick's text is ``pick_piece`` (a whole head) or the variant's head and parameters (int64
    digits, or a string piece), then piece 0, then ``pick_text`` or the rounded contribution,
    then ``}``. ``row_bound`` bounds the bytes of one row.
    """
    n = n_picks.shape[0]
    offsets = np.zeros(n + 1, dtype=np.int64)
    buf = np.empty(max(capacity, row_bound), dtype=np.uint8)
    pos = 0
    for i in range(n):
        if pos + row_bound > buf.shape[0]:
            grown = np.empty(max(2 * buf.shape[0], pos + row_bound), dtype=np.uint8)
            grown[:pos] = buf[:pos]
            buf = grown
        buf[pos] = 91  # [
        pos += 1
        for s in range(n_picks[i]):
            if s:
                buf[pos] = 44  # ,
                pos += 1
            if pick_piece[i, s] >= 0:
                pos = _put(buf, pos, pieces, starts, pick_piece[i, s])
            else:
                g = pick_var[i, s]
                pos = _put(buf, pos, pieces, starts, var_head[g])
                for p in range(var_par[g], var_par[g + 1]):
                    pos = _put(buf, pos, pieces, starts, par_prefix[p])
                    c = par_col[p]
                    if par_kind[p] == 0:
                        pos = _put_int(buf, pos, ints[i, c])
                    else:
                        pos = _put(buf, pos, pieces, starts, str_base[c] + strs[i, c])
            pos = _put(buf, pos, pieces, starts, 0)
            if pick_text[i, s] >= 0:
                pos = _put(buf, pos, pieces, starts, pick_text[i, s])
            else:
                pos = _put_round4(buf, pos, pick_val[i, s])
            buf[pos] = 125  # }
            pos += 1
        buf[pos] = 93  # ]
        pos += 1
        offsets[i + 1] = pos
    return buf[:pos], offsets
