import IQuestFormats

extension AddedTokensTokenizer {
    /// A `tokenizer.ggml.model = "llama"` vocabulary (llama.cpp's SentencePiece convention): the
    /// pieces, scores and token types become a SentencePiece BPE `ModelProto` (identity
    /// normalization, `▁` for spaces, dummy prefix from `tokenizer.ggml.add_space_prefix`, default
    /// true; byte fallback when the vocabulary has byte tokens), and the tokens of
    /// `tokenizer.iquest.added_token_ids`, or without that key every control, user-defined and
    /// unknown token, become added tokens (user-defined ones non-special). Encoding therefore splits
    /// on those tokens first and encodes each stretch between them on its own, as the HF directory
    /// path does (spec §5) and as llama.cpp does. SentencePiece allows one unknown piece:
    /// the token of `tokenizer.ggml.unknown_token_id` (else the first unknown-typed one); other
    /// unknown-typed tokens (older converters typed padding so) are unused pieces to the model.
    ///
    /// Stop ids: `tokenizer.iquest.eos_token_ids` when present, else the tokens whose text is a
    /// common end-of-turn marker (as for byte-level BPE); EOS, EOT and EOM are always included.
    /// `add_bos_token` absent: BOS is added when `bos_token_id` is set (llama.cpp's SPM default).
    public init(sentencePieceGGUF gguf: GGUFFile) throws(TokenizerError) {
        typealias Key = GGUFTokenizerKey
        do {
            let model = try gguf.requireString(Key.model)
            guard model == "llama" else { throw TokenizerError.unsupportedModel(model) }
            let tokens = try gguf.requireStringArray(Key.tokens)
            guard !tokens.isEmpty else { throw TokenizerError.emptyVocabulary }
            let scores = try gguf.floatArray(Key.scores) ?? [Float](repeating: 0, count: tokens.count)
            guard scores.count == tokens.count else {
                throw TokenizerError.countMismatch(key: Key.scores, count: scores.count, expected: tokens.count)
            }
            let types = try GGUFTokenizer.tokenTypes(gguf, count: tokens.count)
                ?? [TokenType](repeating: .normal, count: tokens.count)

            var proto = Sentencepiece_ModelProto()
            proto.trainerSpec.modelType = .bpe
            proto.trainerSpec.byteFallback = types.contains(.byte)
            proto.normalizerSpec.name = "identity"
            proto.normalizerSpec.addDummyPrefix = try gguf.bool(Key.addSpacePrefix) ?? true
            proto.normalizerSpec.removeExtraWhitespaces = false
            proto.normalizerSpec.escapeWhitespaces = true
            let unknownKey = try gguf.int(Key.unknownTokenId)
            if let id = unknownKey, !tokens.indices.contains(id) {
                throw TokenizerError.tokenIdOutOfRange(key: Key.unknownTokenId, id: id, vocabularySize: tokens.count)
            }
            let unknown = unknownKey ?? types.firstIndex(of: .unknown)
            proto.pieces = tokens.indices.map { id in
                var piece = Sentencepiece_ModelProto.SentencePiece()
                piece.piece = tokens[id]
                piece.score = scores[id]
                piece.type = id == unknown ? .unknown : types[id] == .unknown ? .unused : Self.protoType(types[id])
                return piece
            }
            let base: SentencePieceTokenizer
            do {
                base = try SentencePieceTokenizer(proto: proto, file: Key.tokens)
            } catch {
                throw TokenizerError.sentencePiece(error.description)
            }

            let addedIds = try gguf.intArray(Key.addedTokenIds)
                ?? types.indices.filter { [.control, .unknown, .userDefined].contains(types[$0]) }
            if let bad = addedIds.first(where: { !tokens.indices.contains($0) }) {
                throw TokenizerError.tokenIdOutOfRange(key: Key.addedTokenIds, id: bad, vocabularySize: tokens.count)
            }
            let added = addedIds.map { AddedToken(id: $0, content: tokens[$0], special: types[$0] != .userDefined) }
            let bos = try gguf.int(Key.bosTokenId)
            let eos = try gguf.int(Key.eosTokenId)
            var stops = try gguf.intArray(Key.stopTokenIds)
                ?? tokens.indices.filter { ByteLevelBPETokenizer.endOfTurnTexts.contains(tokens[$0]) }
            for id in [try gguf.int(Key.eotTokenId), try gguf.int(Key.eomTokenId)].compactMap({ $0 })
            where !stops.contains(id) {
                stops.append(id)
            }
            for (key, id) in [(Key.bosTokenId, bos), (Key.eosTokenId, eos)] + stops.map({ (Key.stopTokenIds, Optional($0)) }) {
                if let id, !(0..<tokens.count).contains(id) {
                    throw TokenizerError.tokenIdOutOfRange(key: key, id: id, vocabularySize: tokens.count)
                }
            }
            let addBOS = try gguf.bool(Key.addBOS) ?? (bos != nil)
            let addEOS = try gguf.bool(Key.addEOS) ?? false
            if addBOS && bos == nil { throw TokenizerError.missingRequiredToken(flag: Key.addBOS, idKey: Key.bosTokenId) }
            if addEOS && eos == nil { throw TokenizerError.missingRequiredToken(flag: Key.addEOS, idKey: Key.eosTokenId) }
            do {
                try self.init(base: base, addedTokens: added, bosTokenId: bos, eosTokenId: eos, eosTokenIds: stops,
                              addBOS: addBOS, addEOS: addEOS, source: Key.tokens)
            } catch {
                throw TokenizerError.sentencePiece(error.description)
            }
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw .gguf(String(describing: error))
        }
    }

    /// llama.cpp's token type codes are SentencePiece's enum; undefined (0) reads as normal.
    private static func protoType(_ type: TokenType) -> Sentencepiece_ModelProto.SentencePiece.TypeEnum {
        switch type {
        case .undefined, .normal: return .normal
        case .unknown: return .unknown
        case .control: return .control
        case .userDefined: return .userDefined
        case .unused: return .unused
        case .byte: return .byte
        }
    }
}
