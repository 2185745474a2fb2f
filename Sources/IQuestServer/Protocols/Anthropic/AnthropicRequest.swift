import IQuestEngine
import IQuestTemplates

/// A validated `POST /v1/messages` body (Anthropic Messages), translated to a `ChatTurn`.
/// Unknown fields (metadata, cache_control, service_tier, container, …) are ignored.
struct AnthropicRequest {
    var model: String?
    var turn: ChatTurn
    var stream: Bool

    /// The prefix of the system block Claude Code sends with a per-request nonce. It is kept out
    /// of the prompt: with it every prompt differs in its first tokens and misses the prefix cache.
    static let billingHeaderPrefix = "x-anthropic-billing-header:"

    /// `countOnly`: `/v1/messages/count_tokens`, where `max_tokens` is not required.
    init(_ body: JSONObject, defaults: SamplingDefaults, countOnly: Bool = false) throws(OpenAIError) {
        model = try body.string("model")
        guard let rawMessages = try body.array("messages") else {
            throw .invalid("'messages' is required", param: "messages")
        }
        guard !rawMessages.isEmpty else { throw .invalid("'messages' must not be empty", param: "messages") }
        var messages: [TemplateValue] = []
        for (i, raw) in rawMessages.enumerated() {
            messages += try Self.messages(JSONObject(raw, path: "messages[\(i)]"))
        }
        let system = try Self.systemTexts(body)
        turn = ChatTurn(messages: SystemMerge.merge(leading: system, messages: messages), sampling: ChatTurn.defaultSampling(defaults))

        var types: [String: [String: String]] = [:]
        var tools: [TemplateValue] = []
        for (i, raw) in (try body.array("tools") ?? []).enumerated() {
            let tool = try JSONObject(raw, path: "tools[\(i)]")
            // Server tools (web_search, bash_…, text_editor_…) have a type and no input_schema: the
            // model cannot run them, so they are left out rather than refused.
            if let kind = try tool.string("type"), kind != "custom" { continue }
            guard let name = try tool.string("name"), !name.isEmpty else {
                throw .invalid("'tools[\(i)].name' is required", param: "tools[\(i)].name")
            }
            let schema = tool.value("input_schema")
            types[name] = ChatTurn.parameterTypes(schema)
            tools.append(ChatTurn.functionTool(name: name, description: try tool.string("description"), parameters: schema))
        }
        if let choice = try body.object("tool_choice") {
            switch try choice.string("type") {
            case "auto"?, "any"?: break
            case "none"?: turn.toolsEnabled = false
            case "tool"?:
                guard let name = try choice.string("name"), types[name] != nil else {
                    throw .invalid("'tool_choice.name' must name a tool in 'tools'", param: "tool_choice.name")
                }
                // A named choice offers the model only that tool.
                tools = tools.filter { Self.toolName($0) == name }
            default:
                throw .invalid("'tool_choice.type' must be 'auto', 'any', 'tool' or 'none'", param: "tool_choice.type")
            }
        }
        turn.tools = tools
        turn.parameterTypes = types

        if let thinking = try body.object("thinking") {
            switch try thinking.string("type") {
            case "enabled"?, "adaptive"?: turn.templateOptions["enable_thinking"] = .bool(true)
            case "disabled"?: turn.templateOptions["enable_thinking"] = .bool(false)
            default: throw .invalid("'thinking.type' must be 'enabled', 'adaptive' or 'disabled'", param: "thinking.type")
            }
        }

        let maxTokens = try body.int("max_tokens", in: 1...Int(Int32.max))
        if maxTokens == nil && !countOnly { throw .invalid("'max_tokens' is required", param: "max_tokens") }
        turn.maxTokens = maxTokens
        // Anthropic's temperature range is 0…1; values arriving are honoured, absent ones leave
        // the model's recommended sampling (the anthropic SDK 2.x sends none).
        if let t = try body.number("temperature", in: 0...1) { turn.sampling.temperature = Float(t) }
        if let p = try body.number("top_p", in: 0...1) {
            guard p > 0 else { throw .invalid("'top_p' must be greater than 0", param: "top_p") }
            turn.sampling.topP = Float(p)
        }
        if let k = try body.int("top_k", in: 0...1_000_000) { turn.sampling.topK = k }
        turn.stop = try body.stringOrStrings("stop_sequences", limit: 16)
        stream = try body.bool("stream") ?? false
    }

    private static func toolName(_ tool: TemplateValue) -> String? {
        if case .dictionary(let t) = tool, case .dictionary(let f)? = t["function"], case .string(let n)? = f["name"] { return n }
        return nil
    }

