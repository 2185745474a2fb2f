import IQuestFormats
import IQuestKernels

/// Where model constructors get weights from: checked against the shapes the configuration
/// implies, in the kernels' encodings, without copying matrices.
protocol WeightSource {
    /// A matrix of `rows` output features × `columns` inputs (y = x·Wᵀ).
    func matrix(_ name: String, rows: Int, columns: Int) throws(ModelError) -> WeightMatrix
    /// A vector (norm weights) converted to f32.
    func vector(_ name: String, count: Int) throws(ModelError) -> [Float]
    func has(_ name: String) -> Bool
    /// Whether matrices point into a read-only file mapping (whose pages may be dropped once
    /// copied elsewhere: they are read from the file again if touched).
    var isFileMapping: Bool { get }
    /// A small tensor of any rank as f32, `shape` outermost first (PyTorch order).
    func floats(_ name: String, shape: [Int]) throws(ModelError) -> [Float]
}

/// Typed access to a GGUF file's tensors for model constructors: shape checks against the
/// configuration, and the mapping from GGML types to the kernels' weight kinds.
struct GGUFTensors: WeightSource {
    let file: GGUFFile
    var isFileMapping: Bool { true }

    func weightKind(_ type: GGMLType, tensor: String) throws(ModelError) -> WeightKind {
        guard let kind = type.weightKind else {
            throw ModelError("\(file.path): tensor '\(tensor)' has type \(type.name), which this engine cannot compute with yet (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)")
        }
        return kind
    }

    func info(_ name: String) throws(ModelError) -> GGUFTensorInfo {
        guard let info = file.tensor(named: name) else {
            throw ModelError("\(file.path): required tensor '\(name)' is missing")
        }
        return info
    }

    func has(_ name: String) -> Bool { file.tensor(named: name) != nil }

    /// A matrix stored as GGUF shape [columns, rows] (innermost first) = [out, in] row-major.
    func matrix(_ name: String, rows: Int, columns: Int) throws(ModelError) -> WeightMatrix {
        let t = try info(name)
        guard t.shape == [columns, rows] else {
            throw ModelError("\(file.path): tensor '\(name)' has shape \(t.shape), expected [\(columns), \(rows)] from the model's metadata")
        }
        guard columns % groupSize == 0 else {
            throw ModelError("\(file.path): tensor '\(name)' rows have \(columns) elements; this engine needs a multiple of \(groupSize)")
        }
        let kind = try weightKind(t.type, tensor: name)
        guard columns % kind.blockSize == 0 else {
            throw ModelError("\(file.path): tensor '\(name)' is \(t.type.name) with rows of \(columns) elements; \(t.type.name) needs a multiple of \(kind.blockSize)")
        }
        let data = file.data(for: t)
        guard let base = data.baseAddress, data.count >= kind.rowBytes(columns: columns) * rows else {
            throw ModelError("\(file.path): tensor '\(name)' data is shorter than its shape requires")
        }
        return WeightMatrix(kind: kind, rows: rows, columns: columns, base: base)
    }

    func vector(_ name: String, count: Int) throws(ModelError) -> [Float] {
        try floats(name, shape: [count])
    }

    /// GGUF lists dimensions innermost first, so `shape` is compared reversed.
    func floats(_ name: String, shape: [Int]) throws(ModelError) -> [Float] {
        let t = try info(name)
        guard t.shape == Array(shape.reversed()) else {
            throw ModelError("\(file.path): tensor '\(name)' has shape \(t.shape), expected \(Array(shape.reversed())) (innermost first)")
        }
        let count = shape.reduce(1, *)
        let kind = try weightKind(t.type, tensor: name)
        let block = kind.blockSize == 1 ? 1 : max(kind.blockSize, groupSize)
        guard count % block == 0, (shape.last ?? count) % kind.blockSize == 0 else {
            throw ModelError("\(file.path): tensor '\(name)' is quantized with \(count) elements (rows not a multiple of \(kind.blockSize))")
        }
        let data = file.data(for: t)
        guard let base = data.baseAddress else { return [] }
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { dequantizeRow(kind, base, into: $0.baseAddress!, count: count) }
        return out
    }
}

extension GGMLType {
    /// The kernels' encoding for this GGML type, nil where no kernel exists yet.
    public var weightKind: WeightKind? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .q4_K: return .q4_K
        case .q6_K: return .q6_K
        }
    }

    public init(_ kind: WeightKind) {
        switch kind {
        case .f32: self = .f32
        case .f16: self = .f16
        case .bf16: self = .bf16
        case .q8_0: self = .q8_0
        case .q4_0: self = .q4_0
        case .q4_1: self = .q4_1
        case .q4_K: self = .q4_K
        case .q6_K: self = .q6_K
        }
    }
}
