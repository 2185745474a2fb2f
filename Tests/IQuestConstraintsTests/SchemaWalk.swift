import IQuestConstraints
import IQuestTokenizer

/// Feeds a text to a constraint token by token through the masks, as generation would see it.
struct SchemaWalk {
    let tokenizer: any Tokenizer
    let vocabulary: TokenVocabulary

    enum Outcome: Equatable { case accepted, rejectedAtToken(Int), eosRefused }

    /// The text's canonical tokens must each be in the mask of the state before them, and a
    /// stop id in the mask at the end.
    func walk(_ text: String, masker: TokenMasker) -> Outcome {
        let ids = tokenizer.encode(text, addSpecialTokens: false)
        var state = masker.automaton.initialState
        for (i, id) in ids.enumerated() {
            guard masker.mask(state).allows(id), let bytes = vocabulary.bytes[id] else { return .rejectedAtToken(i) }
            var m = GrammarMatcher(masker.automaton, state: state)
            m.advance(bytes)
            state = m.state
        }
        guard let eos = vocabulary.stopIds.first, masker.mask(state).allows(eos) else { return .eosRefused }
        return .accepted
    }
}
