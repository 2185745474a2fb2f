import IQuestConstraints
import IQuestTemplates

/// A validated `POST /v1/chat/completions` body.
struct ChatRequest {
    enum ToolChoice: Equatable {
        case none, auto, required
        case function(String)
    }

    var model: String?
    /// Messages as the chat template receives them (content flattened to a string; assistant
    /// tool-call arguments parsed back into objects, as vLLM hands them to templates).
    var messages: [TemplateValue]
    var tools: [TemplateValue]
    var toolChoice: ToolChoice
    /// Function name → parameter name → JSON-schema type, for typing XML tool-call values.
    var parameterTypes: [String: [String: String]]
    var templateOptions: [String: TemplateValue]
    var fields: SamplingFields
    var logprobs: Bool
    var topLogprobs: Int
    var format: OutputFormat.Located?
    var logitBias: [Int: Float]

    static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool"]

    init(_ body: JSONObject, defaults: SamplingDefaults) throws(OpenAIError) {
        model = try body.string("model")
        guard let rawMessages = try body.array("messages") else {
            throw .invalid("'messages' is required", param: "messages")
        }
        guard !rawMessages.isEmpty else { throw .invalid("'messages' must not be empty", param: "messages") }
        var messages: [TemplateValue] = []
        for (i, raw) in rawMessages.enumerated() {
            messages.append(try Self.message(JSONObject(raw, path: "messages[\(i)]")))
        }
        self.messages = messages

        var tools: [TemplateValue] = []
        var types: [String: [String: String]] = [:]
        for (i, raw) in (try body.array("tools") ?? []).enumerated() {
            let tool = try JSONObject(raw, path: "tools[\(i)]")
            let kind = try tool.string("type") ?? "function"
            guard kind == "function" else {
                throw .invalid("'tools[\(i)].type' must be 'function'", param: "tools[\(i)].type")
            }
            guard let function = try tool.object("function"), let name = try function.string("name"), !name.isEmpty else {
                throw .invalid("'tools[\(i)].function.name' is required", param: "tools[\(i)].function.name")
            }
            types[name] = ChatTurn.parameterTypes(function.value("parameters"))
            tools.append(raw)
        }
        parameterTypes = types

        switch body.value("tool_choice") {
        case nil: toolChoice = tools.isEmpty ? .none : .auto
        case .string("none")?: toolChoice = .none
        case .string("auto")?: toolChoice = .auto
        case .string("required")?: toolChoice = .required
        case let v?:
            let choice = try JSONObject(v, path: "tool_choice")
            guard let name = try choice.object("function")?.string("name") else {
                throw .invalid("'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": …}}",
                               param: "tool_choice")
            }
            guard types[name] != nil else {
                throw .invalid("'tool_choice' names the function '\(name)', which is not in 'tools'", param: "tool_choice")
            }
            toolChoice = .function(name)
        }
        if toolChoice != .none && tools.isEmpty {
            throw .invalid("'tool_choice' needs 'tools'", param: "tool_choice")
        }
        // A named choice offers the model only that function.
        if case .function(let name) = toolChoice {
            tools = tools.filter { tool in
                if case .dictionary(let t) = tool, case .dictionary(let f)? = t["function"], case .string(name)? = f["name"] {
                    return true
                }
                return false
            }
        }
        self.tools = tools

        var options: [String: TemplateValue] = [:]
        if let kwargs = try body.object("chat_template_kwargs") {
            for (key, value) in kwargs.fields.pairs { options[key] = value }
        }
        templateOptions = options
        fields = try SamplingFields(body, defaults: defaults, maxTokensKeys: ["max_tokens", "max_completion_tokens"])
        logprobs = try body.bool("logprobs") ?? false
        topLogprobs = try body.int("top_logprobs", in: 0...20) ?? 0
        if topLogprobs > 0 && !logprobs {
            throw .invalid("'top_logprobs' needs 'logprobs': true", param: "top_logprobs")
        }
        format = try OutputFormat.fromChatOrCompletion(body)
        logitBias = try IQuestServer.logitBias(body)
    }

    /// tool_choice required or named: the tools the answer must call, with their parameter
    /// schemas (no parameters: an object with any members).
    var forcedTools: [(name: String, parameters: JSONValue)]? {
        switch toolChoice {
        case .none, .auto: return nil
        case .required, .function:
            return tools.compactMap { tool in
                guard case .dictionary(let t) = tool, case .dictionary(let f)? = t["function"], case .string(let name)? = f["name"] else { return nil }
                return (name, f["parameters"].map(jsonValue) ?? .object([("type", .string("object"))]))
            }
        }
    }

    /// tool_choice auto: the tools with `function.strict: true`, with their parameter schemas.
    var strictTools: [(name: String, parameters: JSONValue)]? {
        guard toolChoice == .auto else { return nil }
        let strict: [(name: String, parameters: JSONValue)] = tools.compactMap { tool in
            guard case .dictionary(let t) = tool, case .dictionary(let f)? = t["function"], case .string(let name)? = f["name"],
                  case .bool(true)? = f["strict"] else { return nil }
            return (name, f["parameters"].map(jsonValue) ?? .object([("type", .string("object"))]))
        }
        return strict.isEmpty ? nil : strict
    }

    /// The engine-side request (the shared path every chat protocol takes).
    var turn: ChatTurn {
        var turn = ChatTurn(messages: messages, sampling: fields.sampling)
        turn.tools = tools
        turn.toolsEnabled = toolChoice != .none
        turn.parameterTypes = parameterTypes
        turn.templateOptions = templateOptions
        turn.maxTokens = fields.maxTokens
        turn.stop = fields.stop
        turn.ignoreEOS = fields.ignoreEOS
        turn.speculative = fields.speculative
        turn.logprobs = logprobs
        turn.topLogprobs = topLogprobs
        turn.format = format
        turn.logitBias = logitBias
        turn.forcedTools = forcedTools
        turn.strictTools = strictTools
        return turn
    }

    /// One message, checked and normalized for the template.
    private static func message(_ m: JSONObject) throws(OpenAIError) -> TemplateValue {
        guard let role = try m.string("role") else { throw .invalid("'\(m.name("role"))' is required", param: m.name("role")) }
        guard roles.contains(role) else {
            throw .invalid("'\(m.name("role"))' is '\(role)'; expected one of system, developer, user, assistant, tool",
                           param: m.name("role"))
        }
        var out = TemplateDictionary()
        out["role"] = .string(role == "developer" ? "system" : role)
        let content = try text(of: m)
        let toolCalls = try m.array("tool_calls")
        if content == nil && (role != "assistant" || toolCalls == nil) {
            throw .invalid("'\(m.name("content"))' is required", param: m.name("content"))
        }
        out["content"] = .string(content ?? "")
        if let name = try m.string("name") { out["name"] = .string(name) }
        if role == "tool" {
            guard let id = try m.string("tool_call_id") else {
                throw .invalid("'\(m.name("tool_call_id"))' is required for tool messages", param: m.name("tool_call_id"))
            }
            out["tool_call_id"] = .string(id)
        }
        if role == "assistant" {
            let reasoningContent = try m.string("reasoning_content")
            let reasoningAlias = try m.string("reasoning")
            if let reasoning = reasoningContent ?? reasoningAlias {
                out["reasoning_content"] = .string(reasoning)
            }
            if let calls = toolCalls {
                var normalized: [TemplateValue] = []
                for (j, raw) in calls.enumerated() {
                    normalized.append(try toolCall(JSONObject(raw, path: m.name("tool_calls[\(j)]"))))
                }
                out["tool_calls"] = .array(normalized)
            }
        }
        return .dictionary(out)
    }

    /// `content` as a string, or the concatenated text parts of an array.
    private static func text(of m: JSONObject) throws(OpenAIError) -> String? {
        guard let value = m.value("content") else { return nil }
        switch value {
        case .string(let s): return s
        case .array(let parts):
            var text = ""
            for (k, part) in parts.enumerated() {
                let p = try JSONObject(part, path: m.name("content[\(k)]"))
                guard try p.string("type") == "text", let t = try p.string("text") else {
                    throw .invalid("'\(p.path)' must be a text part ({\"type\": \"text\", \"text\": …}); this model reads text only",
                                   param: p.path)
                }
                text += t
            }
            return text
        default:
            throw .invalid("'\(m.name("content"))' must be a string or an array of text parts", param: m.name("content"))
        }
    }

    private static func toolCall(_ c: JSONObject) throws(OpenAIError) -> TemplateValue {
        guard let function = try c.object("function"), let name = try function.string("name") else {
            throw .invalid("'\(c.name("function.name"))' is required", param: c.name("function.name"))
        }
        var f = TemplateDictionary()
        f["name"] = .string(name)
        switch function.value("arguments") {
        case .string(let s)?:
            // Templates print arguments with `tojson`; give them the object, as vLLM does.
            if let parsed = try? TemplateValue(json: s), case .dictionary = parsed { f["arguments"] = parsed } else { f["arguments"] = .string(s) }
        case let v?: f["arguments"] = v
        case nil: f["arguments"] = .dictionary(TemplateDictionary())
        }
        var out = TemplateDictionary()
        if let id = try c.string("id") { out["id"] = .string(id) }
        out["type"] = .string("function")
        out["function"] = .dictionary(f)
        return .dictionary(out)
    }
}
