import Foundation
import IQuestKernels

/// SplitMix64: a small seeded generator so every test sees the same "random" data.
struct TestRNG {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next() >> 56) }
    mutating func u16() -> UInt16 { UInt16(truncatingIfNeeded: next() >> 48) }
    /// Uniform in [lo, hi).
    mutating func float(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func floats(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in float(lo, hi) }
    }
}

// MARK: - Reference decoders written from the format definitions (no engine code).

/// IEEE 754 binary16 → Double, from the bit fields (sign, 5-bit exponent with bias 15, 10-bit
/// fraction; exponent 0 = subnormal, 31 = inf/NaN).
func referenceHalf(_ bits: UInt16) -> Double {
    let sign: Double = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 10) & 0x1F)
    let fraction = Double(bits & 0x3FF)
    switch exponent {
    case 0: return sign * fraction * pow(2, -24)
    case 31: return fraction == 0 ? sign * .infinity : .nan
    default: return sign * (1 + fraction / 1024) * pow(2, Double(exponent - 15))
    }
}

/// bfloat16 → Double: the upper 16 bits of an IEEE binary32.
func referenceBFloat(_ bits: UInt16) -> Double {
    Double(Float(bitPattern: UInt32(bits) << 16))
}

func readU16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }

/// Decodes one stored row of `count` elements, in Double, straight from ggml's block layouts.
func referenceDecode(_ kind: WeightKind, _ bytes: [UInt8], count: Int) -> [Double] {
    var out = [Double](repeating: 0, count: count)
    switch kind {
    case .f32:
        for i in 0..<count {
            let bits = UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16
                | UInt32(bytes[4 * i + 3]) << 24
            out[i] = Double(Float(bitPattern: bits))
        }
    case .f16:
        for i in 0..<count { out[i] = referenceHalf(readU16(bytes, 2 * i)) }
    case .bf16:
        for i in 0..<count { out[i] = referenceBFloat(readU16(bytes, 2 * i)) }
    case .q8_0:
        // Block: f16 d, then 32 int8 q; x = d·q.
        for b in 0..<(count / 32) {
            let base = b * 34
            let d = referenceHalf(readU16(bytes, base))
            for j in 0..<32 { out[b * 32 + j] = d * Double(Int8(bitPattern: bytes[base + 2 + j])) }
        }
    case .q4_0:
        // Block: f16 d, then 16 bytes; byte j: element j = low nibble, element j+16 = high nibble;
        // x = d·(n − 8).
        for b in 0..<(count / 32) {
            let base = b * 18
            let d = referenceHalf(readU16(bytes, base))
            for j in 0..<16 {
                let q = bytes[base + 2 + j]
                out[b * 32 + j] = d * Double(Int(q & 0x0F) - 8)
                out[b * 32 + j + 16] = d * Double(Int(q >> 4) - 8)
            }
        }
    case .q4_1:
        // Block: f16 d, f16 m, then 16 bytes (same nibble order); x = d·n + m.
        for b in 0..<(count / 32) {
            let base = b * 20
            let d = referenceHalf(readU16(bytes, base))
            let m = referenceHalf(readU16(bytes, base + 2))
            for j in 0..<16 {
                let q = bytes[base + 4 + j]
                out[b * 32 + j] = d * Double(q & 0x0F) + m
                out[b * 32 + j + 16] = d * Double(q >> 4) + m
            }
        }
    case .q4_K:
        // Super-block (144 bytes): f16 d, f16 dmin, 12 scale bytes, 128 nibble bytes.
        // Sub-block j (32 elements): x = d·sc_j·n − dmin·m_j (referenceQ4KScaleMin).
        // Nibbles: byte 16 + 32·(j/2) + l holds element 32·j + l, low nibble for even j.
        for s in 0..<(count / 256) {
            let base = s * 144
            let d = referenceHalf(readU16(bytes, base)), dmin = referenceHalf(readU16(bytes, base + 2))
            for j in 0..<8 {
                let (sc, m) = referenceQ4KScaleMin(bytes, base, j)
                for l in 0..<32 {
                    let byte = bytes[base + 16 + 32 * (j / 2) + l]
                    let n = j % 2 == 0 ? byte & 0x0F : byte >> 4
                    out[256 * s + 32 * j + l] = d * Double(sc) * Double(n) - dmin * Double(m)
                }
            }
        }
    case .q6_K:
        // Super-block (210 bytes): ql[128], qh[64], int8 scales[16], f16 d. Element e: half
        // h = e/128, r = e%128, l = r%32; low 4 bits from ql[64h + l + 32·(r/32 % 2)], shifted
        // right by 4 when r ≥ 64; high 2 bits from qh[32h + l] >> 2·(r/32); x = d·scales[e/16]·(code − 32).
        for s in 0..<(count / 256) {
            let base = s * 210
            let d = referenceHalf(readU16(bytes, base + 208))
            for e in 0..<256 {
                let h = e / 128, r = e % 128, l = r % 32, quarter = r / 32
                let low = bytes[base + 64 * h + l + 32 * (quarter % 2)] >> (quarter >= 2 ? 4 : 0) & 0x0F
                let high = (bytes[base + 128 + 32 * h + l] >> (2 * quarter)) & 3
                let code = Int(low) | Int(high) << 4
                let scale = Int8(bitPattern: bytes[base + 192 + e / 16])
                out[256 * s + e] = d * Double(scale) * Double(code - 32)
            }
        }
    }
    return out
}

