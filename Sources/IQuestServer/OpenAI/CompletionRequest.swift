import IQuestTemplates

/// A validated `POST /v1/completions` body.
struct CompletionRequest {
    enum Prompt {
        case text(String)
        case ids([Int])
    }

    var model: String?
    /// One or more prompts; each gets `n` choices.
    var prompts: [Prompt]
    var suffix: String?
    var echo: Bool
    /// Number of alternatives per position (`logprobs` in the legacy API), nil = none.
    var logprobs: Int?
    var fields: SamplingFields
    var format: OutputFormat.Located?
    var logitBias: [Int: Float]

    init(_ body: JSONObject, defaults: SamplingDefaults) throws(OpenAIError) {
        model = try body.string("model")
        guard let raw = body.value("prompt") else { throw .invalid("'prompt' is required", param: "prompt") }
        prompts = try Self.prompts(raw)
        guard !prompts.isEmpty else { throw .invalid("'prompt' must not be empty", param: "prompt") }
        suffix = try body.string("suffix")
        echo = try body.bool("echo") ?? false
        logprobs = try body.int("logprobs", in: 0...20)
        fields = try SamplingFields(body, defaults: defaults, maxTokensKeys: ["max_tokens"])
        // The legacy endpoint's own default is 16 tokens.
        if fields.maxTokens == nil { fields.maxTokens = 16 }
        format = try OutputFormat.fromChatOrCompletion(body)
        logitBias = try IQuestServer.logitBias(body)
    }

    /// A string, an array of strings, an array of token ids, or an array of id arrays.
    private static func prompts(_ raw: TemplateValue) throws(OpenAIError) -> [Prompt] {
        let shape = "'prompt' must be a string, an array of strings, an array of token ids or an array of such arrays"
        switch raw {
        case .string(let s): return [.text(s)]
        case .array(let items):
            if items.isEmpty { return [] }
            if case .int = items[0] { return [.ids(try ids(items))] }
            var out: [Prompt] = []
            for item in items {
                switch item {
                case .string(let s): out.append(.text(s))
                case .array(let inner): out.append(.ids(try ids(inner)))
                default: throw .invalid(shape, param: "prompt")
                }
            }
            return out
        default:
            throw .invalid(shape, param: "prompt")
        }
    }

    private static func ids(_ items: [TemplateValue]) throws(OpenAIError) -> [Int] {
        var out: [Int] = []
        for item in items {
            guard case .int(let id) = item else {
                throw .invalid("'prompt' token arrays must hold integers only", param: "prompt")
            }
            out.append(id)
        }
        return out
    }
}
