import Foundation

extension AddedTokensTokenizer {
    /// The tokenizer of a Hugging Face checkpoint directory.
    ///
    /// - `tokenizer.model` when present (SentencePiece, wrapped with the added tokens of
    ///   `tokenizer_config.json`'s `added_tokens_decoder` and of `added_tokens.json`, split by the rule
    ///   of HF's slow tokenizers: see `AddedTokensTokenizer`); otherwise `tokenizer.json`.
    /// - `add_bos_token` / `add_eos_token` from `tokenizer_config.json` (defaults for a
    ///   `tokenizer.model`: true and false, as HF's LlamaTokenizer; for a `tokenizer.json`: its
    ///   post-processor).
    /// - `bos_token` / `eos_token` (a string or `{"content": ...}`) from `tokenizer_config.json`, else
    ///   `special_tokens_map.json`, else the model's own.
    /// - Stop ids: `generation_config.json`'s `eos_token_id` (an id or a list) when present, plus the
    ///   EOS token.
    /// - Special added tokens: those marked `special` in `added_tokens_decoder`; entries of
    ///   `added_tokens.json` are special when named in `special_tokens_map.json` or in the config's
    ///   special-token fields.
    public static func load(directory: String) throws(TokenizerLoadError) -> any Tokenizer {
        let dir = URL(fileURLWithPath: directory)
        func path(_ name: String) -> String? {
            let p = dir.appendingPathComponent(name).path
            return FileManager.default.fileExists(atPath: p) ? p : nil
        }
        let config = try path("tokenizer_config.json").map { p throws(TokenizerLoadError) in try JSONFile(path: p) }
        let specialMap = try path("special_tokens_map.json").map { p throws(TokenizerLoadError) in try JSONFile(path: p) }
        let generation = try path("generation_config.json").map { p throws(TokenizerLoadError) in try JSONFile(path: p) }

        let specialKeys = ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"]
        var specialContents = Set<String>()
        for file in [config, specialMap].compactMap({ $0 }) {
            for key in specialKeys { if let c = try file.tokenContent(key) { specialContents.insert(c) } }
            if let list = try file.array("additional_special_tokens") {
                for (i, item) in list.enumerated() {
                    if let s = item as? String { specialContents.insert(s) }
                    else if let o = item as? [String: Any], let s = o["content"] as? String { specialContents.insert(s) }
                    else { throw file.fail("'additional_special_tokens'[\(i)] is neither a string nor {content}.") }
                }
            }
        }

        func contentFor(_ key: String) throws(TokenizerLoadError) -> String? {
            if let c = try config?.tokenContent(key) { return c }
            return try specialMap?.tokenContent(key)
        }

        if let modelPath = path("tokenizer.model") {
            let base = try SentencePieceTokenizer(path: modelPath)
            var added: [AddedToken] = []
            if let config, let decoder = try config.object("added_tokens_decoder") {
                added += try addedTokensDecoder(decoder, file: config)
            }
            if let p = path("added_tokens.json") {
                let file = try JSONFile(path: p)
                for (content, value) in file.root.sorted(by: { $0.key < $1.key }) {
                    let id = try file.int(value, "the id of '\(content)'")
                    added.append(AddedToken(id: id, content: content, special: specialContents.contains(content)))
                }
            }
            // Resolve names against the added tokens first, then the SentencePiece vocabulary.
            let probe = try AddedTokensTokenizer(base: base, addedTokens: added, bosTokenId: nil, eosTokenIds: [],
                                                 addBOS: false, addEOS: false, source: directory)
            func id(_ key: String, file: String) throws(TokenizerLoadError) -> Int? {
                guard let content = try contentFor(key) else { return nil }
                guard let id = probe.tokenId(for: content) else {
                    throw TokenizerLoadError(file: file, "\(key) '\(content)' is neither an added token nor a piece of tokenizer.model.")
                }
                return id
            }
            let configName = config?.path ?? specialMap?.path ?? directory
            let bos = try id("bos_token", file: configName) ?? base.bosTokenId
            let eos = try id("eos_token", file: configName) ?? base.eosTokenIds.first
            let stops = try generation?.intList("eos_token_id") ?? eos.map { [$0] } ?? []
            return try AddedTokensTokenizer(
                base: base, addedTokens: added, bosTokenId: bos, eosTokenId: eos, eosTokenIds: stops,
                addBOS: try config?.bool("add_bos_token") ?? true, addEOS: try config?.bool("add_eos_token") ?? false,
                source: configName)
        }
        if let jsonPath = path("tokenizer.json") {
            let json = try HFTokenizerJSON(path: jsonPath)
            let configName = config?.path ?? directory
            func id(_ key: String) throws(TokenizerLoadError) -> Int? {
                guard let content = try contentFor(key) else { return nil }
                guard let id = json.tokenId(for: content) else {
                    throw TokenizerLoadError(file: configName, "\(key) '\(content)' is not in tokenizer.json.")
                }
                return id
            }
            let eos = try id("eos_token")
            return try json.configured(
                bosTokenId: try id("bos_token"), eosTokenId: eos,
                eosTokenIds: try generation?.intList("eos_token_id"),
                addBOS: try config?.bool("add_bos_token"), addEOS: try config?.bool("add_eos_token"))
        }
        throw TokenizerLoadError(file: directory, "neither tokenizer.model nor tokenizer.json is in this directory.")
    }

    /// A special-token field (`pad_token`, ...) of `tokenizer_config.json`, else of
    /// `special_tokens_map.json`: its content, or nil when neither file names it.
    public static func specialTokenContent(_ key: String, directory: String) throws(TokenizerLoadError) -> String? {
        let dir = URL(fileURLWithPath: directory)
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let p = dir.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: p) else { continue }
            if let content = try JSONFile(path: p).tokenContent(key) { return content }
        }
        return nil
    }

    /// `added_tokens_decoder`: `{"<id>": {"content": ..., "special": ..., "lstrip": ..., ...}}`.
    static func addedTokensDecoder(_ decoder: [String: Any], file: JSONFile) throws(TokenizerLoadError) -> [AddedToken] {
        var out: [AddedToken] = []
        for (key, value) in decoder.sorted(by: { $0.key < $1.key }) {
            guard let id = Int(key) else { throw file.fail("added_tokens_decoder key '\(key)' is not an id.") }
            guard let entry = value as? [String: Any] else { throw file.fail("added_tokens_decoder['\(key)'] is not an object.") }
            let context = "added_tokens_decoder['\(key)']."
            guard let content = try file.string("content", in: entry, context: context) else {
                throw file.fail("added_tokens_decoder['\(key)'] has no 'content'.")
            }
            for flag in ["lstrip", "rstrip", "single_word"] where try file.bool(flag, in: entry, context: context) == true {
                throw file.fail("added token '\(content)' (\(id)) sets \(flag), which is not supported.")
            }
            out.append(AddedToken(id: id, content: content, special: try file.bool("special", in: entry, context: context) ?? false))
        }
        return out
    }
}
