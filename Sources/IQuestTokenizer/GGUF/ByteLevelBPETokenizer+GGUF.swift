import IQuestFormats

extension ByteLevelBPETokenizer {
    /// Reads the `tokenizer.ggml.*` metadata of a GGUF file.
    ///
    /// When `tokenizer.ggml.add_bos_token` is absent, BOS is added only for the pre-tokenizers
    /// llama.cpp marks so (the Llama 3 family); `tokenizer.ggml.pre` absent means llama.cpp's
    /// "default" regex set.
    public init(gguf: GGUFFile) throws(TokenizerError) {
        do {
            let model = try gguf.requireString("tokenizer.ggml.model")
            guard model == "gpt2" else { throw TokenizerError.unsupportedModel(model) }
            let tokens = try gguf.requireStringArray("tokenizer.ggml.tokens")
            var types: [TokenType]?
            if let raw = try gguf.intArray("tokenizer.ggml.token_type") {
                guard raw.count == tokens.count else {
                    throw TokenizerError.countMismatch(key: "tokenizer.ggml.token_type", count: raw.count,
                                                       expected: tokens.count)
                }
                types = try raw.enumerated().map { (i, v) throws(TokenizerError) in
                    guard let t = TokenType(rawValue: v) else { throw .invalidTokenType(index: i, value: v) }
                    return t
                }
            }
            try self.init(
                tokens: tokens,
                tokenTypes: types,
                merges: gguf.requireStringArray("tokenizer.ggml.merges"),
                preTokenizer: gguf.string("tokenizer.ggml.pre") ?? "default",
                bosTokenId: gguf.int("tokenizer.ggml.bos_token_id"),
                eosTokenId: gguf.int("tokenizer.ggml.eos_token_id"),
                eotTokenId: gguf.int("tokenizer.ggml.eot_token_id"),
                eomTokenId: gguf.int("tokenizer.ggml.eom_token_id"),
                addBOS: gguf.bool("tokenizer.ggml.add_bos_token"),
                addEOS: gguf.bool("tokenizer.ggml.add_eos_token") ?? false)
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw .gguf(String(describing: error))
        }
    }
}
