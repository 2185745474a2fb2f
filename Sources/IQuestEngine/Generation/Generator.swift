import Foundation
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

    public init(loaded: LoadedModel, contextLength: Int? = nil) {
        self.loaded = loaded
        self.contextLength = min(contextLength ?? loaded.model.contextLength, loaded.model.contextLength)
    }

    /// Streams tokens to `onToken`; returning false from it stops generation (client gone).
    /// `isCancelled` is also asked between prefill chunks, so a long prompt stops within one
    /// chunk's time (the finish reason is then `.cancelled`).
    @discardableResult
    public func generate(_ request: GenerationRequest, isCancelled: () -> Bool = { false },
                         onToken: (GeneratedToken) -> Bool) throws -> GenerationStats {
        try request.sampling.validate()
        let model = loaded.model
        let prompt = request.promptIds
        guard !prompt.isEmpty else { throw GenerationError("the prompt is empty") }
        guard prompt.count < contextLength else {
            throw GenerationError("the prompt has \(prompt.count) tokens but the context holds \(contextLength); shorten it or raise the context size")
        }
        for id in prompt where id < 0 || id >= model.vocabularySize {
            throw GenerationError("prompt token id \(id) is outside the vocabulary (0..<\(model.vocabularySize))")
        }
        guard request.maxTokens >= 0 else { throw GenerationError("max tokens must not be negative") }

        var stats = GenerationStats()
        stats.promptTokens = prompt.count
        let cache = model.makeCache(capacity: contextLength)
        var sampler = Sampler(parameters: request.sampling)
        var detokenizer = StreamingDetokenizer(tokenizer: loaded.tokenizer, previousToken: prompt.last)
        var stopMatcher = StopStringMatcher(stops: request.stopStrings)
        var history = prompt

        let prefillStart = Date()
        var logits: Logits?
        var offset = 0
        while offset < prompt.count {
            if isCancelled() {
                stats.finishReason = .cancelled
                return stats
            }
            let end = min(prompt.count, offset + prefillChunk)
            logits = try model.forward(Array(prompt[offset..<end]), cache: cache, logits: .last)
            offset = end
        }
        stats.prefillSeconds = Date().timeIntervalSince(prefillStart)
        guard var current = logits, request.maxTokens > 0 else { return stats }

        let decodeStart = Date()
        stats.finishReason = .length
        while stats.generatedTokens < request.maxTokens {
            let (id, logprob, top) = current.values.withUnsafeBufferPointer { row -> (Int, Float?, [(id: Int, logprob: Float)]) in
                let id = sampler.sample(logits: row, history: history)
                guard request.logprobs else { return (id, nil, []) }
                let top = request.topLogprobs > 0 ? topLogprobs(row, k: request.topLogprobs) : []
                return (id, logSoftmax(row)[id], top)
            }
            stats.generatedTokens += 1
            history.append(id)
            if !request.ignoreStopTokens && loaded.stopTokenIds.contains(id) {
                stats.finishReason = .stop
                _ = onToken(GeneratedToken(id: id, text: stopMatcher.flush() + detokenizer.finish(), logprob: logprob, topLogprobs: top))
                break
            }
            let (text, hitStop) = stopMatcher.feed(detokenizer.append(id))
            if hitStop {
                stats.finishReason = .stop
                _ = onToken(GeneratedToken(id: id, text: text, logprob: logprob, topLogprobs: top))
                break
            }
            let lastStep = stats.generatedTokens == request.maxTokens || cache.count + 1 > contextLength
            let tail = lastStep ? stopMatcher.feed(detokenizer.finish()).emit + stopMatcher.flush() : ""
            guard onToken(GeneratedToken(id: id, text: text + tail, logprob: logprob, topLogprobs: top)) else {
                stats.finishReason = .cancelled
                break
            }
            if lastStep { break }
            current = try model.forward([id], cache: cache, logits: .last)
        }
        stats.decodeSeconds = Date().timeIntervalSince(decodeStart)
        return stats
    }
}
