import IQuestConstraints
import IQuestTokenizer

/// A grammar the generated text must follow (structured outputs), with the vocabulary's token
/// bytes it is matched against. Compiled by the caller (the server turns schema errors into
/// 400s before anything runs); each `GenerationState` builds its own automaton from it.
public struct OutputConstraint: Sendable {
    public var grammar: Grammar
    public var vocabulary: TokenVocabulary
    /// The constraint starts once the generated text contains this (the reasoning end tag when
    /// the output opens inside `<think>`); nil: from the first token.
    public var startAfter: String?
    /// The grammar switches on each time the text contains this (the tool-call opener, which
    /// the grammar starts with) and off when it completes (strict tools under tool_choice auto);
    /// nil: it applies once to all the text (after `startAfter`).
    public var opener: String?

    public init(grammar: Grammar, vocabulary: TokenVocabulary, startAfter: String? = nil, opener: String? = nil) {
        self.grammar = grammar
        self.vocabulary = vocabulary
        self.startAfter = startAfter
        self.opener = opener
    }
}

extension TokenVocabulary {
    /// Every token's bytes as the tokenizer streams them; control and unknown tokens get none
    /// (never allowed inside a constraint), stop ids end it where the grammar is complete.
    public init(tokenizer: any Tokenizer, stopIds: [Int]) {
        var bytes: [[UInt8]?] = []
        bytes.reserveCapacity(tokenizer.vocabularySize)
        for id in 0..<tokenizer.vocabularySize {
            bytes.append(tokenizer.isSpecial(id) ? nil : tokenizer.tokenBytes(id))
        }
        self.init(bytes: bytes, stopIds: stopIds)
    }
}

/// One request's walk through its constraint: where it applies (`ConstraintGate`) and the
/// masks of its automaton.
struct ConstraintRun {
    let masker: TokenMasker
    private var gate: ConstraintGate

    init(_ constraint: OutputConstraint) throws {
        let automaton: GrammarAutomaton
        do { automaton = try GrammarAutomaton(constraint.grammar) } catch { throw GenerationError("\(error)") }
        masker = TokenMasker(vocabulary: constraint.vocabulary, automaton: automaton)
        gate = ConstraintGate(automaton: automaton, startAfter: constraint.startAfter, opener: constraint.opener)
    }

    var active: Bool { gate.active }
    /// Complete and nothing more may follow: generation can end without sampling a stop token.
    var isFinished: Bool { gate.isFinished }

    /// Masks `logits` in place; false when no token is allowed.
    func apply(to logits: UnsafeMutableBufferPointer<Float>) -> Bool {
        guard gate.active else { return true }
        return masker.apply(gate.state, to: logits)
    }

    /// Tokens the grammar leaves no choice about from here: its forced bytes split as `tokenizer`
    /// splits them when that reproduces the bytes (the split the model learnt; a SentencePiece
    /// tokenizer adds a dummy-prefix space to a fragment, and then the longest vocabulary tokens
    /// are used), at most `limit`. The last token, when it reaches the end of the forced bytes,
    /// is left out: the model may join those bytes with what follows.
    func forcedTokens(limit: Int, tokenizer: any Tokenizer) -> [Int] {
        guard gate.active, limit > 0 else { return [] }
        let vocabulary = masker.vocabulary
        var bytes = masker.automaton.forcedBytes(from: gate.state, limit: 64)
        // Whole UTF-8 characters only (a forced run may stop inside one).
        while let last = bytes.last, last >= 0x80, String(validating: bytes, as: UTF8.self) == nil { bytes.removeLast() }
        guard bytes.count > 1 else { return [] }
        func spelled(_ ids: [Int]) -> [UInt8] { ids.flatMap { vocabulary.bytes[$0] ?? [] } }
        var ids = tokenizer.encode(String(decoding: bytes, as: UTF8.self), addSpecialTokens: false, parseSpecial: false)
        if ids.contains(where: { $0 < 0 || $0 >= vocabulary.size || vocabulary.bytes[$0] == nil }) || spelled(ids) != bytes {
            ids = vocabulary.longestMatchTokens(bytes)
            // Longest match may stop short of the end (no token for what is left).
            if spelled(ids).count == bytes.count { ids.removeLast() }
        } else {
            ids.removeLast()
        }
        return Array(ids.prefix(limit))
    }

    /// Moves past token `id` (not a stop id).
    mutating func consume(_ id: Int) {
        gate.consume(id >= 0 && id < masker.vocabulary.size ? masker.vocabulary.bytes[id] ?? [] : [])
    }
}
