import IQuestFormats

/// Why a tokenizer cannot be written in a GGUF convention; one sentence.
public struct TokenizerExportError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension AddedTokensTokenizer {
    /// llama.cpp's SentencePiece (`tokenizer.ggml.model = "llama"`) metadata for a SentencePiece BPE
    /// base with its HF added tokens; `AddedTokensTokenizer(sentencePieceGGUF:)` reads it back into
    /// a tokenizer that encodes and decodes as this one does: `tokenizer.iquest.added_token_ids` keeps
    /// SentencePiece's own user-defined and control pieces apart from the HF added tokens.
    ///
    /// Token `id` is the SentencePiece piece (its score and type), or the added token at `id`
    /// (score -1000, control when special, user-defined otherwise; an added token spelled as the
    /// control or unknown piece it sits on keeps that piece), or `[PAD<id>]` (unused) up to
    /// `vocabularySize`, the model's embedding rows.
    ///
    /// - Parameters:
    ///   - stopTokenIds: every id that ends generation (`tokenizer.iquest.eos_token_ids`).
    ///   - endOfTurnTokenId: `tokenizer.ggml.eot_token_id`.
    public func sentencePieceGGUFMetadata(vocabularySize: Int, paddingTokenId: Int?, endOfTurnTokenId: Int?,
                                          stopTokenIds: [Int]) throws(TokenizerExportError) -> [(String, GGUFValue)] {
        typealias Key = GGUFTokenizerKey
        guard let spm = base as? SentencePieceTokenizer else {
            throw TokenizerExportError("the base tokenizer is not a SentencePiece model")
        }
        let model = spm.model
        guard model.algorithm == .bpe else {
            throw TokenizerExportError("a Unigram SentencePiece model has no llama.cpp GGUF form ('llama' is BPE by scores)")
        }
        let normalizer = model.normalizer
        guard !normalizer.removeExtraWhitespaces, normalizer.escapeWhitespaces, !normalizer.treatWhitespaceAsSuffix else {
            throw TokenizerExportError("the SentencePiece normalizer removes extra whitespace, does not escape it or treats it as a suffix; llama.cpp's 'llama' tokenizer does none of these")
        }
        guard vocabularySize <= Int(UInt32.max) else {
            throw TokenizerExportError("a vocabulary of \(vocabularySize) tokens does not fit GGUF's 32-bit token ids")
        }
        guard self.vocabularySize <= vocabularySize else {
            throw TokenizerExportError("the tokenizer has \(self.vocabularySize) tokens but the model only \(vocabularySize) embedding rows")
        }

        var tokens: [GGUFValue] = [], scores: [GGUFValue] = [], types: [GGUFValue] = []
        var seen: [String: Int] = [:]
        let added = Dictionary(addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for id in 0..<vocabularySize {
            var entry: (text: String, score: Float, type: TokenType)
            let piece = id < spm.vocabularySize ? (model.pieces[id], model.scores[id], model.types[id]) : nil
            if let t = added[id] {
                if let piece, piece.0 != t.content {
                    throw TokenizerExportError("added token '\(t.content)' (id \(id)) would replace SentencePiece piece '\(piece.0)'")
                }
                if t.special, let piece, piece.2 == .control || piece.2 == .unknown {
                    entry = piece
                } else {
                    entry = (t.content, -1000, t.special ? .control : .userDefined)
                }
            } else if let piece {
                entry = piece
            } else {
                entry = ("[PAD\(id)]", -1000, .unused)
            }
            if let other = seen[entry.text] {
                throw TokenizerExportError("token '\(entry.text)' would appear twice (ids \(other) and \(id))")
            }
            seen[entry.text] = id
            tokens.append(.string(entry.text))
            scores.append(.float32(entry.score))
            types.append(.int32(Int32(entry.type.rawValue)))
        }

        func id(_ key: String, _ value: Int?) -> [(String, GGUFValue)] {
            guard let value, let v = UInt32(exactly: value) else { return [] }
            return [(key, .uint32(v))]
        }
        var stops: [Int] = []
        for s in stopTokenIds where !stops.contains(s) { stops.append(s) }
        if let bad = ([bosTokenId, eosTokenId, paddingTokenId, endOfTurnTokenId].compactMap { $0 } + stops)
            .first(where: { !(0..<vocabularySize).contains($0) }) {
            throw TokenizerExportError("token id \(bad) is outside the vocabulary of \(vocabularySize)")
        }
        var out: [(String, GGUFValue)] = [
            (Key.model, .string("llama")),
            (Key.tokens, .array(.string, tokens)),
            (Key.scores, .array(.float32, scores)),
            (Key.tokenType, .array(.int32, types)),
        ]
        out += id(Key.bosTokenId, bosTokenId)
        out += id(Key.eosTokenId, eosTokenId)
        out += id(Key.unknownTokenId, spm.unknownTokenId)
        out += id(Key.paddingTokenId, paddingTokenId)
        out += id(Key.eotTokenId, endOfTurnTokenId)
        out += [
            (Key.addBOS, .bool(addBOS)),
            (Key.addEOS, .bool(addEOS)),
            (Key.addSpacePrefix, .bool(normalizer.addDummyPrefix)),
            (Key.stopTokenIds, .array(.uint32, stops.map { .uint32(UInt32($0)) })),
            (Key.addedTokenIds, .array(.uint32, addedTokens.map { .uint32(UInt32($0.id)) })),
        ]
        return out
    }
}
