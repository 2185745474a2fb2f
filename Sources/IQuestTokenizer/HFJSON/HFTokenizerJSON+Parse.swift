import Foundation

extension HFTokenizerJSON {
    /// The Split regexes of Llama 3 and Qwen2 tokenizer.json files, as they are written there.
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let bosContents = ["<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"]
    static let eosContents = ["</s>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|eom_id|>", "<eos>", "<|end|>", "<end_of_turn>"]

    init(file: JSONFile) throws(TokenizerLoadError) {
        guard let model = try file.object("model") else { throw file.fail("there is no 'model'.") }
        let modelType = (model["type"] as? String) ?? "BPE"
        guard modelType == "BPE" else { throw file.fail("model type '\(modelType)' is not supported; only BPE is.") }
        if let d = model["dropout"], !JSONFile.isNull(d), (d as? Double) != 0 {
            throw file.fail("BPE dropout is not supported.")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[key] as? String, !s.isEmpty { throw file.fail("BPE '\(key)' ('\(s)') is not supported.") }
        }
        // Vocabulary: ids must be exactly 0..<n.
        guard let vocab = model["vocab"] as? [String: Any] else { throw file.fail("model.vocab is not an object.") }
        var tokens = [String?](repeating: nil, count: vocab.count)
        var ids: [String: Int] = [:]
        for (token, value) in vocab {
            let id = try file.int(value, "model.vocab['\(token)']")
            guard (0..<vocab.count).contains(id) else {
                throw file.fail("model.vocab ids must be 0..<\(vocab.count); '\(token)' has \(id).")
            }
            if let other = tokens[id] { throw file.fail("model.vocab gives id \(id) to both '\(other)' and '\(token)'.") }
            tokens[id] = token
            ids[token] = id
        }
        let modelTokens = tokens.compactMap { $0 }
        let merges = try Self.parseMerges(model["merges"], file: file)

        let added = try Self.parseAddedTokens(file: file)
        let normalizers = try HFNormalizer.parse(file.root["normalizer"], file: file)
        if !normalizers.isEmpty, let t = added.normalized.first {
            throw file.fail("added token '\(t)' is marked normalized, which is not supported together with a normalizer.")
        }
        let decoders = try HFDecoder.parse(file.root["decoder"], file: file)
        let (prefix, suffix) = try Self.parsePostProcessor(file.root["post_processor"], file: file)
        let fuseUnk = (model["fuse_unk"] as? Bool) ?? false
        let byteFallback = (model["byte_fallback"] as? Bool) ?? false
        let ignoreMerges = (model["ignore_merges"] as? Bool) ?? false
        var unkId: Int?
        if let unk = model["unk_token"] as? String {
            guard let id = ids[unk] else { throw file.fail("model.unk_token '\(unk)' is not in model.vocab.") }
            unkId = id
        }

        let backend: Backend
        let pre = file.root["pre_tokenizer"]
        if let name = try Self.byteLevelPreTokenizer(pre, ignoreMerges: ignoreMerges, file: file) {
            guard normalizers.isEmpty else { throw file.fail("a normalizer with a ByteLevel pre-tokenizer is not supported.") }
            guard !byteFallback else { throw file.fail("byte_fallback with a ByteLevel pre-tokenizer is not supported.") }
            do {
                let mergeStrings = merges.map { "\($0.0) \($0.1)" }
                backend = .byteLevel(try ByteLevelBPETokenizer(tokens: modelTokens, merges: mergeStrings,
                                                                preTokenizer: name, addBOS: false))
            } catch {
                throw file.fail("byte-level BPE: \(error)")
            }
        } else {
            var metaspace: HFMetaspace?
            if !JSONFile.isNull(pre) {
                guard let o = pre as? [String: Any], o["type"] as? String == "Metaspace" else {
                    throw file.fail("pre_tokenizer \(Self.describe(pre)) is not supported (supported: ByteLevel forms, Metaspace, none).")
                }
                let (replacement, scheme) = try HFDecoder.metaspaceOptions(o, file: file, what: "Metaspace pre-tokenizer")
                metaspace = HFMetaspace(replacement: replacement, prepend: scheme, split: (o["split"] as? Bool) ?? true)
            }
            var table: [HFBPEModel.PairKey: (rank: Int, id: Int)] = [:]
            for (rank, (a, b)) in merges.enumerated() {
                guard let l = ids[a], let r = ids[b], let m = ids[a + b] else {
                    throw file.fail("merge \(rank) ('\(a)' '\(b)') uses or makes a token missing from model.vocab.")
                }
                let key = HFBPEModel.PairKey(left: l, right: r)
                if table[key] == nil { table[key] = (rank, m) }
            }
            let bpe = HFBPEModel(vocab: ids, tokens: modelTokens, merges: table, unkId: unkId, fuseUnk: fuseUnk,
                                 byteFallback: byteFallback, ignoreMerges: ignoreMerges)
            backend = .metaspace(bpe, normalizers: normalizers, preTokenizer: metaspace)
        }

        let specials = added.tokens.filter(\.special)
        let bos = prefix.first ?? Self.bosContents.lazy.compactMap { c in specials.first { $0.content == c }?.id }.first
        var eos = suffix
        for t in specials.sorted(by: { $0.id < $1.id }) where Self.eosContents.contains(t.content) && !eos.contains(t.id) {
            eos.append(t.id)
        }
        self.init(backend: backend, decoders: decoders, modelTokens: modelTokens, modelIds: ids, addedTokens: added.tokens,
                  bosTokenId: bos, eosTokenIds: eos, prefixIds: prefix, suffixIds: suffix)
    }

