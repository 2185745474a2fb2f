import IQuestCKernels

/// How decode-path products (`linear` with M < 4, or any M on ProductPath.decode) meet q8_0 /
/// q4_0 / q4_1 / q4_K / q6_K weights:
/// - `exact`: the activation stays f32 and weights are decoded to f32 in registers: the
///   reference path that the parity tests hold to transformers.
/// - `int16`: each activation row is quantized once per product to int16 blocks of 32 (one scale
///   per block) and dotted with the weight blocks in integer SIMD, one float FMA per block.
///   Relative error ~1e-5 per product; on SmolLM2 the next-token distribution stays within KL
///   ~1e-6 of `exact` (docs/PERFORMANCE.md).
/// - `int8`: the same with int8 blocks, llama.cpp's scheme on AVX2: the fastest, but the error
///   is ~250× larger (KL up to ~3e-2 on SmolLM2, greedy output can change).
/// f32 / f16 / bf16 weights and GEMM-path products (ProductPath) always take the exact path.
public enum ActivationPrecision: String, Sendable, Equatable, CaseIterable {
    case exact, int16, int8

    /// What models load with unless the caller asks otherwise.
    public static let standard = ActivationPrecision.int16
}

/// An activation block [M, K] quantized for the integer decode kernels. Per block of 32 elements
/// (rule in IQuestCKernels/integer_dots.c): `quants` q = round_half_even(x·Q/max|x|) (int8 with
/// Q = 127 or int16 with Q = 32767), `scales` d = max|x|/Q, `sums` d·Σq (what q4_0/q4_1's offset
/// terms multiply). Buffers grow on demand and are reused, so decode steps allocate nothing.
/// One per model; not thread-safe.
public final class QuantizedActivations {
    /// `.int8` or `.int16`.
    public let precision: ActivationPrecision
    /// [M·K] Int8 or Int16 (as `precision` says), row after row.
    public private(set) var quants: UnsafeMutableRawPointer
    /// [M·K/32] scales d.
    public private(set) var scales: UnsafeMutablePointer<Float>
    /// [M·K/32] sums d·Σq.
    public private(set) var sums: UnsafeMutablePointer<Float>
    private var capacity = 0
    /// The prompt GEMM's input (`quantizePrompt`), [M·K] int8 each and [M·K/32] block scales:
    /// `.int8` quants in `promptQuants` (llama.cpp's q8_0 activation scheme); `.int16` quants
    /// q = 256·high + low in two int8 planes, `promptQuants` (high) and `promptLow`.
    public private(set) var promptQuants: UnsafeMutablePointer<Int8> = .allocate(capacity: 1)
    public private(set) var promptLow: UnsafeMutablePointer<Int8> = .allocate(capacity: 1)
    public private(set) var promptScales: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private var promptSums: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private var promptCapacity = 0
    /// Whether the last `quantizePrompt` wrote int8 blocks (this scratch's precision is int8, or
    /// PromptProducts.int8 asked for them) rather than two int16 planes.
    public private(set) var promptIsInt8 = false

    /// Scratch for `precision`; nil for `.exact`, which needs none.
    public init?(_ precision: ActivationPrecision) {
        guard precision != .exact else { return nil }
        self.precision = precision
        quants = .allocate(byteCount: 1, alignment: 32)
        scales = .allocate(capacity: 1)
        sums = .allocate(capacity: 1)
    }

    /// Quantizes x [rows, columns] (columns a multiple of 32).
    public func quantize(_ x: UnsafePointer<Float>, rows: Int, columns: Int) {
        let count = rows * columns
        if count > capacity {
            quants.deallocate(); scales.deallocate(); sums.deallocate()
            capacity = count
            quants = .allocate(byteCount: count * (precision == .int8 ? 1 : 2), alignment: 32)
            scales = .allocate(capacity: count / 32)
            sums = .allocate(capacity: count / 32)
        }
        if precision == .int8 {
            iq_quantize_q8(x, Int64(count), quants.assumingMemoryBound(to: Int8.self), scales, sums)
        } else {
            iq_quantize_q16(x, Int64(count), quants.assumingMemoryBound(to: Int16.self), scales, sums)
        }
    }

