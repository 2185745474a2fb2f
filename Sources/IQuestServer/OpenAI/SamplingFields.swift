import IQuestEngine

/// The request fields shared by `/v1/chat/completions` and `/v1/completions`.
struct SamplingFields {
    var sampling: SamplingParameters
    var maxTokens: Int?
    var stop: [String]
    var stream: Bool
    var includeUsage: Bool
    var n: Int
    var user: String?
    /// vLLM's and llama.cpp's extension: keep going past the model's stop tokens.
    var ignoreEOS: Bool
    /// Extension: speculative decoding for this request (`SpeculativeField`); nil = the server's.
    var speculative: SpeculativeOptions?

    /// OpenAI's defaults (temperature 1, top_p 1, no top-k/min-p), replaced by the model's own
    /// defaults, replaced by what the request says.
    init(_ body: JSONObject, defaults: SamplingDefaults, maxTokensKeys: [String]) throws(OpenAIError) {
        var s = ChatTurn.defaultSampling(defaults)
        if let t = try body.number("temperature", in: 0...2) { s.temperature = Float(t) }
        if let p = try body.number("top_p", in: 0...1) {
            guard p > 0 else { throw .invalid("'top_p' must be greater than 0", param: "top_p") }
            s.topP = Float(p)
        }
        // vLLM takes -1 for "off" as well as 0.
        if let k = try body.int("top_k", in: -1...1_000_000) { s.topK = max(0, k) }
        if let m = try body.number("min_p", in: 0...1) { s.minP = Float(m) }
        if let p = try body.number("presence_penalty", in: -2...2) { s.presencePenalty = Float(p) }
        if let f = try body.number("frequency_penalty", in: -2...2) { s.frequencyPenalty = Float(f) }
        if let r = try body.number("repetition_penalty", in: 0...10) {
            guard r > 0 else { throw .invalid("'repetition_penalty' must be greater than 0", param: "repetition_penalty") }
            s.repetitionPenalty = Float(r)
        }
        if let seed = try body.int("seed", in: Int.min...Int.max) { s.seed = UInt64(bitPattern: Int64(seed)) }
        sampling = s

        var maxTokens: Int?
        for key in maxTokensKeys {
            if let m = try body.int(key, in: 1...Int(Int32.max)) { maxTokens = m }
        }
        self.maxTokens = maxTokens
        stop = try body.stringOrStrings("stop", limit: 16)
        stream = try body.bool("stream") ?? false
        includeUsage = try body.object("stream_options")?.bool("include_usage") ?? false
        n = try body.int("n", in: 1...16) ?? 1
        user = try body.string("user")
        ignoreEOS = try body.bool("ignore_eos") ?? false
        speculative = try SpeculativeField.parse(body)
    }
}