/// q4_K sub-block j's 6-bit scale and min from the 12 bytes at base + 4 (ggml's get_scale_min_k4):
/// j < 4: scale = b[j] & 63, min = b[j+4] & 63; j ≥ 4: scale = b[j+4] & 15 | (b[j−4] >> 6) << 4,
/// min = b[j+4] >> 4 | (b[j] >> 6) << 4.
func referenceQ4KScaleMin(_ bytes: [UInt8], _ base: Int, _ j: Int) -> (Int, Int) {
    let b = { (i: Int) in Int(bytes[base + 4 + i]) }
    if j < 4 { return (b(j) & 63, b(j + 4) & 63) }
    return ((b(j + 4) & 0x0F) | (b(j - 4) >> 6) << 4, (b(j + 4) >> 4) | (b(j) >> 6) << 4)
}

/// A finite binary16 bit pattern: mostly normal values of moderate size, some subnormals,
/// zeros of both signs.
func randomHalfBits(_ rng: inout TestRNG, scale: Float = 1) -> UInt16 {
    switch rng.next() % 16 {
    case 0: return rng.u16() & 0x83FF          // subnormal (or ±0)
    case 1: return rng.next() % 2 == 0 ? 0x0000 : 0x8000
    default: return Float16(rng.float(-scale, scale)).bitPattern
    }
}

/// Random bytes for `rows` rows of `columns` elements in `kind`'s encoding (scales are finite
/// half values; quants are arbitrary).
func randomWeightBytes(_ kind: WeightKind, rows: Int, columns: Int, rng: inout TestRNG) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(rows * kind.rowBytes(columns: columns))
    func put16(_ v: UInt16) { bytes.append(UInt8(v & 0xFF)); bytes.append(UInt8(v >> 8)) }
    for _ in 0..<rows {
        switch kind {
        case .f32:
            for _ in 0..<columns {
                let v = rng.float(-1, 1).bitPattern
                for s in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) }
            }
        case .f16:
            for _ in 0..<columns { put16(randomHalfBits(&rng)) }
        case .bf16:
            for _ in 0..<columns {
                // Any finite bf16: take a random float's upper half, including tiny/denormal ones.
                let f: Float = rng.next() % 8 == 0 ? Float(bitPattern: UInt32(rng.u16() & 0x807F) << 16)
                                                    : rng.float(-2, 2)
                put16(UInt16(f.bitPattern >> 16))
            }
        case .q8_0:
            for _ in 0..<(columns / 32) {
                put16(Float16(rng.float(0.001, 0.02)).bitPattern)
                for _ in 0..<32 { bytes.append(rng.byte()) }
            }
        case .q4_0:
            for _ in 0..<(columns / 32) {
                put16(Float16(rng.float(-0.1, 0.1)).bitPattern)
                for _ in 0..<16 { bytes.append(rng.byte()) }
            }
        case .q4_1:
            for _ in 0..<(columns / 32) {
                put16(Float16(rng.float(0.001, 0.05)).bitPattern)
                put16(Float16(rng.float(-0.4, 0.1)).bitPattern)
                for _ in 0..<16 { bytes.append(rng.byte()) }
            }
        case .q4_K:
            for _ in 0..<(columns / 256) {
                put16(Float16(rng.float(0.0005, 0.01)).bitPattern)
                put16(Float16(rng.float(0.0005, 0.02)).bitPattern)
                for _ in 0..<140 { bytes.append(rng.byte()) }
            }
        case .q6_K:
            for _ in 0..<(columns / 256) {
                for _ in 0..<208 { bytes.append(rng.byte()) }
                put16(Float16(rng.float(-0.001, 0.001)).bitPattern)
            }
        }
    }
    return bytes
}

/// max |a − b| over two equally long sequences.
func maxAbsDiff<A: Collection, B: Collection>(_ a: A, _ b: B) -> Double
where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
    var m = 0.0
    for (x, y) in zip(a, b) { m = max(m, abs(Double(x) - Double(y))) }
    return m
}
