import ArgumentParser
import IQuestEngine
import IQuestKernels
import IQuestModels

/// `--kv-cache-type` (both), `--cache-type-k` / `--cache-type-v` (each, as llama.cpp's -ctk/-ctv).
struct KVCacheOptions: ParsableArguments {
    @Option(help: ArgumentHelp("How keys and values are stored: f16 (default: half of f32, next-token KL ~1e-7), bf16, q8_0 (a quarter of f32), q4_0 (an eighth, lossier) or f32 (exact).",
                               valueName: "f32|f16|bf16|q8_0|q4_0"))
    var kvCacheType: KVCacheType = KVCacheTypes.standard.keys
    @Option(name: [.customLong("cache-type-k"), .customLong("ctk")], help: "Key storage type, overriding --kv-cache-type for keys.")
    var cacheTypeK: KVCacheType?
    @Option(name: [.customLong("cache-type-v"), .customLong("ctv")], help: "Value storage type, overriding --kv-cache-type for values.")
    var cacheTypeV: KVCacheType?

    var types: KVCacheTypes { KVCacheTypes(keys: cacheTypeK ?? kvCacheType, values: cacheTypeV ?? kvCacheType) }
}

extension KVCacheType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

/// The context and KV storage of a one-sequence command, printed on stderr (or the refusal).
func sequencePlan(_ model: any LanguageModel, types: KVCacheTypes, context: Int?) throws -> KVCachePlan {
    let plan = try KVCachePlan.sequence(layout: model.kvLayout, types: types, modelContext: model.contextLength,
                                        requestedContext: context, available: ProcessMemory.available())
    printError(plan.summary)
    return plan
}
