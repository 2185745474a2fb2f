import Foundation
import IQuestKernels
import IQuestModels
import IQuestTokenizer

/// Runs one request against a loaded model: prefill in chunks, then sample token by token until
/// a stop id, a stop string, max tokens or the end of the context. The single entry point for
/// generation used by the CLI.
public struct Generator {
    /// Most tokens of a constraint's forced run verified in one step.
    static let forcedRunLimit = 16
    public let loaded: LoadedModel
    /// Largest prompt chunk per forward call (bounds activation memory).
    public var prefillChunk = 512
    /// Tokens the sequence may hold; defaults to the model's trained context.
    public var contextLength: Int
    /// How the sequence's keys and values are stored (exact f32 unless asked; the commands pass
    /// the user's choice, `KVCacheTypes.standard` by default).
    public var kvTypes: KVCacheTypes
    /// Drafts from the caller instead of the request's drafter: given the sequence so far and
    /// the most tokens wanted, the tokens to verify (tests drive adversarial drafts through it).
    /// Used only when the request's speculative mode is on.
    public var drafter: ((_ tokens: [Int], _ count: Int) -> [Int])?
    /// The model that drafts for `SpeculativeMode.draft` (checked with `DraftModelCheck`).
    public var draftModel: LoadedModel?

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
        // With speculation, a step feeds the last sampled token plus drafted ones as decode rows
        // (`forwardDecodeRows`) and `verify` keeps the drafts the model's own draws agree with;
        // the rejected rows are truncated away before the next step.
        var speculator = SpeculativeDrafter(options: request.speculative ?? .off)
        var runner: DraftModelRunner?
        if speculator.options.mode == .draft {
            guard let draftModel else { throw GenerationError("speculative mode 'draft' needs a draft model (--model-draft PATH)") }
            if let reason = DraftModelCheck.refusal(target: loaded, draft: draftModel) { throw GenerationError(reason) }
            runner = try DraftModelRunner(model: draftModel.model, sampling: request.sampling, capacity: contextLength)
        }
        var sequence = prompt
        // Step times teach the drafter what a verify row costs on this model at this context.
        var costs = RowCostEstimator()
        var draftTokenCost = 0.0
        var draft: [Int] = []
        var draftDistributions: [[(id: Int, probability: Double)]] = []
        // The draft is the constraint's forced run (verified the same way, not a speculative one).
        var forced = false
        decoding: while true {
            let emitted: [GeneratedToken], done: Bool
            if draft.isEmpty {
                let (token, end) = state.next(from: current.row(0))
                (emitted, done) = ([token], end)
            } else {
                let fed = cache.count - draft.count - 1
                let result = runner == nil || forced ? state.verify(current, draft: draft, forced: forced)
                    : state.verify(current, draft: draft, draftDistributions: draftDistributions)
                if !forced { speculator.record(drafted: draft.count, accepted: result.accepted) }
                cache.truncate(to: fed + 1 + result.accepted)
                runner?.keep(sequence.count + result.accepted)
                (emitted, done) = (result.tokens, result.done)
            }
            for (i, token) in emitted.enumerated() {
                if done && i == emitted.count - 1 {
                    _ = onToken(token)
                    break decoding
                }
                guard onToken(token) else {
                    state.cancel()
                    break decoding
                }
            }
            if done { break }
            sequence += emitted.map(\.id)
            let room = state.draftRoom(positions: sequence.count)
            speculator.rowCost = costs.rowCost() + draftTokenCost
            if let runner {
                let length = speculator.length(room: room)
                let draftStart = Date()
                (draft, draftDistributions) = length > 0 ? try runner.draft(after: sequence, count: length) : ([], [])
                // The draft model's forwards are part of a drafted token's price, in steps.
                if !draft.isEmpty, let step = costs.oneRowSeconds {
                    let perToken = Date().timeIntervalSince(draftStart) / Double(draft.count) / step
                    draftTokenCost = draftTokenCost == 0 ? perToken : 0.8 * draftTokenCost + 0.2 * perToken
                }
            } else if let external = drafter, speculator.isOn {
                draft = Array(external(sequence, min(room, speculator.options.draftMax)).prefix(room)
                    .prefix { $0 >= 0 && $0 < model.vocabularySize })
            } else {
                draft = speculator.propose(after: sequence, room: room)
            }
            forced = false
            if draft.isEmpty, runner == nil {
                draft = state.forcedDraft(limit: Self.forcedRunLimit, positions: sequence.count, rowCost: costs.rowCost())
                forced = !draft.isEmpty
            }
            let last = sequence[sequence.count - 1]
            let stepStart = Date()
            current = draft.isEmpty ? try model.forward([last], cache: cache, logits: .last)
                                    : try model.forwardDecodeRows([last] + draft, cache: cache)
            costs.record(rows: 1 + draft.count, seconds: Date().timeIntervalSince(stepStart))
        }
        state.addDecodeTime(Date().timeIntervalSince(decodeStart))
        return state.stats
    }
}
