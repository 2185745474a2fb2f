import IQuestEngine
import IQuestTemplates

/// The fields `/api/chat` and `/api/generate` share: `options`, `format`, `think`, `stream`.
/// `keep_alive` is accepted and has no effect (the model stays loaded while the server runs).
struct OllamaCommon {
    var model: String?
    var sampling: SamplingParameters
    var maxTokens: Int?
    var stop: [String]
    var stream: Bool
    var think: Bool?
    /// `format`: "json" or a JSON Schema.
    var format: OutputFormat.Located?

    init(_ body: JSONObject, defaults: SamplingDefaults) throws(OpenAIError) {
        model = try body.string("model")
        stream = try body.bool("stream") ?? true
        var s = ChatTurn.defaultSampling(defaults)
        var stop: [String] = []
        if let o = try body.object("options") {
            if let t = try o.number("temperature", in: 0...2) { s.temperature = Float(t) }
            if let k = try o.int("top_k", in: 0...1_000_000) { s.topK = k }
            if let p = try o.number("top_p", in: 0...1) { s.topP = p > 0 ? Float(p) : 1 }
            if let m = try o.number("min_p", in: 0...1) { s.minP = Float(m) }
            if let r = try o.number("repeat_penalty", in: 0...10) { s.repetitionPenalty = r > 0 ? Float(r) : 1 }
            if let p = try o.number("presence_penalty", in: -2...2) { s.presencePenalty = Float(p) }
            if let f = try o.number("frequency_penalty", in: -2...2) { s.frequencyPenalty = Float(f) }
            if let seed = try o.int("seed", in: Int.min...Int.max) { s.seed = UInt64(bitPattern: Int64(seed)) }
            stop = try o.stringOrStrings("stop", limit: 16)
            // -1: no limit; -2: fill the context. Both mean "what the context has left" here.
            if let n = try o.int("num_predict", in: -2...Int(Int32.max)), n > 0 { maxTokens = n }
            // num_ctx is accepted: the context is the server's, fixed at load time.
        }
        sampling = s
        self.stop = stop
        switch body.value("format") {
        case nil, .string("")?: format = nil
        case .string("json")?: format = (.jsonObject, "format")
        case .dictionary(let d)?: format = (.jsonSchema(jsonValue(.dictionary(d))), "format")
        default:
            throw .invalid("'format' must be \"json\" or a JSON Schema object", param: "format")
        }
        switch body.value("think") {
        case nil: think = nil
        case .bool(let b)?: think = b
        case .string(let level)?: think = level != "none" && level != "false"
        default: throw .invalid("'think' must be a boolean or a level (low, medium, high)", param: "think")
        }
    }

    func apply(to turn: inout ChatTurn) {
        turn.sampling = sampling
        turn.maxTokens = maxTokens
        turn.stop = stop
        if let think { turn.templateOptions["enable_thinking"] = .bool(think) }
        turn.format = format
    }
}

/// A validated `POST /api/chat` body.
struct OllamaChatRequest {
    var common: OllamaCommon
    var turn: ChatTurn

    init(_ body: JSONObject, defaults: SamplingDefaults) throws(OpenAIError) {
        common = try OllamaCommon(body, defaults: defaults)
        guard let raw = try body.array("messages") else { throw .invalid("'messages' is required", param: "messages") }
        var messages: [TemplateValue] = []
        for (i, value) in raw.enumerated() {
            let m = try JSONObject(value, path: "messages[\(i)]")
            guard let role = try m.string("role"), ["system", "user", "assistant", "tool"].contains(role) else {
                throw .invalid("'\(m.name("role"))' must be system, user, assistant or tool", param: m.name("role"))
            }
            if try m.array("images").map({ !$0.isEmpty }) == true {
                throw .invalid("'\(m.name("images"))': this model reads text only", param: m.name("images"))
            }
            var extra: [(String, TemplateValue)] = []
            if let thinking = try m.string("thinking"), !thinking.isEmpty { extra.append(("reasoning_content", .string(thinking))) }
            if let calls = try m.array("tool_calls") {
                var normalized: [TemplateValue] = []
                for (j, c) in calls.enumerated() {
                    let call = try JSONObject(c, path: m.name("tool_calls[\(j)]"))
                    guard let function = try call.object("function"), let name = try function.string("name") else {
                        throw .invalid("'\(call.name("function.name"))' is required", param: call.name("function.name"))
                    }
                    var f = TemplateDictionary()
                    f["name"] = .string(name)
                    f["arguments"] = function.value("arguments") ?? .dictionary(TemplateDictionary())
                    var out = TemplateDictionary()
                    out["id"] = .string(try call.string("id") ?? "call_\(i)_\(j)")
                    out["type"] = .string("function")
                    out["function"] = .dictionary(f)
                    normalized.append(.dictionary(out))
                }
                extra.append(("tool_calls", .array(normalized)))
            }
            if role == "tool", let name = try m.string("tool_name") { extra.append(("name", .string(name))) }
            messages.append(ChatTurn.message(role: role, content: try m.string("content") ?? "", extra: extra))
        }
        guard !messages.isEmpty else { throw .invalid("'messages' must not be empty", param: "messages") }
        turn = ChatTurn(messages: SystemMerge.merge(leading: [], messages: messages), sampling: common.sampling)
        var types: [String: [String: String]] = [:]
        var tools: [TemplateValue] = []
        for (i, raw) in (try body.array("tools") ?? []).enumerated() {
            let tool = try JSONObject(raw, path: "tools[\(i)]")
            guard let function = try tool.object("function"), let name = try function.string("name"), !name.isEmpty else {
                throw .invalid("'tools[\(i)].function.name' is required", param: "tools[\(i)].function.name")
            }
            types[name] = ChatTurn.parameterTypes(function.value("parameters"))
            tools.append(ChatTurn.functionTool(name: name, description: try function.string("description"),
                                               parameters: function.value("parameters")))
        }
        turn.tools = tools
        turn.parameterTypes = types
        common.apply(to: &turn)
    }
}

/// A validated `POST /api/generate` body.
struct OllamaGenerateRequest {
    var common: OllamaCommon
    var prompt: String
    var suffix: String?
    var system: String?
    var raw: Bool

    init(_ body: JSONObject, defaults: SamplingDefaults) throws(OpenAIError) {
        common = try OllamaCommon(body, defaults: defaults)
        prompt = try body.string("prompt") ?? ""
        suffix = try body.string("suffix")
        system = try body.string("system")
        raw = try body.bool("raw") ?? false
        if try body.array("images").map({ !$0.isEmpty }) == true {
            throw .invalid("'images': this model reads text only", param: "images")
        }
        if try body.string("template") != nil {
            throw .invalid("'template' is not supported: the checkpoint's chat template is used (or send 'raw': true)", param: "template")
        }
    }
}