    static func describe(_ value: Any?) -> String {
        guard let o = value as? [String: Any] else { return "(malformed)" }
        return "'\(o["type"] as? String ?? "?")'"
    }

    static func parseMerges(_ value: Any?, file: JSONFile) throws(TokenizerLoadError) -> [(String, String)] {
        if JSONFile.isNull(value) { return [] }
        guard let list = value as? [Any] else { throw file.fail("model.merges is not an array.") }
        var out: [(String, String)] = []
        out.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            if let s = item as? String {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw file.fail("merge \(i) ('\(s)') is not two tokens separated by one space.")
                }
                out.append((String(parts[0]), String(parts[1])))
            } else if let pair = item as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                out.append((a, b))
            } else {
                throw file.fail("merge \(i) is neither \"a b\" nor [\"a\", \"b\"].")
            }
        }
        return out
    }

    static func parseAddedTokens(file: JSONFile) throws(TokenizerLoadError) -> (tokens: [AddedToken], normalized: [String]) {
        guard let list = try file.array("added_tokens") else { return ([], []) }
        var tokens: [AddedToken] = []
        var normalized: [String] = []
        for (i, item) in list.enumerated() {
            guard let o = item as? [String: Any] else { throw file.fail("added_tokens[\(i)] is not an object.") }
            let context = "added_tokens[\(i)]."
            guard let content = try file.string("content", in: o, context: context), !content.isEmpty else {
                throw file.fail("added_tokens[\(i)] has no content.")
            }
            let id = try file.int(o["id"], "added_tokens[\(i)].id")
            guard id >= 0 else { throw file.fail("added token '\(content)' has negative id \(id).") }
            for flag in ["lstrip", "rstrip", "single_word"] where try file.bool(flag, in: o, context: context) == true {
                throw file.fail("added token '\(content)' (\(id)) sets \(flag), which is not supported.")
            }
            let special = try file.bool("special", in: o, context: context) ?? false
            if try file.bool("normalized", in: o, context: context) ?? !special { normalized.append(content) }
            tokens.append(AddedToken(id: id, content: content, special: special))
        }
        return (tokens, normalized)
    }

    /// The `ByteLevelBPETokenizer` pre-tokenizer name for a byte-level `pre_tokenizer`, nil when it
    /// has no ByteLevel step; an error for ByteLevel forms that match no supported regex set.
    static func byteLevelPreTokenizer(_ value: Any?, ignoreMerges: Bool, file: JSONFile) throws(TokenizerLoadError) -> String? {
        guard let o = value as? [String: Any], let type = o["type"] as? String else { return nil }
        func byteLevel(_ o: [String: Any]) throws(TokenizerLoadError) -> Bool? {
            guard o["type"] as? String == "ByteLevel" else { return nil }
            if (o["add_prefix_space"] as? Bool) == true { throw file.fail("ByteLevel add_prefix_space is not supported.") }
            return (o["use_regex"] as? Bool) ?? true
        }
        let steps: [[String: Any]]
        if type == "Sequence" {
            guard let list = o["pretokenizers"] as? [[String: Any]] else { throw file.fail("Sequence pre-tokenizer has no 'pretokenizers' list.") }
            steps = list
        } else {
            steps = [o]
        }
        guard let last = steps.last, let useRegex = try byteLevel(last) else {
            if steps.contains(where: { $0["type"] as? String == "ByteLevel" }) {
                throw file.fail("pre_tokenizer: ByteLevel must be the last step.")
            }
            return nil
        }
        let head = steps.dropLast()
        let unsupported = "pre_tokenizer \(steps.map { describe($0) }.joined(separator: " + ")) matches none of the supported byte-level forms (ByteLevel with the GPT-2 regex; Digits(individual) + ByteLevel; the Llama 3 or Qwen2 Split + ByteLevel(use_regex: false))."
        switch (head.count, useRegex) {
        case (0, true):
            guard !ignoreMerges else { throw file.fail("ignore_merges with the GPT-2 regex is not supported.") }
            return "gpt-2"
        case (1, true):
            let d = head[head.startIndex]
            guard d["type"] as? String == "Digits", d["individual_digits"] as? Bool == true, !ignoreMerges else { throw file.fail(unsupported) }
            return "starcoder"
        case (1, false):
            let s = head[head.startIndex]
            guard s["type"] as? String == "Split", let regex = (s["pattern"] as? [String: Any])?["Regex"] as? String,
                  (s["behavior"] as? String) == "Isolated", (s["invert"] as? Bool ?? false) == false else { throw file.fail(unsupported) }
            if regex == llama3Regex { return ignoreMerges ? "llama3" : "dbrx" }
            if regex == qwen2Regex, !ignoreMerges { return "qwen2" }
            throw file.fail("Split regex \(regex.debugDescription) (ignore_merges \(ignoreMerges)) is not one of the supported regex sets (Llama 3, Qwen2).")
        default:
            throw file.fail(unsupported)
        }
    }

    /// Ids TemplateProcessing puts before and after a single sequence.
    static func parsePostProcessor(_ value: Any?, file: JSONFile) throws(TokenizerLoadError) -> ([Int], [Int]) {
        if JSONFile.isNull(value) { return ([], []) }
        guard let o = value as? [String: Any], let type = o["type"] as? String else {
            throw file.fail("'post_processor' is not an object with a 'type'.")
        }
        switch type {
        case "ByteLevel":
            return ([], [])
        case "Sequence":
            guard let list = o["processors"] as? [Any] else { throw file.fail("Sequence post-processor has no 'processors'.") }
            var prefix: [Int] = [], suffix: [Int] = []
            for item in list {
                let (p, s) = try parsePostProcessor(item, file: file)
                prefix += p
                suffix += s
            }
            return (prefix, suffix)
        case "TemplateProcessing":
            guard let single = o["single"] as? [[String: Any]] else { throw file.fail("TemplateProcessing has no 'single' list.") }
            let specialTokens = o["special_tokens"] as? [String: Any] ?? [:]
            var prefix: [Int] = [], suffix: [Int] = []
            var seenSequence = false
            for item in single {
                if item["Sequence"] != nil {
                    seenSequence = true
                } else if let st = item["SpecialToken"] as? [String: Any], let name = st["id"] as? String {
                    guard let entry = specialTokens[name] as? [String: Any], let idList = entry["ids"] as? [Any] else {
                        throw file.fail("TemplateProcessing names '\(name)', which is not in its special_tokens.")
                    }
                    var idsOut: [Int] = []
                    for v in idList { idsOut.append(try file.int(v, "special_tokens['\(name)'].ids")) }
                    if seenSequence { suffix += idsOut } else { prefix += idsOut }
                } else {
                    throw file.fail("TemplateProcessing 'single' item is neither a Sequence nor a SpecialToken.")
                }
            }
            return (prefix, suffix)
        default:
            throw file.fail("post_processor '\(type)' is not supported (supported: TemplateProcessing, ByteLevel, Sequence).")
        }
    }
}
