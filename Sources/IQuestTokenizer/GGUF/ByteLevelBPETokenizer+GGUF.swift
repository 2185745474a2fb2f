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
            try self.init(
                tokens: tokens,
                tokenTypes: GGUFTokenizer.tokenTypes(gguf, count: tokens.count),
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
