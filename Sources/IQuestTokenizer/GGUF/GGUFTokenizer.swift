import IQuestFormats

/// The tokenizer a GGUF file carries in its metadata (llama.cpp's `tokenizer.ggml.*` keys; the
/// conventions are in docs/GGUF-TOKENIZER.md), chosen by `tokenizer.ggml.model`:
/// `gpt2` is byte-level BPE (`ByteLevelBPETokenizer`), `llama` is SentencePiece BPE with scores
/// (`AddedTokensTokenizer(sentencePieceGGUF:)`). Any other model is refused by name.
public enum GGUFTokenizer {
    public static let supportedModels = ["gpt2", "llama"]

    public static func load(_ gguf: GGUFFile) throws(TokenizerError) -> any Tokenizer {
        let model: String
        do { model = try gguf.requireString(GGUFTokenizerKey.model) } catch { throw .gguf(error.description) }
        switch model {
        case "gpt2": return try ByteLevelBPETokenizer(gguf: gguf)
        case "llama": return try AddedTokensTokenizer(sentencePieceGGUF: gguf)
        default: throw .unsupportedModel(model)
        }
    }

    /// `tokenizer.ggml.token_type` (one llama.cpp code per token), or nil when absent.
    static func tokenTypes(_ gguf: GGUFFile, count: Int) throws -> [TokenType]? {
        guard let raw = try gguf.intArray(GGUFTokenizerKey.tokenType) else { return nil }
        guard raw.count == count else {
            throw TokenizerError.countMismatch(key: GGUFTokenizerKey.tokenType, count: raw.count, expected: count)
        }
        return try raw.enumerated().map { (i, v) throws(TokenizerError) in
            guard let t = TokenType(rawValue: v) else { throw .invalidTokenType(index: i, value: v) }
            return t
        }
    }
}

/// Tokenizer metadata keys of a GGUF file: llama.cpp's, plus one of this engine's.
public enum GGUFTokenizerKey {
    public static let model = "tokenizer.ggml.model"
    public static let tokens = "tokenizer.ggml.tokens"
    public static let scores = "tokenizer.ggml.scores"
    public static let tokenType = "tokenizer.ggml.token_type"
    public static let merges = "tokenizer.ggml.merges"
    public static let preTokenizer = "tokenizer.ggml.pre"
    public static let bosTokenId = "tokenizer.ggml.bos_token_id"
    public static let eosTokenId = "tokenizer.ggml.eos_token_id"
    public static let eotTokenId = "tokenizer.ggml.eot_token_id"
    public static let eomTokenId = "tokenizer.ggml.eom_token_id"
    public static let unknownTokenId = "tokenizer.ggml.unknown_token_id"
    public static let paddingTokenId = "tokenizer.ggml.padding_token_id"
    public static let addBOS = "tokenizer.ggml.add_bos_token"
    public static let addEOS = "tokenizer.ggml.add_eos_token"
    public static let addSpacePrefix = "tokenizer.ggml.add_space_prefix"
    public static let chatTemplate = "tokenizer.chat_template"
    /// This engine's key (llama.cpp has no list form): every id that ends generation, e.g. an HF
    /// checkpoint's `eos_token_id` list from generation_config.json and config.json.
    public static let stopTokenIds = "tokenizer.iquest.eos_token_ids"
    /// This engine's key: the ids of an HF tokenizer's added tokens (`added_tokens_decoder`). With
    /// it only these are split out of the text before SentencePiece, as HF's slow tokenizers do;
    /// without it every control, user-defined and unknown token is (llama.cpp's rule).
    public static let addedTokenIds = "tokenizer.iquest.added_token_ids"
}
