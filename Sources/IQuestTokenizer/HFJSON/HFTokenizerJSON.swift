import Foundation

/// A Hugging Face `tokenizer.json` (the `tokenizers` library's format), encoding and decoding as
/// `tokenizers` does, for the two families Llama-type checkpoints ship:
///
/// - byte-level BPE: pre-tokenizer `ByteLevel(use_regex: true)` (GPT-2 regex), `Sequence[Digits
///   (individual), ByteLevel(use_regex: true)]` (StarCoder/SmolLM), or `Sequence[Split(<Llama 3 or
///   Qwen2 regex>, Isolated), ByteLevel(use_regex: false)]`, mapped onto `ByteLevelBPETokenizer`;
/// - SentencePiece-style BPE: a `Metaspace` pre-tokenizer and/or the `Prepend`/`Replace` normalizers,
///   with `byte_fallback` and `fuse_unk`.
///
/// `added_tokens` are split out first (longest match at each position; special ones only when
/// parsing specials), and every stretch between them is normalized, pre-tokenized and encoded on
/// its own. Decoding runs the `decoder` chain over the token strings (added tokens included, special
/// ones dropped by `skipSpecialTokens`). `addSpecialTokens` applies the post-processor's
/// TemplateProcessing (or `configured(...)`'s BOS/EOS).
public struct HFTokenizerJSON: Tokenizer {
    enum Backend: Sendable {
        case byteLevel(ByteLevelBPETokenizer)
        case metaspace(HFBPEModel, normalizers: [HFNormalizer], preTokenizer: HFMetaspace?)
    }

    public let vocabularySize: Int
    public private(set) var bosTokenId: Int?
    public private(set) var eosTokenIds: [Int]
    public var addBOS: Bool { bosTokenId.map { prefixIds.contains($0) } ?? false }
    public var addEOS: Bool { eosTokenIds.contains { suffixIds.contains($0) } }
    public let addedTokens: [AddedToken]

    let backend: Backend
    let decoders: [HFDecoder]?
    private(set) var prefixIds: [Int]
    private(set) var suffixIds: [Int]
    let modelTokens: [String]
    let modelIds: [String: Int]
    let splitter: AddedTokenSplitter
    let addedById: [Int: AddedToken]
    let addedByContent: [String: Int]

    public init(path: String) throws(TokenizerLoadError) {
        try self.init(file: JSONFile(path: path))
    }

    public init(data: Data, file: String = "tokenizer.json") throws(TokenizerLoadError) {
        try self.init(file: JSONFile(data: data, path: file))
    }

    /// The same tokenizer with the checkpoint's settings (tokenizer_config.json / generation_config.json)
    /// in place of the file's own; nil keeps what the file says.
    public func configured(bosTokenId: Int? = nil, eosTokenId: Int? = nil, eosTokenIds: [Int]? = nil,
                           addBOS: Bool? = nil, addEOS: Bool? = nil) throws(TokenizerLoadError) -> HFTokenizerJSON {
        var copy = self
        let bos = bosTokenId ?? self.bosTokenId
        let eos = eosTokenId ?? self.eosTokenIds.first
        // An explicit stop list keeps its order; otherwise the EOS named here goes first.
        var stops = eosTokenIds ?? self.eosTokenIds.filter { $0 != eosTokenId }
        if let eos, !stops.contains(eos) { stops.insert(eos, at: 0) }
        for id in [bos].compactMap({ $0 }) + stops where !(0..<vocabularySize).contains(id) {
            throw TokenizerLoadError(file: "tokenizer.json", "token id \(id) is outside the vocabulary of \(vocabularySize) tokens.")
        }
        copy.bosTokenId = bos
        copy.eosTokenIds = stops
        if let addBOS {
            if addBOS && bos == nil { throw TokenizerLoadError(file: "tokenizer.json", "add_bos_token is true but there is no BOS token.") }
            copy.prefixIds = addBOS ? [bos].compactMap { $0 } : []
        }
        if let addEOS {
            if addEOS && eos == nil { throw TokenizerLoadError(file: "tokenizer.json", "add_eos_token is true but there is no EOS token.") }
            copy.suffixIds = addEOS ? [eos].compactMap { $0 } : []
        }
        return copy
    }

    public func encode(_ text: String, addSpecialTokens: Bool, parseSpecial: Bool) -> [Int] {
        var out: [Int] = addSpecialTokens ? prefixIds : []
        let bytes = Array(text.utf8)
        for fragment in splitter.split(bytes, includeSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                out.append(id)
            case .text(let range):
                encodeText(String(decoding: bytes[range], as: UTF8.self), atStartOfInput: range.lowerBound == 0, into: &out)
            }
        }
        if addSpecialTokens { out += suffixIds }
        return out
    }

    private func encodeText(_ text: String, atStartOfInput: Bool, into out: inout [Int]) {
        switch backend {
        case .byteLevel(let base):
            out += base.encode(text, addSpecialTokens: false, parseSpecial: false)
        case .metaspace(let model, let normalizers, let pre):
            var s = text
            for n in normalizers { s = n.apply(s) }
            guard !s.isEmpty else { return }
            for word in pre?.words(s, atStartOfInput: atStartOfInput) ?? [s] {
                model.encode(word, into: &out)
            }
        }
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var tokens: [String] = []
        for id in ids {
            if let t = addedById[id] {
                if !(skipSpecialTokens && t.special) { tokens.append(t.content) }
            } else if (0..<modelTokens.count).contains(id) {
                tokens.append(modelTokens[id])
            }
        }
        guard let decoders else { return tokens.joined(separator: " ") }
        for d in decoders { tokens = d.apply(tokens) }
        return tokens.joined()
    }

    public func tokenBytes(_ id: Int) -> [UInt8] {
        if let t = addedById[id] { return Array(t.content.utf8) }
        guard (0..<modelTokens.count).contains(id) else { return [] }
        switch backend {
        case .byteLevel(let base):
            return base.tokenBytes(id)
        case .metaspace:
            let piece = Array(modelTokens[id].utf8)
            if let b = SentencePieceModel.byteValue(piece) { return [b] }
            return Array(modelTokens[id].replacingOccurrences(of: "\u{2581}", with: " ").utf8)
        }
    }

    public func isSpecial(_ id: Int) -> Bool { addedById[id]?.special ?? false }

    public func tokenId(for piece: String) -> Int? { addedByContent[piece] ?? modelIds[piece] }

    public func piece(for id: Int) -> String? {
        if let t = addedById[id] { return t.content }
        return (0..<modelTokens.count).contains(id) ? modelTokens[id] : nil
    }

    init(backend: Backend, decoders: [HFDecoder]?, modelTokens: [String], modelIds: [String: Int],
         addedTokens: [AddedToken], bosTokenId: Int?, eosTokenIds: [Int], prefixIds: [Int], suffixIds: [Int]) {
        self.backend = backend
        self.decoders = decoders
        self.modelTokens = modelTokens
        self.modelIds = modelIds
        self.addedTokens = addedTokens
        self.splitter = AddedTokenSplitter(addedTokens)
        self.addedById = Dictionary(addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.addedByContent = Dictionary(addedTokens.map { ($0.content, $0.id) }, uniquingKeysWith: { a, _ in a })
        self.vocabularySize = max(modelTokens.count, (addedTokens.map(\.id).max() ?? -1) + 1)
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
        self.prefixIds = prefixIds
        self.suffixIds = suffixIds
    }
}
