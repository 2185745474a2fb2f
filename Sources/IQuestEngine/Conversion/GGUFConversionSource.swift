import IQuestFormats
import IQuestKernels
import IQuestModels

/// Re-encodes a GGUF file: same names, metadata and layout; matrices in the requested type,
/// vectors and Loop gates in f32.
struct GGUFConversionSource: ConversionSource {
    let file: GGUFFile
    let architecture: String
    let notes: [String] = []

    init(path: String) throws {
        do { file = try GGUFFile(path: path) } catch { throw ConversionError(error.description) }
        guard let arch = file.architecture else {
            throw ConversionError("\(path): metadata key 'general.architecture' is missing")
        }
        architecture = arch
    }

    func metadata(fileType: UInt32) -> [(String, GGUFValue)] {
        var out: [(String, GGUFValue)] = []
        for key in file.metadataKeys where !["general.file_type", "general.alignment"].contains(key) {
            if let value = file.metadata[key] { out.append((key, value)) }
        }
        out.append(("general.file_type", .uint32(fileType)))
        return out
    }

    func tensors(scheme: QuantizationScheme) throws -> [PlannedTensor] {
        // Layers as llama.cpp counts them for use_more_bits: one attn_v per block.
        let layers = file.tensors.filter { $0.name.hasSuffix("attn_v.weight") }.count
        let hasOutput = file.tensor(named: "output.weight") != nil
        return try file.tensors.map { info in
            guard let kind = info.type.weightKind else {
                throw ConversionError("\(file.path): tensor '\(info.name)' has type \(info.type.name), which cannot be decoded yet")
            }
            guard let base = file.data(for: info).baseAddress else {
                throw ConversionError("\(file.path): tensor '\(info.name)' has no data")
            }
            let columns = info.shape.first ?? 1
            let rows = info.shape.dropFirst().reduce(1, *)
            guard info.shape.count <= 2 else {
                throw ConversionError("\(file.path): tensor '\(info.name)' has \(info.shape.count) dimensions; only vectors and matrices are converted")
            }
            let src = StoredRows(kind: kind, base: base, columns: columns)
            let isMatrix = info.shape.count == 2 && !info.name.contains("loop_gate")
            let outKind = isMatrix
                ? try scheme.matrixKind(name: info.name, columns: columns, layer: layerIndex(info.name), layers: layers, hasOutput: hasOutput)
                : .f32
            let shape = info.shape.count == 2 ? [rows, columns] : [columns]
            return PlannedTensor(name: info.name, shape: shape, kind: outKind) { r, row in src.read(r, into: row) }
        }
    }
}
