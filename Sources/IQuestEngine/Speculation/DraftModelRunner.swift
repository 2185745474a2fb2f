import IQuestModels

/// A draft model's side of one request: its own cache of the sequence, its own seeded sampler
/// (same parameters as the target's, a different stream), and the distributions q its drafts
/// were drawn from, which verification needs.
final class DraftModelRunner {
    let model: any LanguageModel
    private let cache: any SequenceCache
    private var sampler: Sampler

    init(model: any LanguageModel, sampling: SamplingParameters, capacity: Int) throws {
        self.model = model
        var parameters = sampling
        // A stream of its own: the target's generator decides acceptance and must not be shared.
        parameters.seed = sampling.seed.map { $0 ^ 0x9E37_79B9_7F4A_7C15 }
        sampler = Sampler(parameters: parameters)
        cache = try model.makeCache(capacity: capacity)
    }

    /// Draws `count` tokens continuing `tokens` (prompt + output; the draft cache catches up on
    /// whatever it has not seen), each from the draft's final distribution, which is returned too.
    func draft(after tokens: [Int], count: Int) throws -> (tokens: [Int], distributions: [[(id: Int, probability: Double)]]) {
        guard count > 0, !tokens.isEmpty else { return ([], []) }
        // Logits after the last token are needed, so at least that one is fed.
        if cache.count >= tokens.count { cache.truncate(to: tokens.count - 1) }
        var start = cache.count
        var logits: Logits?
        while start < tokens.count {
            let end = min(tokens.count, start + 512)
            logits = try model.forward(Array(tokens[start..<end]), cache: cache, logits: .last)
            start = end
        }
        guard var current = logits else { return ([], []) }
        var history = tokens, drafted: [Int] = [], distributions: [[(id: Int, probability: Double)]] = []
        for i in 0..<count {
            let q = current.row(0).withUnsafeBufferPointer { sampler.distribution(logits: $0, history: history) }
            guard !q.isEmpty else { break }
            let u = sampler.nextUnit()
            var cum = 0.0, x = q[q.count - 1].id
            for entry in q {
                cum += entry.probability
                if u < cum {
                    x = entry.id
                    break
                }
            }
            drafted.append(x)
            distributions.append(q)
            history.append(x)
            if i + 1 < count { current = try model.forward([x], cache: cache, logits: .last) }
        }
        return (drafted, distributions)
    }

    /// The sequence now holds `length` verified tokens: forget drafted ones past them.
    func keep(_ length: Int) {
        if cache.count > length { cache.truncate(to: length) }
    }
}

/// Why a draft model cannot draft for a target, or nil when it can: drafts are token ids, so
/// both must mean the same thing by every id (same vocabulary, pieces, special and stop ids).
public enum DraftModelCheck {
    public static func refusal(target: LoadedModel, draft: LoadedModel) -> String? {
        let a = target.tokenizer, b = draft.tokenizer
        guard target.model.vocabularySize == draft.model.vocabularySize, a.vocabularySize == b.vocabularySize else {
            return "the draft model's vocabulary (\(draft.model.vocabularySize) ids) differs from the target's (\(target.model.vocabularySize))"
        }
        guard a.bosTokenId == b.bosTokenId, a.eosTokenIds == b.eosTokenIds, target.stopTokenIds == draft.stopTokenIds else {
            return "the draft model's special ids (BOS \(b.bosTokenId.map(String.init) ?? "none"), EOS \(b.eosTokenIds), stops \(draft.stopTokenIds.sorted())) differ from the target's (BOS \(a.bosTokenId.map(String.init) ?? "none"), EOS \(a.eosTokenIds), stops \(target.stopTokenIds.sorted()))"
        }
        for id in 0..<a.vocabularySize where a.tokenBytes(id) != b.tokenBytes(id) || a.isSpecial(id) != b.isSpecial(id) {
            return "the draft model's token \(id) differs from the target's: the tokenizers do not match"
        }
        return nil
    }
}
