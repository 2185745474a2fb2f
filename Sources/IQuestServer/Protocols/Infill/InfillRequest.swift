import IQuestEngine

/// A validated `POST /infill` body in llama-server's shape (what llama.vscode and llama.vim send).
/// Fields it has that change nothing here (cache_prompt, samplers, t_max_*, n_indent, id_slot)
/// are accepted and ignored.
struct InfillRequest {
    struct Extra { var filename: String; var text: String }

    var prefix: String
    var suffix: String
    var extra: [Extra]
    /// Text after the middle marker: the start of the middle the client already has.
    var prompt: String
    var sampling: SamplingParameters
    var maxTokens: Int?
    var stop: [String]
    var stream: Bool

    init(_ body: JSONObject, defaults: SamplingDefaults) throws(OpenAIError) {
        prefix = try body.string("input_prefix") ?? ""
        suffix = try body.string("input_suffix") ?? ""
        prompt = try body.string("prompt") ?? ""
        var extra: [Extra] = []
        for (i, raw) in (try body.array("input_extra") ?? []).enumerated() {
            let chunk = try JSONObject(raw, path: "input_extra[\(i)]")
            guard let text = try chunk.string("text") else {
                throw .invalid("'input_extra[\(i)].text' is required", param: "input_extra[\(i)].text")
            }
            extra.append(Extra(filename: try chunk.string("filename") ?? "", text: text))
        }
        self.extra = extra
        var s = ChatTurn.defaultSampling(defaults)
        if let t = try body.number("temperature", in: 0...2) { s.temperature = Float(t) }
        if let k = try body.int("top_k", in: 0...1_000_000) { s.topK = k }
        if let p = try body.number("top_p", in: 0...1) { s.topP = p > 0 ? Float(p) : 1 }
        if let m = try body.number("min_p", in: 0...1) { s.minP = Float(m) }
        if let r = try body.number("repeat_penalty", in: 0...10) { s.repetitionPenalty = r > 0 ? Float(r) : 1 }
        if let seed = try body.int("seed", in: Int.min...Int.max), seed >= 0 { s.seed = UInt64(seed) }
        sampling = s
        // llama-server: -1 is "until the context ends".
        if let n = try body.int("n_predict", in: -1...Int(Int32.max)), n > 0 { maxTokens = n }
        stop = try body.stringOrStrings("stop", limit: 16)
        stream = try body.bool("stream") ?? false
    }

    /// The prompt text, laid out as llama-server's `format_infill` does: the extra files as
    /// repository context (`<|repo_name|>myproject\n<|file_sep|>name\ntext…<|file_sep|>filename\n`)
    /// when the vocabulary has those markers, else joined with snippet separators; then
    /// prefix-suffix-middle, then `prompt`.
    func text(_ fim: FIMTokens) -> String {
        var context = ""
        if let repo = fim.repoName, fim.fileSeparator != nil { context += repo + "myproject\n" }
        for chunk in extra {
            if let sep = fim.fileSeparator {
                context += sep + chunk.filename + "\n"
            } else {
                context += "\n\n--- snippet ---\n\n"
            }
            context += chunk.text
        }
        if let sep = fim.fileSeparator, !extra.isEmpty { context += sep + "filename\n" }
        return context + fim.prompt(prefix: prefix, suffix: suffix) + prompt
    }
}
