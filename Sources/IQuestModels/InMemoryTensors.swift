#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IQuestKernels

/// Anonymous memory that tensors built inside the process live in (no file behind it). Pages
/// are only committed when first written; the region is unmapped on deinit.
public final class TensorArena: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int

    public init(byteCount: Int) throws(ModelError) {
        let size = max(4096, byteCount)
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else {
            throw ModelError("cannot reserve \(byteCount) bytes of memory for in-memory weights (errno \(errno))")
        }
        base = p
        self.byteCount = size
    }

    deinit { munmap(base, byteCount) }
}

/// One tensor in an arena: `shape` outermost first (PyTorch order, so a Linear weight is
/// [out, in]), rows of the innermost dimension stored in `kind`, starting `offset` bytes in.
public struct InMemoryTensor: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let kind: WeightKind
    public let offset: Int

    public var elementCount: Int { shape.reduce(1, *) }
    /// Rows of the innermost dimension.
    public var rows: Int { shape.dropLast().reduce(1, *) }
    public var columns: Int { shape.last ?? 1 }
    public var byteCount: Int { rows * kind.rowBytes(columns: columns) }
}

/// Weights held in process memory (synthetic models, tests), served to model constructors like
/// a mapped file's: shapes checked against the configuration, matrices used in place.
struct InMemoryTensors: WeightSource {
    /// Names the source in error messages.
    let label: String
    let arena: TensorArena
    let tensors: [String: InMemoryTensor]
    var isFileMapping: Bool { false }

    func has(_ name: String) -> Bool { tensors[name] != nil }

    private func tensor(_ name: String, shape: [Int]) throws(ModelError) -> InMemoryTensor {
        guard let t = tensors[name] else { throw ModelError("\(label): required tensor '\(name)' is missing") }
        guard t.shape == shape else {
            throw ModelError("\(label): tensor '\(name)' has shape \(t.shape), expected \(shape)")
        }
        return t
    }

    func matrix(_ name: String, rows: Int, columns: Int) throws(ModelError) -> WeightMatrix {
        let t = try tensor(name, shape: [rows, columns])
        guard columns % t.kind.blockSize == 0, columns % groupSize == 0 else {
            throw ModelError("\(label): tensor '\(name)' rows have \(columns) elements; this engine needs a multiple of \(groupSize)")
        }
        return WeightMatrix(kind: t.kind, rows: rows, columns: columns, base: arena.base + t.offset)
    }

    func vector(_ name: String, count: Int) throws(ModelError) -> [Float] {
        try floats(name, shape: [count])
    }

    func floats(_ name: String, shape: [Int]) throws(ModelError) -> [Float] {
        let t = try tensor(name, shape: shape)
        var out = [Float](repeating: 0, count: t.elementCount)
        out.withUnsafeMutableBufferPointer { buffer in
            for r in 0..<t.rows {
                let source = arena.base + t.offset + r * t.kind.rowBytes(columns: t.columns)
                dequantizeRow(t.kind, source, into: buffer.baseAddress! + r * t.columns, count: t.columns)
            }
        }
        return out
    }
}
