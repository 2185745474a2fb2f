import IQuestFormats
import IQuestKernels

/// Weights from a Hugging Face safetensors checkpoint (F32/F16/BF16), used in place from the
/// mapped shards. PyTorch shapes are outermost first: a Linear weight is [out, in].
struct SafetensorsTensors: WeightSource {
    let checkpoint: SafetensorsCheckpoint
    /// Safetensors hold no q4_0, the only kind repacked today: nothing to release.
    var isFileMapping: Bool { false }

    func has(_ name: String) -> Bool { checkpoint.info(name) != nil }

    private func info(_ name: String) throws(ModelError) -> SafetensorsTensorInfo {
        guard let info = checkpoint.info(name) else {
            throw ModelError("\(checkpoint.directory): required tensor '\(name)' is missing from the checkpoint")
        }
        return info
    }

    private func kind(_ info: SafetensorsTensorInfo) throws(ModelError) -> WeightKind {
        guard let kind = info.dtype.weightKind else {
            throw ModelError("\(checkpoint.path(of: info.name) ?? checkpoint.directory): tensor '\(info.name)' has dtype \(info.dtype.rawValue); only F32, F16 and BF16 weights are supported")
        }
        return kind
    }

    func matrix(_ name: String, rows: Int, columns: Int) throws(ModelError) -> WeightMatrix {
        let t = try info(name)
        guard t.shape == [rows, columns] else {
            throw ModelError("\(checkpoint.path(of: name) ?? checkpoint.directory): tensor '\(name)' has shape \(t.shape), expected [\(rows), \(columns)] from config.json")
        }
        guard columns % groupSize == 0 else {
            throw ModelError("\(checkpoint.directory): tensor '\(name)' rows have \(columns) elements; this engine needs a multiple of \(groupSize)")
        }
        let k = try kind(t)
        guard let base = checkpoint.data(name)?.baseAddress else {
            throw ModelError("\(checkpoint.directory): tensor '\(name)' has no data")
        }
        return WeightMatrix(kind: k, rows: rows, columns: columns, base: base)
    }

    func vector(_ name: String, count: Int) throws(ModelError) -> [Float] {
        try floats(name, shape: [count])
    }

    func floats(_ name: String, shape: [Int]) throws(ModelError) -> [Float] {
        let t = try info(name)
        guard t.shape == shape else {
            throw ModelError("\(checkpoint.path(of: name) ?? checkpoint.directory): tensor '\(name)' has shape \(t.shape), expected \(shape)")
        }
        let count = shape.reduce(1, *)
        let k = try kind(t)
        guard let base = checkpoint.data(name)?.baseAddress else { return [] }
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { dequantizeRow(k, base, into: $0.baseAddress!, count: count) }
        return out
    }
}

extension SafetensorsDType {
    /// The kernels' encoding for this dtype, nil for dtypes weights cannot have.
    public var weightKind: WeightKind? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        default: return nil
        }
    }
}
