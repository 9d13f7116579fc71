"""Rewrite clang-14's relaxed-SIMD multiply-add to the standard opcode (kernels-relaxed.wasm).

clang-14 (Debian's, the project's toolchain) compiles ``__builtin_wasm_fma_f32x4(a, b, c)``
to the relaxed-SIMD proposal's prototype opcode 0xfd 175 ("f32x4.fma"); the standard that
browsers ship numbers ``f32x4.relaxed_madd`` (a * b + c, same operands) 0xfd 261. Both are
two-byte LEB128s, so the instruction is rewritten in place: ``standard_madd(data)`` walks
every instruction of the code section (never a byte pattern, which could sit inside an
immediate) and raises ValueError on an opcode it does not know.
"""
PROTOTYPE_FMA, RELAXED_MADD = 175, 261

# 0xfd sub-opcodes with immediates: memarg (loads, stores), 16 bytes, lane index, both
_MEMARG = set(range(0, 12)) | {92, 93}
_BYTES16 = {12, 13}
_LANE = set(range(21, 35))
_MEMARG_LANE = set(range(84, 92))
_VALTYPES = {0x40, 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F}


def leb(data, i):
    """(value, next index) of the (un)signed LEB128 at i; the value as unsigned (the
    kernels' build reads their imports with it too)."""
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _sections(data):
    """(id, start, end) of each section's payload."""
    i = 8
    while i < len(data):
        sid = data[i]
        size, i = leb(data, i + 1)
        yield sid, i, i + size
        i += size


def _skip(data, i, op):
    """The index after the immediates of opcode `op` (its byte at i - 1)."""
    if op in (0x02, 0x03, 0x04):  # block type: a value type, empty, or a type index
        return i + 1 if data[i] in _VALTYPES else leb(data, i)[1]
    if op in (0x0C, 0x0D, 0x10, 0xD2) or 0x20 <= op <= 0x26:
        return leb(data, i)[1]
    if op == 0x0E:  # br_table: a vector of labels, then the default
        n, i = leb(data, i)
        for _ in range(n + 1):
            i = leb(data, i)[1]
        return i
    if op == 0x11 or 0x28 <= op <= 0x3E:  # call_indirect (type, table); memarg (align, offset)
        return leb(data, leb(data, i)[1])[1]
    if op in (0x3F, 0x40, 0xD0):
        return i + 1
    if op in (0x41, 0x42):
        return leb(data, i)[1]
    if op == 0x43:
        return i + 4
    if op == 0x44:
        return i + 8
    if op == 0x1C:  # select with types
        n, i = leb(data, i)
        return i + n
    if op in (0x00, 0x01, 0x05, 0x0B, 0x0F, 0x1A, 0x1B, 0xD1) or 0x45 <= op <= 0xC4:
        return i
    raise ValueError(f"opcode 0x{op:02x} not known to relaxed.py")


def _fc(data, i):
    sub, i = leb(data, i)
    if sub <= 7:  # saturating truncations
        return i
    if sub in (8, 10, 12, 14):  # memory.init / memory.copy / table.init / table.copy: two
        return leb(data, leb(data, i)[1])[1]
    if sub in (9, 11, 13, 15, 16, 17):
        return leb(data, i)[1]
    raise ValueError(f"opcode 0xfc {sub} not known to relaxed.py")


def standard_madd(data):
    """The module `data` (bytes) with each prototype f32x4.fma rewritten to relaxed_madd;
    returns (new bytes, how many were rewritten)."""
    out, count = bytearray(data), 0
    code = next(((s, e) for sid, s, e in _sections(data) if sid == 10), None)
    if code is None:
        return bytes(out), 0
    n, i = leb(data, code[0])
    for _ in range(n):
        size, i = leb(data, i)
        end = i + size
        groups, i = leb(data, i)  # locals: (count, type) pairs
        for _ in range(groups):
            i = leb(data, i)[1] + 1
        while i < end:
            op = data[i]
            i += 1
            if op == 0xFC:
                i = _fc(data, i)
            elif op == 0xFD:
                at = i
                sub, i = leb(data, i)
                if sub == PROTOTYPE_FMA and i - at == 2:
                    out[at:i] = bytes((RELAXED_MADD & 0x7F | 0x80, RELAXED_MADD >> 7))
                    count += 1
                elif sub in _MEMARG:
                    i = leb(data, leb(data, i)[1])[1]
                elif sub in _BYTES16:
                    i += 16
                elif sub in _LANE:
                    i += 1
                elif sub in _MEMARG_LANE:
                    i = leb(data, leb(data, i)[1])[1] + 1
            else:
                i = _skip(data, i, op)
        if i != end:
            raise ValueError("relaxed.py lost its place in the code section")
    return bytes(out), count
