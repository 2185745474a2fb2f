import Foundation
import IQuestKernels
import IQuestModels
import IQuestTokenizer

/// Runs one request against a loaded model: prefill in chunks, then sample token by token until
/// a stop id, a stop string, max tokens or the end of the context. The single entry point for
/// generation used by the CLI.
public struct Generator {
    public let loaded: LoadedModel
    /// Largest prompt chunk per forward call (bounds activation memory).
    public var prefillChunk = 512
    /// Tokens the sequence may hold; defaults to the model's trained context.
    public var contextLength: Int
    /// How the sequence's keys and values are stored (exact f32 unless asked; the commands pass
    /// the user's choice, `KVCacheTypes.standard` by default).
    public var kvTypes: KVCacheTypes

    public init(loaded: LoadedModel, contextLength: Int? = nil, kvTypes: KVCacheTypes = .f32) {
        self.loaded = loaded
        self.contextLength = min(contextLength ?? loaded.model.contextLength, loaded.model.contextLength)
        self.kvTypes = kvTypes
    }

    /// With the context and storage `plan` decided (`KVCachePlan.sequence`).
    public init(loaded: LoadedModel, plan: KVCachePlan) {
        self.init(loaded: loaded, contextLength: plan.contextLength, kvTypes: plan.types)
    }

    /// Streams tokens to `onToken`; returning false from it stops generation (client gone).
    /// `isCancelled` is also asked between prefill chunks, so a long prompt stops within one
    /// chunk's time (the finish reason is then `.cancelled`).
    @discardableResult
    public func generate(_ request: GenerationRequest, isCancelled: () -> Bool = { false },
                         onToken: (GeneratedToken) -> Bool) throws -> GenerationStats {
        let model = loaded.model
        var state = try GenerationState(request: request, tokenizer: loaded.tokenizer, stopTokenIds: loaded.stopTokenIds,
                                        vocabularySize: model.vocabularySize, contextLength: contextLength)
        let prompt = request.promptIds
        let cache = try model.makeCache(capacity: contextLength, types: kvTypes)

        let prefillStart = Date()
        var logits: Logits?
        var offset = 0
        while offset < prompt.count {
            if isCancelled() {
                state.cancel()
                return state.stats
            }
            let end = min(prompt.count, offset + prefillChunk)
            logits = try model.forward(Array(prompt[offset..<end]), cache: cache, logits: .last)
            offset = end
        }
        state.addPrefillTime(Date().timeIntervalSince(prefillStart))
        guard var current = logits, !state.wantsNoTokens else { return state.stats }

        let decodeStart = Date()
        while true {
            let (token, done) = state.next(from: current.row(0))
            if done {
                _ = onToken(token)
                break
            }
            guard onToken(token) else {
                state.cancel()
                break
            }
            current = try model.forward([token.id], cache: cache, logits: .last)
        }
        state.addDecodeTime(Date().timeIntervalSince(decodeStart))
        return state.stats
    }
}
