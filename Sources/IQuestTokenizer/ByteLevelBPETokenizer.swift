/// GPT-2-style byte-level BPE (`tokenizer.ggml.model == "gpt2"`), as used by Llama 3, Qwen2,
/// StarCoder, SmolLM and DeepSeek. Encoding: special-token matching → pre-tokenizer regexes →
/// byte-level BPE per piece, following llama.cpp's `llm_tokenizer_bpe`.
public struct ByteLevelBPETokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosTokenId: Int?
    public let eosTokenId: Int?
    public let eosTokenIds: [Int]
    public let addBOS: Bool
    public let addEOS: Bool
    /// The `tokenizer.ggml.pre` name this tokenizer was built for.
    public let preTokenizerName: String

    private let texts: [String]
    private let types: [TokenType]
    private let idsByText: [String: Int]
    /// Bytes of every token back to back; token `i` is `tokenByteStorage[byteStarts[i]..<byteStarts[i+1]]`.
    private let tokenByteStorage: [UInt8]
    private let byteStarts: [Int]
    private let merges: BPEMerges
    private let preTokenizer: PreTokenizer
    private let specials: SpecialTokenMatcher

    /// Token texts whose ids end generation even when the metadata names only EOS (llama.cpp's
    /// text-based end-of-generation detection, limited to the common chat-template markers).
    static let endOfTurnTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
        "<|eom_id|>", "<EOT>", "<｜end▁of▁sentence｜>",
    ]

    /// - Parameters:
    ///   - tokens: vocabulary entries in the byte-level alphabet, indexed by id.
    ///   - tokenTypes: one per token; nil treats every token as normal.
    ///   - merges: `"left right"` pairs, highest priority first.
    ///   - preTokenizer: a `tokenizer.ggml.pre` name.
    ///   - addBOS: nil uses llama.cpp's default for the pre-tokenizer (true only for Llama 3's).
    public init(tokens: [String], tokenTypes: [TokenType]? = nil, merges: [String], preTokenizer: String,
                bosTokenId: Int? = nil, eosTokenId: Int? = nil, eotTokenId: Int? = nil, eomTokenId: Int? = nil,
                addBOS: Bool? = nil, addEOS: Bool = false) throws(TokenizerError) {
        guard !tokens.isEmpty else { throw .emptyVocabulary }
        let n = tokens.count
        let types = tokenTypes ?? [TokenType](repeating: .normal, count: n)
        guard types.count == n else {
            throw .countMismatch(key: "tokenizer.ggml.token_type", count: types.count, expected: n)
        }
        var idsByText: [String: Int] = [:]
        idsByText.reserveCapacity(n)
        for (id, text) in tokens.enumerated() {
            guard !text.isEmpty else { throw .emptyToken(index: id) }
            if let first = idsByText[text] { throw .duplicateToken(text, firstId: first, secondId: id) }
            idsByText[text] = id
        }
        for (key, id) in [("tokenizer.ggml.bos_token_id", bosTokenId), ("tokenizer.ggml.eos_token_id", eosTokenId),
                          ("tokenizer.ggml.eot_token_id", eotTokenId), ("tokenizer.ggml.eom_token_id", eomTokenId)] {
            if let id, !(0..<n).contains(id) { throw .tokenIdOutOfRange(key: key, id: id, vocabularySize: n) }
        }
        let pre = try PreTokenizer(name: preTokenizer)
        let addBOS = addBOS ?? pre.defaultAddBOS
        if addBOS && bosTokenId == nil {
            throw .missingRequiredToken(flag: "tokenizer.ggml.add_bos_token", idKey: "tokenizer.ggml.bos_token_id")
        }
        if addEOS && eosTokenId == nil {
            throw .missingRequiredToken(flag: "tokenizer.ggml.add_eos_token", idKey: "tokenizer.ggml.eos_token_id")
        }

        var storage: [UInt8] = []
        var starts: [Int] = [0]
        starts.reserveCapacity(n + 1)
        for (id, text) in tokens.enumerated() {
            storage.append(contentsOf: Self.rawBytes(text: text, type: types[id]))
            starts.append(storage.count)
        }

        var eog: [Int] = []
        for id in [eosTokenId, eotTokenId, eomTokenId].compactMap({ $0 }) where !eog.contains(id) { eog.append(id) }
        for (id, text) in tokens.enumerated() where Self.endOfTurnTexts.contains(text) && !eog.contains(id) {
            eog.append(id)
        }

        self.vocabularySize = n
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.eosTokenIds = eog
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.preTokenizerName = preTokenizer
        self.texts = tokens
        self.types = types
        self.idsByText = idsByText
        self.tokenByteStorage = storage
        self.byteStarts = starts
        self.merges = try BPEMerges(tokenIds: idsByText, vocabularySize: n, merges: merges)
        self.preTokenizer = pre
        self.specials = SpecialTokenMatcher(texts: tokens, types: types)
    }

    /// What a token stands for: normal tokens decode the byte-level alphabet; special and
    /// user-defined ones are their literal text; `<0xXX>` byte tokens are that byte.
    private static func rawBytes(text: String, type: TokenType) -> [UInt8] {
        switch type {
        case .normal, .undefined:
            return ByteLevelAlphabet.decode(text)
        case .byte:
            let u = Array(text.utf8)
            if u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E,
               let b = UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16) {
                return [b]
            }
            return ByteLevelAlphabet.decode(text)
        case .control, .unknown, .userDefined, .unused:
            return Array(text.utf8)
        }
    }

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var out: [Int] = []
        if addSpecialTokens, addBOS, let bos = bosTokenId { out.append(bos) }
        let bytes = Array(text.utf8)
        var workspace = BPEWorkspace()
        for fragment in specials.partition(bytes, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                out.append(id)
            case .text(let range):
                encodePlain(bytes[range], workspace: &workspace, into: &out)
            }
        }
        if addSpecialTokens, addEOS, let eos = eosTokenId { out.append(eos) }
        return out
    }

    private func encodePlain(_ bytes: ArraySlice<UInt8>, workspace: inout BPEWorkspace, into out: inout [Int]) {
        let text = ScalarText(utf8: bytes)
        let base = bytes.startIndex
        for piece in preTokenizer.split(text) {
            let word = bytes[(base + text.byteOffsets[piece.lowerBound])..<(base + text.byteOffsets[piece.upperBound])]
            if preTokenizer.ignoreMerges, let id = idsByText[ByteLevelAlphabet.encode(word)] {
                out.append(id)
                continue
            }
            workspace.encode(word, merges: merges, into: &out)
        }
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        for id in ids where (0..<vocabularySize).contains(id) && !(skipSpecialTokens && isSpecial(id)) {
            bytes.append(contentsOf: tokenByteStorage[byteStarts[id]..<byteStarts[id + 1]])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard (0..<vocabularySize).contains(id) else { return [] }
        return Array(tokenByteStorage[byteStarts[id]..<byteStarts[id + 1]])
    }

    public func isSpecial(_ id: Int) -> Bool {
        guard (0..<vocabularySize).contains(id) else { return false }
        return types[id] == .control || types[id] == .unknown
    }

    public func tokenType(_ id: Int) -> TokenType? {
        (0..<vocabularySize).contains(id) ? types[id] : nil
    }

    public func tokenId(for piece: String) -> Int? { idsByText[piece] }

    public func piece(for id: Int) -> String? {
        (0..<vocabularySize).contains(id) ? texts[id] : nil
    }
}
