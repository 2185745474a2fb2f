/// A base tokenizer plus HF added tokens, with the rule of HF's slow (Python) tokenizers that IQuest's
/// tokenizer class follows (spec §5): the text is split on every added token, special or not (the
/// longest one at each position), each token gives its id, and every non-empty stretch between them is
/// encoded by the base tokenizer on its own — so a SentencePiece base gives each stretch its
/// dummy-prefix `▁` (`a<think>b` → `▁a`, `<think>`, `▁b`).
///
/// Decoding: each run of base ids is decoded by the base tokenizer (which drops the run's dummy-prefix
/// space), added tokens become their literal content, and `skipSpecialTokens` drops only the added
/// tokens marked special (and the base's own special tokens).
///
/// `parseSpecial: false` leaves special added tokens' text to the base tokenizer (as HF's
/// `split_special_tokens`); non-special added tokens are always matched.
public struct AddedTokensTokenizer: Tokenizer {
    public let base: any Tokenizer
    public let addedTokens: [AddedToken]
    public let vocabularySize: Int
    public let bosTokenId: Int?
    /// The EOS token `addEOS` appends.
    public let eosTokenId: Int?
    public let eosTokenIds: [Int]
    public let addBOS: Bool
    public let addEOS: Bool

    private let splitter: AddedTokenSplitter
    private let byId: [Int: AddedToken]
    private let byContent: [String: Int]

    /// - Parameters:
    ///   - eosTokenId: the id `addEOS` appends; nil: the first of `eosTokenIds`.
    ///   - eosTokenIds: every id that ends generation (`eosTokenId` is added first when missing).
    public init(base: any Tokenizer, addedTokens: [AddedToken], bosTokenId: Int?, eosTokenId: Int? = nil,
                eosTokenIds: [Int], addBOS: Bool, addEOS: Bool, source: String = "added tokens") throws(TokenizerLoadError) {
        let eosTokenId = eosTokenId ?? eosTokenIds.first
        var eosTokenIds = eosTokenIds
        if let eos = eosTokenId, !eosTokenIds.contains(eos) { eosTokenIds.insert(eos, at: 0) }
        var byId: [Int: AddedToken] = [:]
        var byContent: [String: Int] = [:]
        var unique: [AddedToken] = []
        for t in addedTokens {
            guard t.id >= 0 else { throw TokenizerLoadError(file: source, "added token '\(t.content)' has negative id \(t.id).") }
            guard !t.content.isEmpty else { throw TokenizerLoadError(file: source, "added token \(t.id) has empty content.") }
            if let other = byId[t.id] {
                if other == t { continue }
                throw TokenizerLoadError(file: source, "id \(t.id) is given to two added tokens, '\(other.content)' and '\(t.content)'.")
            }
            if let other = byContent[t.content] {
                throw TokenizerLoadError(file: source, "added token '\(t.content)' has two ids, \(other) and \(t.id).")
            }
            byId[t.id] = t
            byContent[t.content] = t.id
            unique.append(t)
        }
        let size = max(base.vocabularySize, (unique.map(\.id).max() ?? -1) + 1)
        for (name, id) in [("BOS", bosTokenId)] + eosTokenIds.map({ ("EOS", Optional($0)) }) {
            if let id, !(0..<size).contains(id) {
                throw TokenizerLoadError(file: source, "\(name) id \(id) is outside the vocabulary of \(size) tokens.")
            }
        }
        if addBOS && bosTokenId == nil { throw TokenizerLoadError(file: source, "add_bos_token is true but there is no BOS token.") }
        if addEOS && eosTokenId == nil { throw TokenizerLoadError(file: source, "add_eos_token is true but there is no EOS token.") }
        self.base = base
        self.addedTokens = unique.sorted { $0.id < $1.id }
        self.vocabularySize = size
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.eosTokenIds = eosTokenIds
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.splitter = AddedTokenSplitter(unique)
        self.byId = byId
        self.byContent = byContent
    }

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var out: [Int] = []
        if addSpecialTokens, addBOS, let bos = bosTokenId { out.append(bos) }
        let bytes = Array(text.utf8)
        for fragment in splitter.split(bytes, includeSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                out.append(id)
            case .text(let range):
                let piece = String(decoding: bytes[range], as: UTF8.self)
                out += base.encode(piece, addSpecialTokens: false, parseSpecial: false)
            }
        }
        if addSpecialTokens, addEOS, let eos = eosTokenId { out.append(eos) }
        return out
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var text = ""
        var run: [Int] = []
        for id in ids {
            if let t = byId[id] {
                if !run.isEmpty {
                    text += base.decode(run, skipSpecialTokens: skipSpecialTokens)
                    run.removeAll(keepingCapacity: true)
                }
                if !(skipSpecialTokens && t.special) { text += t.content }
            } else {
                run.append(id)
            }
        }
        if !run.isEmpty { text += base.decode(run, skipSpecialTokens: skipSpecialTokens) }
        return text
    }

    public func tokenBytes(_ id: Int) -> [UInt8] {
        if let t = byId[id] { return Array(t.content.utf8) }
        return base.tokenBytes(id)
    }

    /// After an added token the base tokenizer's first piece loses the space its decoding drops
    /// (SentencePiece's dummy prefix: `<think>`, `▁\n` streams as `<think>\n`, as `decode` gives).
    public func streamBytes(_ id: Int, after previous: Int?) -> [UInt8] {
        let bytes = tokenBytes(id)
        guard let previous, byId[previous] != nil, byId[id] == nil, bytes.first == 0x20,
              base.decode([id], skipSpecialTokens: false).utf8.first != 0x20 else { return bytes }
        return Array(bytes.dropFirst())
    }

    public func isSpecial(_ id: Int) -> Bool {
        if let t = byId[id] { return t.special }
        return base.isSpecial(id)
    }

    public func isAddedToken(_ id: Int) -> Bool { byId[id] != nil }

    public func tokenId(for piece: String) -> Int? { byContent[piece] ?? base.tokenId(for: piece) }

    public func piece(for id: Int) -> String? { byId[id]?.content ?? base.piece(for: id) }
}