    /// `system`: a string or text blocks; the billing-header block is dropped.
    private static func systemTexts(_ body: JSONObject) throws(OpenAIError) -> [String] {
        guard let value = body.value("system") else { return [] }
        let texts = try textBlocks(value, path: "system")
        return texts.filter { !$0.hasPrefix(billingHeaderPrefix) }
    }

    /// A string, or an array of text blocks, as its texts.
    private static func textBlocks(_ value: TemplateValue, path: String) throws(OpenAIError) -> [String] {
        switch value {
        case .string(let s): return [s]
        case .array(let blocks):
            var out: [String] = []
            for (k, raw) in blocks.enumerated() {
                let block = try JSONObject(raw, path: "\(path)[\(k)]")
                guard try block.string("type") == "text", let text = try block.string("text") else {
                    throw .invalid("'\(block.path)' must be a text block ({\"type\": \"text\", \"text\": …}); this model reads text only",
                                   param: block.path)
                }
                out.append(text)
            }
            return out
        default:
            throw .invalid("'\(path)' must be a string or an array of text blocks", param: path)
        }
    }

    /// One Anthropic message as template messages: a user turn's tool_result blocks become
    /// `tool` messages (first, as they answer the previous assistant turn), its text a user
    /// message; an assistant turn's thinking, text and tool_use blocks one assistant message.
    private static func messages(_ m: JSONObject) throws(OpenAIError) -> [TemplateValue] {
        guard let role = try m.string("role") else { throw .invalid("'\(m.name("role"))' is required", param: m.name("role")) }
        guard ["user", "assistant", "system"].contains(role) else {
            throw .invalid("'\(m.name("role"))' is '\(role)'; expected user or assistant", param: m.name("role"))
        }
        guard let content = m.value("content") else {
            throw .invalid("'\(m.name("content"))' is required", param: m.name("content"))
        }
        if case .string(let s) = content { return [ChatTurn.message(role: role, content: s)] }
        guard case .array(let blocks) = content else {
            throw .invalid("'\(m.name("content"))' must be a string or an array of content blocks", param: m.name("content"))
        }
        var text = ""
        var reasoning = ""
        var toolCalls: [TemplateValue] = []
        var toolResults: [TemplateValue] = []
        for (k, raw) in blocks.enumerated() {
            let block = try JSONObject(raw, path: m.name("content[\(k)]"))
            switch try block.string("type") {
            case "text"?:
                text += try block.string("text") ?? ""
            case "thinking"? where role == "assistant":
                reasoning += try block.string("thinking") ?? ""
            case "redacted_thinking"? where role == "assistant":
                continue
            case "tool_use"? where role == "assistant":
                guard let id = try block.string("id"), let name = try block.string("name") else {
                    throw .invalid("'\(block.path)' needs 'id' and 'name'", param: block.path)
                }
                var f = TemplateDictionary()
                f["name"] = .string(name)
                f["arguments"] = block.value("input") ?? .dictionary(TemplateDictionary())
                var call = TemplateDictionary()
                call["id"] = .string(id)
                call["type"] = .string("function")
                call["function"] = .dictionary(f)
                toolCalls.append(.dictionary(call))
            case "tool_result"? where role == "user":
                guard let id = try block.string("tool_use_id") else {
                    throw .invalid("'\(block.name("tool_use_id"))' is required", param: block.name("tool_use_id"))
                }
                var result = ""
                if let v = block.value("content") { result = try textBlocks(v, path: block.name("content")).joined(separator: "\n") }
                if try block.bool("is_error") == true { result = "Error: " + result }
                toolResults.append(ChatTurn.message(role: "tool", content: result, extra: [("tool_call_id", .string(id))]))
            case let kind:
                throw .invalid("'\(block.path).type' is '\(kind ?? "missing")', which a \(role) message cannot hold here "
                               + "(text, thinking, tool_use and tool_result are read; this model reads text only)",
                               param: block.name("type"))
            }
        }
        if role != "assistant" {
            return toolResults + (text.isEmpty && !toolResults.isEmpty ? [] : [ChatTurn.message(role: role, content: text)])
        }
        var extra: [(String, TemplateValue)] = []
        if !reasoning.isEmpty { extra.append(("reasoning_content", .string(reasoning))) }
        if !toolCalls.isEmpty { extra.append(("tool_calls", .array(toolCalls))) }
        return [ChatTurn.message(role: "assistant", content: text, extra: extra)]
    }
}
