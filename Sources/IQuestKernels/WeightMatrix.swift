/// How the elements of a weight matrix are stored. Block layouts follow ggml's (the format most
/// quantized checkpoints of this family are published in):
/// - q8_0: 32 elements = f16 scale d + 32 × int8;                    x = d·q
/// - q4_0: 32 elements = f16 scale d + 16 bytes of nibbles;          x = d·(q − 8)
/// - q4_1: 32 elements = f16 scale d + f16 min m + 16 bytes nibbles; x = d·q + m
/// Nibble order in q4_0/q4_1: byte j holds element j (low nibble) and element j+16 (high nibble).
/// k-quants, super-blocks of 256 elements (bit layouts in IQuestCKernels/kquants.c):
/// - q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins for 8 sub-blocks of 32, 128 bytes of
///   nibbles (144 bytes);                                           x = d·sc·q − dmin·m
/// - q6_K: 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 int8 scales (one per 16
///   elements), f16 d (210 bytes);                                 x = d·sc·(q − 32)
public enum WeightKind: Sendable, Equatable, CaseIterable {
    case f32, f16, bf16, q8_0, q4_0, q4_1, q4_K, q6_K

    /// Elements per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q8_0, .q4_0, .q4_1: return 32
        case .q4_K, .q6_K: return 256
        }
    }

    /// Bytes per block.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q8_0: return 34
        case .q4_0: return 18
        case .q4_1: return 20
        case .q4_K: return 144
        case .q6_K: return 210
        }
    }

    public func rowBytes(columns: Int) -> Int { columns / blockSize * bytesPerBlock }
}

/// How a matrix's rows sit in memory.
public enum WeightLayout: Sendable, Equatable {
    /// Row r at base + r·rowBytes.
    case rowMajor
    /// q8_0 / q4_0 / q4_1 / q4_K / q6_K rows interleaved 16 at a time for the AVX-512 and AVX2 decode kernels (layout in
    /// iquest_ckernels.h, `iq_x16_*`), made at load by `WeightMatrix.interleaving16`: group g of
    /// 16 rows fills the bytes those rows would, but a single row cannot be addressed.
    case interleaved16
}

/// A matrix [rows, columns] of weights that stays in its stored encoding (usually a
/// memory-mapped file). Row r holds output feature r; products compute y = x · Wᵀ.
public struct WeightMatrix: @unchecked Sendable {
    public let kind: WeightKind
    public let rows: Int
    public let columns: Int
    public let base: UnsafeRawPointer
    public let rowBytes: Int
    public let layout: WeightLayout

    /// `columns` must be a multiple of the kind's block size (checked by the loader); an
    /// `.interleaved16` matrix is q8_0, q4_0, q4_1, q4_K or q6_K with rows a multiple of 16.
    public init(kind: WeightKind, rows: Int, columns: Int, base: UnsafeRawPointer, layout: WeightLayout = .rowMajor) {
        self.kind = kind
        self.rows = rows
        self.columns = columns
        self.base = base
        self.rowBytes = kind.rowBytes(columns: columns)
        self.layout = layout
    }

    /// Where row r starts; for `.interleaved16`, r must be a multiple of 16 (a group's start).
    @inline(__always) public func row(_ r: Int) -> UnsafeRawPointer { base + r * rowBytes }

    /// Row ranges handed to kernels start at multiples of this (a whole interleaved group).
    @inline(__always) public var rowGranule: Int { layout == .interleaved16 ? 16 : 1 }

    public var byteCount: Int { rows * rowBytes }
}
