import IQuestFormats
import IQuestKernels

/// Architecture names → model constructors, compared whole (never by substring). Anything not
/// listed is refused before a weight is read.
public enum ModelRegistry {
    typealias GGUFConstructor = @Sendable (GGUFFile, String, ComputePool) throws -> any LanguageModel

    static let gguf: [String: GGUFConstructor] = [
        "llama": { try LlamaModel(gguf: $0, architecture: $1, pool: $2) },
    ]

    public static var supportedGGUFArchitectures: [String] { gguf.keys.sorted() }

    /// Builds the model a GGUF file declares in `general.architecture`.
    public static func load(gguf file: GGUFFile, pool: ComputePool) throws -> any LanguageModel {
        guard let arch = file.architecture else {
            throw ModelError("\(file.path): metadata key 'general.architecture' is missing, so the model type is unknown")
        }
        guard let make = gguf[arch] else {
            throw ModelError("\(file.path): architecture '\(arch)' is not supported (supported: \(supportedGGUFArchitectures.joined(separator: ", ")))")
        }
        return try make(file, arch, pool)
    }
}
