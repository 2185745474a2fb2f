import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels

/// What `iquest quantize` writes.
public struct ConversionRequest: Sendable {
    public var input: String
    public var output: String
    public var scheme: QuantizationScheme

    /// Every matrix in `type`.
    public init(input: String, output: String, type: WeightKind) {
        self.init(input: input, output: output, scheme: .uniform(type))
    }

    public init(input: String, output: String, scheme: QuantizationScheme) {
        self.input = input
        self.output = output
        self.scheme = scheme
    }
}

public struct ConversionSummary: Sendable {
    public var architecture: String
    public var tensors: Int
    public var bytesWritten: Int
    public var notes: [String]
}

/// Converts an HF checkpoint directory or a GGUF file into a GGUF file of one weight type,
/// tensor by tensor: memory holds one output tensor at a time, never the whole model.
/// Matrices take the requested scheme's types; norms, Loop gates and other vectors stay f32.
public enum GGUFExporter {
    public static func convert(_ request: ConversionRequest,
                               progress: (_ done: Int, _ total: Int, _ tensor: String) -> Void = { _, _, _ in }) throws -> ConversionSummary {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: request.input, isDirectory: &isDirectory) else {
            throw ConversionError("\(request.input): no such file or directory")
        }
        let source: ConversionSource = isDirectory.boolValue
            ? try HFConversionSource(directory: request.input)
            : try GGUFConversionSource(path: request.input)
        let writer = try GGUFWriter()
        for (key, value) in source.metadata(fileType: request.scheme.fileType) {
            try writer.addMetadata(key, value)
        }
        let plan = try source.tensors(scheme: request.scheme)
        for t in plan {
            try writer.addTensor(name: t.name, shape: t.ggufShape, type: GGMLType(t.kind))
        }
        try writer.beginTensorData(path: request.output)
        var written = 0
        let pool = ComputePool(threads: ProcessInfo.processInfo.activeProcessorCount)
        for (i, t) in plan.enumerated() {
            progress(i, plan.count, t.name)
            let rowBytes = t.kind.rowBytes(columns: t.columns)
            var bytes = [UInt8](repeating: 0, count: rowBytes * t.rows)
            // Rows are independent (readRow only reads the source), so they are encoded on all
            // cores: the k-quant encoders' scale searches make q4_K/q6_K ~30× slower than q8_0.
            let columns = t.columns, kind = t.kind, readRow = t.readRow
            bytes.withUnsafeMutableBytes { out in
                guard let base = out.baseAddress else { return }
                pool.run { thread in
                    let row = UnsafeMutablePointer<Float>.allocate(capacity: max(columns, 1))
                    defer { row.deallocate() }
                    for r in pool.slice(thread, of: t.rows) {
                        readRow(r, row)
                        quantizeRow(kind, row, count: columns, into: base + r * rowBytes)
                    }
                }
            }
            try bytes.withUnsafeBytes { try writer.write(tensorData: $0) }
            written += bytes.count
        }
        progress(plan.count, plan.count, "")
        try writer.finish()
        return ConversionSummary(architecture: source.architecture, tensors: plan.count, bytesWritten: written, notes: source.notes)
    }

}

protocol ConversionSource {
    var architecture: String { get }
    var notes: [String] { get }
    func metadata(fileType: UInt32) -> [(String, GGUFValue)]
    func tensors(scheme: QuantizationScheme) throws -> [PlannedTensor]
}
