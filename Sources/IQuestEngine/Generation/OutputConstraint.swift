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

    public init(grammar: Grammar, vocabulary: TokenVocabulary, startAfter: String? = nil) {
        self.grammar = grammar
        self.vocabulary = vocabulary
        self.startAfter = startAfter
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

/// One request's walk through its constraint: the matcher state, and until the trigger text
/// appears, the bytes seen so far.
struct ConstraintRun {
    let masker: TokenMasker
    var state: Int32
    var active: Bool
    let trigger: [UInt8]?
    private var seen: [UInt8] = []

    init(_ constraint: OutputConstraint) throws {
        let automaton: GrammarAutomaton
        do { automaton = try GrammarAutomaton(constraint.grammar) } catch { throw GenerationError("\(error)") }
        masker = TokenMasker(vocabulary: constraint.vocabulary, automaton: automaton)
        state = automaton.initialState
        trigger = constraint.startAfter.map { Array($0.utf8) }
        active = trigger == nil
    }

    var isAccepting: Bool { masker.automaton.isAccepting(state) }
    /// Complete and nothing more may follow: generation can end without sampling a stop token.
    var isFinished: Bool { active && isAccepting && masker.automaton.allowedBytes(state).isEmpty }

    /// Masks `logits` in place; false when no token is allowed.
    func apply(to logits: UnsafeMutableBufferPointer<Float>) -> Bool {
        guard active else { return true }
        return masker.apply(state, to: logits)
    }

    /// Moves past token `id` (not a stop id).
    mutating func consume(_ id: Int) {
        let bytes = id >= 0 && id < masker.vocabulary.size ? masker.vocabulary.bytes[id] ?? [] : []
        if active {
            var m = GrammarMatcher(masker.automaton, state: state)
            m.advance(bytes)
            state = m.state
            return
        }
        guard let trigger else { return }
        seen += bytes
        guard let end = Self.find(trigger, in: seen) else {
            if seen.count > 4096 { seen.removeFirst(seen.count - trigger.count) }
            return
        }
        active = true
        // Whatever followed the trigger inside this token is the start of the constrained text.
        var m = GrammarMatcher(masker.automaton)
        if m.advance(seen[end...]) { state = m.state } else { state = masker.automaton.initialState }
        seen = []
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for start in 0...(hay.count - needle.count) where hay[start..<(start + needle.count)].elementsEqual(needle) {
            return start + needle.count
        }
        return nil
    }
}
