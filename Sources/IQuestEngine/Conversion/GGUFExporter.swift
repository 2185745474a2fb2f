import Foundation
import IQuestFormats
import IQuestKernels
import IQuestModels

/// What `iquest quantize` writes.
public struct ConversionRequest: Sendable {
    public var input: String
    public var output: String
    public var type: WeightKind

    public init(input: String, output: String, type: WeightKind) {
        self.input = input
        self.output = output
        self.type = type
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
/// Matrices take the requested type; norms, Loop gates and other vectors stay f32.
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
        for (key, value) in source.metadata(fileType: fileType(request.type)) {
            try writer.addMetadata(key, value)
        }
        let plan = try source.tensors(type: request.type)
        for t in plan {
            try writer.addTensor(name: t.name, shape: t.ggufShape, type: GGMLType(t.kind))
        }
        try writer.beginTensorData(path: request.output)
        var written = 0
        for (i, t) in plan.enumerated() {
            progress(i, plan.count, t.name)
            let rowBytes = t.kind.rowBytes(columns: t.columns)
            var bytes = [UInt8](repeating: 0, count: rowBytes * t.rows)
            var row = [Float](repeating: 0, count: t.columns)
            row.withUnsafeMutableBufferPointer { r in
                bytes.withUnsafeMutableBytes { out in
                    for rowIndex in 0..<t.rows {
                        t.readRow(rowIndex, r.baseAddress!)
                        quantizeRow(t.kind, r.baseAddress!, count: t.columns, into: out.baseAddress! + rowIndex * rowBytes)
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

    /// llama.cpp's `general.file_type` codes.
    static func fileType(_ kind: WeightKind) -> UInt32 {
        switch kind {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q8_0: return 7
        case .bf16: return 32
        }
    }
}

protocol ConversionSource {
    var architecture: String { get }
    var notes: [String] { get }
    func metadata(fileType: UInt32) -> [(String, GGUFValue)]
    func tensors(type: WeightKind) throws -> [PlannedTensor]
}

/// The stored kind a matrix gets: the requested one when its rows fit whole blocks.
func matrixKind(_ requested: WeightKind, columns: Int, name: String) throws -> WeightKind {
    guard columns % requested.blockSize == 0 else {
        throw ConversionError("tensor '\(name)' rows have \(columns) values, not a multiple of \(requested.blockSize) as \(requested) needs")
    }
    return requested
}
