import IQuestFormats
import IQuestKernels

/// Architecture names → model constructors, compared whole (never by substring). Anything not
/// listed is refused before a weight is read.
public enum ModelRegistry {
    typealias GGUFConstructor = @Sendable (GGUFFile, String, ComputePool, ActivationPrecision) throws -> any LanguageModel

    static let gguf: [String: GGUFConstructor] = [
        "llama": { try LlamaModel(gguf: $0, architecture: $1, pool: $2, activations: $3) },
        "iquestloopcoder": { try LoopCoderModel(gguf: $0, architecture: $1, pool: $2, activations: $3) },
    ]

    typealias HFConstructor = @Sendable (HFConfig, SafetensorsCheckpoint, String, ComputePool, ActivationPrecision) throws
        -> any LanguageModel

    /// `architectures[0]` of config.json → constructor.
    static let huggingFace: [String: HFConstructor] = [
        "LlamaForCausalLM": { try LlamaModel(hf: $0, checkpoint: $1, architecture: $2, pool: $3, activations: $4) },
        "IQuestCoderForCausalLM": { try LlamaModel(hf: $0, checkpoint: $1, architecture: $2, pool: $3, activations: $4) },
        "IQuestLoopCoderForCausalLM": { try LoopCoderModel(hf: $0, checkpoint: $1, architecture: $2, pool: $3, activations: $4) },
    ]

    public static var supportedHFArchitectures: [String] { huggingFace.keys.sorted() }

    /// Builds the model a checkpoint directory's config.json names. The configuration is validated
    /// before the weights are mapped. `activations` matters only for quantized weights (GGUF).
    public static func load(directory: String, pool: ComputePool, activations: ActivationPrecision = .standard) throws -> any LanguageModel {
        let config = try HFConfig(directory: directory)
        let names = config.architectures
        guard let arch = names.first else {
            throw ModelError("\(config.path): 'architectures' is missing, so the model class is unknown")
        }
        guard let make = huggingFace[arch] else {
            throw ModelError("\(config.path): architecture '\(arch)' is not supported (supported: \(supportedHFArchitectures.joined(separator: ", ")))")
        }
        // Validate the configuration before mapping any weight.
        _ = try LlamaConfiguration(hf: config, loops: arch == "IQuestLoopCoderForCausalLM" ? 2 : 1)
        let checkpoint: SafetensorsCheckpoint
        do { checkpoint = try SafetensorsCheckpoint(directory: directory) } catch { throw ModelError(error.description) }
        return try make(config, checkpoint, arch, pool, activations)
    }

    public static var supportedGGUFArchitectures: [String] { gguf.keys.sorted() }

    /// Builds the model a GGUF file declares in `general.architecture`. `activations`: how decoding
    /// treats activations against q8_0/q4_0/q4_1/q4_K/q6_K weights (`ActivationPrecision`).
    public static func load(gguf file: GGUFFile, pool: ComputePool, activations: ActivationPrecision = .standard) throws -> any LanguageModel {
        guard let arch = file.architecture else {
            throw ModelError("\(file.path): metadata key 'general.architecture' is missing, so the model type is unknown")
        }
        guard let make = gguf[arch] else {
            throw ModelError("\(file.path): architecture '\(arch)' is not supported (supported: \(supportedGGUFArchitectures.joined(separator: ", ")))")
        }
        return try make(file, arch, pool, activations)
    }
}