    /// Quantizes x [rows, columns] for the prompt GEMM (columns a multiple of 32): in this
    /// scratch's precision, or int8 blocks with `int8` (PromptProducts.int8).
    public func quantizePrompt(_ x: UnsafePointer<Float>, rows: Int, columns: Int,
                               int8: Bool = PromptProducts.current == .int8) {
        let count = rows * columns
        if count > promptCapacity {
            promptQuants.deallocate(); promptLow.deallocate(); promptScales.deallocate(); promptSums.deallocate()
            promptCapacity = count
            promptQuants = .allocate(capacity: count)
            promptLow = .allocate(capacity: count)
            promptScales = .allocate(capacity: count / 32)
            promptSums = .allocate(capacity: count / 32)
        }
        promptIsInt8 = int8 || precision == .int8
        if promptIsInt8 {
            iq_quantize_q8(x, Int64(count), promptQuants, promptScales, promptSums)
        } else {
            iq_quantize_q16_planes(x, Int64(count), promptQuants, promptLow, promptScales)
        }
    }

    /// Rows `rows` of y = x · Wᵀ for the M activation rows last given to `quantizePrompt`, by the
    /// integer GEMM; false (nothing written) when it could not run (no scratch memory).
    @inline(__always)
    func promptProduct(_ w: WeightMatrix, _ rows: Range<Int>, tokens m: Int, into y: UnsafeMutablePointer<Float>) -> Bool {
        let x16 = w.layout == .interleaved16
        let done = promptIsInt8
            ? (x16 ? iq_x16_gemm_q8 : iq_gemm_q8)(w.kind.cKind, w.row(rows.lowerBound), w.rowBytes, Int64(rows.count), Int64(w.columns),
                         promptQuants, promptScales, Int64(m), y + rows.lowerBound, w.rows)
            : (x16 ? iq_x16_gemm_q16 : iq_gemm_q16)(w.kind.cKind, w.row(rows.lowerBound), w.rowBytes, Int64(rows.count), Int64(w.columns),
                          promptQuants, promptLow, promptScales, Int64(m), y + rows.lowerBound, w.rows)
        return done != 0
    }

    /// y[r] = row r of `w` · token `token`'s quantized activation, for `rows`.
    @inline(__always)
    func dotRows(_ w: WeightMatrix, _ rows: Range<Int>, token: Int, into y: UnsafeMutablePointer<Float>) {
        let k = w.columns, block = token * k / 32, x16 = w.layout == .interleaved16
        if precision == .int8 {
            (x16 ? iq_x16_dot_rows_q8 : iq_dot_rows_q8)(w.kind.cKind, w.row(rows.lowerBound), w.rowBytes, Int64(rows.count),
                           quants.assumingMemoryBound(to: Int8.self) + token * k, scales + block, sums + block, Int64(k), y)
        } else {
            (x16 ? iq_x16_dot_rows_q16 : iq_dot_rows_q16)(w.kind.cKind, w.row(rows.lowerBound), w.rowBytes, Int64(rows.count),
                            quants.assumingMemoryBound(to: Int16.self) + token * k, scales + block, sums + block, Int64(k), y)
        }
    }

    /// y[token · ldy + r − rows.lowerBound] = row r of `w` · token's quantized activation, for
    /// `rows` and tokens 0..<m: every weight block is read once for all m tokens, and each
    /// token's values are bitwise those of `dotRows(_:_:token:into:)` (which one token takes).
    @inline(__always)
    func dotRows(_ w: WeightMatrix, _ rows: Range<Int>, tokens m: Int, into y: UnsafeMutablePointer<Float>, stride ldy: Int) {
        if m == 1 {
            dotRows(w, rows, token: 0, into: y)
            return
        }
        let k = w.columns, x16 = w.layout == .interleaved16
        if precision == .int8 {
            (x16 ? iq_x16_dot_rows_q8_batch : iq_dot_rows_q8_batch)(w.kind.cKind, w.row(rows.lowerBound), w.rowBytes, Int64(rows.count),
                                 quants.assumingMemoryBound(to: Int8.self), scales, sums, Int64(k), Int64(m), y, ldy)
        } else {
            (x16 ? iq_x16_dot_rows_q16_batch : iq_dot_rows_q16_batch)(w.kind.cKind, w.row(rows.lowerBound), w.rowBytes, Int64(rows.count),
                                  quants.assumingMemoryBound(to: Int16.self), scales, sums, Int64(k), Int64(m), y, ldy)
        }
    }

    deinit {
        quants.deallocate(); scales.deallocate(); sums.deallocate()
        promptQuants.deallocate(); promptLow.deallocate(); promptScales.deallocate(); promptSums.deallocate()
    }
}

extension WeightKind {
    /// Kinds with integer dot kernels against quantized activations.
    var hasIntegerDot: Bool {
        switch self {
        case .q8_0, .q4_0, .q4_1, .q4_K, .q6_K: return true
        case .f32, .f16, .bf16: return false
        }
    }
}
