import Foundation
import IQuestFormats
import IQuestModels
import IQuestTokenizer

/// The tokenizer `iquest quantize` writes into a GGUF converted from an HF checkpoint directory
/// (docs/GGUF-TOKENIZER.md): a SentencePiece `tokenizer.model` with the added tokens of
/// tokenizer_config.json in llama.cpp's `llama` convention, the chat template, and every stop id
/// (the tokenizer's EOS list from generation_config.json plus config.json's `eos_token_id`).
/// A tokenizer that the convention cannot hold (tokenizer.json only, Unigram, whitespace cleanup)
/// is left out with a note; tokenizer files that do not load stop the conversion.
struct TokenizerCarryOver {
    var metadata: [(String, GGUFValue)] = []
    var notes: [String] = []

    init(directory: String, config: HFConfig, vocabularySize: Int) throws {
        let dir = URL(fileURLWithPath: directory)
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) }
        guard exists("tokenizer.model") else {
            notes.append(exists("tokenizer.json")
                ? "tokenizer.json tokenizers are not carried into GGUF yet; the GGUF has no tokenizer (prompts must be token ids)"
                : "the checkpoint has no tokenizer files; the GGUF carries none (prompts must be token ids)")
            return
        }
        let loaded: any Tokenizer
        do { loaded = try AddedTokensTokenizer.load(directory: directory) } catch {
            throw ConversionError("\(directory): cannot read the tokenizer: \(error.description)")
        }
        guard let tokenizer = loaded as? AddedTokensTokenizer else {
            notes.append("the tokenizer is not a SentencePiece model with added tokens; the GGUF has no tokenizer")
            return
        }
        var stops = tokenizer.eosTokenIds
        for id in config.eosTokenIds where !stops.contains(id) { stops.append(id) }
        let template: String?
        let padding: Int?
        do {
            template = try LoadedModel.directoryTemplate(directory)
            padding = try AddedTokensTokenizer.specialTokenContent("pad_token", directory: directory)
                .flatMap { tokenizer.tokenId(for: $0) }
        } catch {
            throw ConversionError("\(directory): cannot read the tokenizer: \(error)")
        }
        do {
            metadata = try tokenizer.sentencePieceGGUFMetadata(
                vocabularySize: vocabularySize, paddingTokenId: padding,
                endOfTurnTokenId: ChatFormat(template: nil, tokenizer: tokenizer).endOfTurnTokenId, stopTokenIds: stops)
        } catch {
            notes.append("the tokenizer is not carried into the GGUF: \(error.message)")
            return
        }
        if let template { metadata.append((GGUFTokenizerKey.chatTemplate, .string(template))) }
    }
}
