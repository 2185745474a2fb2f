import IQuestFormats
import IQuestKernels

/// Weights from a Hugging Face safetensors checkpoint (F32/F16/BF16), used in place from the
/// mapped shards. PyTorch shapes are outermost first: a Linear weight is [out, in].
struct SafetensorsTensors: WeightSource {
    let checkpoint: SafetensorsCheckpoint

    func has(_ name: String) -> Bool { checkpoint.info(name) != nil }

    private func info(_ name: String) throws(ModelError) -> SafetensorsTensorInfo {
        guard let info = checkpoint.info(name) else {
            throw ModelError("\(checkpoint.directory): required tensor '\(name)' is missing from the checkpoint")
        }
        return info
    }

    private func kind(_ info: SafetensorsTensorInfo) throws(ModelError) -> WeightKind {
        switch info.dtype {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        default:
            throw ModelError("\(checkpoint.path(of: info.name) ?? checkpoint.directory): tensor '\(info.name)' has dtype \(info.dtype.rawValue); only F32, F16 and BF16 weights are supported")
        }
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
        return (0..<count).map { i in
            switch k {
            case .f16: return float16ToFloat(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            case .bf16: return bfloat16ToFloat(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            default: return base.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
            }
        }
    }
}
