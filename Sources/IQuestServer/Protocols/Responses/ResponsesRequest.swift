import IQuestEngine
import IQuestTemplates

/// A validated `POST /v1/responses` body (OpenAI Responses, stateless), translated to a `ChatTurn`.
struct ResponsesRequest {
    var model: String?
    var turn: ChatTurn
    var stream: Bool
    /// Names of `custom` (free-form) tools: offered to the model as functions taking one string
    /// `input`, answered as custom_tool_call items.
    var customTools: Set<String>
    /// Echoed in the response object.
    var instructions: String?
    var maxOutputTokens: Int?
    var toolChoice: JSONOut
    var parallelToolCalls: Bool
    var reasoningEffort: String?

    init(_ body: JSONObject, defaults: SamplingDefaults) throws(OpenAIError) {
        model = try body.string("model")
        if try body.bool("store") == true {
            throw .invalid("'store': true is not supported: this server keeps no responses (send \"store\": false)", param: "store")
        }
        if try body.string("previous_response_id") != nil {
            throw .invalid("'previous_response_id' is not supported: this server keeps no responses; send the whole conversation in 'input'",
                           param: "previous_response_id")
        }
        if body.value("conversation") != nil {
            throw .invalid("'conversation' is not supported: this server keeps no conversations", param: "conversation")
        }
        instructions = try body.string("instructions")

        var functions: [TemplateValue] = []
        var types: [String: [String: String]] = [:]
        var custom: Set<String> = []
        for (i, raw) in (try body.array("tools") ?? []).enumerated() {
            let tool = try JSONObject(raw, path: "tools[\(i)]")
            let kind = try tool.string("type")
            // Hosted tools (web_search, file_search, local_shell, mcp, …) cannot run here: skipped.
            guard kind == "function" || kind == "custom" else { continue }
            guard let name = try tool.string("name"), !name.isEmpty else {
                throw .invalid("'tools[\(i)].name' is required", param: "tools[\(i)].name")
            }
            let description = try tool.string("description")
            if kind == "custom" {
                custom.insert(name)
                functions.append(ChatTurn.functionTool(name: name, description: description, parameters: Self.customParameters))
                types[name] = ["input": "string"]
            } else {
                let schema = tool.value("parameters")
                types[name] = ChatTurn.parameterTypes(schema)
                functions.append(ChatTurn.functionTool(name: name, description: description, parameters: schema))
            }
        }
        customTools = custom

        var sampling = ChatTurn.defaultSampling(defaults)
        if let t = try body.number("temperature", in: 0...2) { sampling.temperature = Float(t) }
        if let p = try body.number("top_p", in: 0...1) {
            guard p > 0 else { throw .invalid("'top_p' must be greater than 0", param: "top_p") }
            sampling.topP = Float(p)
        }
        var messages: [TemplateValue] = []
        switch body.value("input") {
        case .string(let s)?: messages = [ChatTurn.message(role: "user", content: s)]
        case .array(let items)?: messages = try Self.messages(items, custom: custom)
        case nil: throw .invalid("'input' is required", param: "input")
        default: throw .invalid("'input' must be a string or an array of items", param: "input")
        }
        turn = ChatTurn(messages: SystemMerge.merge(leading: instructions.map { [$0] } ?? [], messages: messages), sampling: sampling)
        turn.parameterTypes = types

        switch body.value("tool_choice") {
        case nil, .string("auto")?: toolChoice = "auto"
        case .string("required")?: toolChoice = "required"
        case .string("none")?:
            toolChoice = "none"
            turn.toolsEnabled = false
        case let v?:
            let choice = try JSONObject(v, path: "tool_choice")
            guard let name = try choice.string("name"), types[name] != nil else {
                throw .invalid("'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", \"name\": …} naming a tool",
                               param: "tool_choice")
            }
            toolChoice = ["type": .string(try choice.string("type") ?? "function"), "name": .string(name)]
            // A named choice offers the model only that tool.
            functions = functions.filter { tool in
                if case .dictionary(let t) = tool, case .dictionary(let f)? = t["function"], case .string(name)? = f["name"] { return true }
                return false
            }
        }
        turn.tools = functions
        parallelToolCalls = try body.bool("parallel_tool_calls") ?? true

        maxOutputTokens = try body.int("max_output_tokens", in: 1...Int(Int32.max))
        turn.maxTokens = maxOutputTokens
        if let reasoning = try body.object("reasoning") {
            reasoningEffort = try reasoning.string("effort")
            // The template's thinking switch; effort levels beyond on/off are not modelled.
            if let effort = reasoningEffort { turn.templateOptions["enable_thinking"] = .bool(effort != "none") }
        }
        if let format = try body.object("text")?.object("format") {
            switch try format.string("type") {
            case nil, "text"?: break
            case "json_object"?: turn.format = (.jsonObject, "text.format")
            case "json_schema"?:
                guard let schema = format.value("schema") else {
                    throw .invalid("'text.format.schema' is required for type 'json_schema'", param: "text.format.schema")
                }
                turn.format = (.jsonSchema(jsonValue(schema)), "text.format.schema")
            case let other?:
                throw .invalid("'text.format.type' is '\(other)'; expected 'text', 'json_object' or 'json_schema'", param: "text.format.type")
            }
        }
        stream = try body.bool("stream") ?? false
    }

    static var customParameters: TemplateValue {
        var input = TemplateDictionary()
        input["type"] = .string("string")
        input["description"] = .string("The tool's free-form input.")
        var props = TemplateDictionary()
        props["input"] = .dictionary(input)
        var schema = TemplateDictionary()
        schema["type"] = .string("object")
        schema["properties"] = .dictionary(props)
        schema["required"] = .array([.string("input")])
        return .dictionary(schema)
    }

    /// Input items as template messages: consecutive function calls join one assistant message;
    /// a reasoning item goes with the assistant message that follows it.
    private static func messages(_ items: [TemplateValue], custom: Set<String>) throws(OpenAIError) -> [TemplateValue] {
        var out: [TemplateValue] = []
        var pendingReasoning = ""
        /// The assistant message being built (its text, reasoning and calls), flushed when
        /// anything else arrives.
        var assistant: (text: String, reasoning: String, calls: [TemplateValue])?
        func flushAssistant() {
            guard let a = assistant else { return }
            var extra: [(String, TemplateValue)] = []
            if !a.reasoning.isEmpty { extra.append(("reasoning_content", .string(a.reasoning))) }
            if !a.calls.isEmpty { extra.append(("tool_calls", .array(a.calls))) }
            out.append(ChatTurn.message(role: "assistant", content: a.text, extra: extra))
            assistant = nil
        }
        func openAssistant() {
            if assistant == nil {
                assistant = ("", pendingReasoning, [])
                pendingReasoning = ""
            }
        }
        for (i, raw) in items.enumerated() {
            let item = try JSONObject(raw, path: "input[\(i)]")
            let kind = try item.string("type") ?? "message"
            switch kind {
            case "message":
                guard let role = try item.string("role"), ["user", "assistant", "system", "developer"].contains(role) else {
                    throw .invalid("'\(item.name("role"))' must be user, assistant, system or developer", param: item.name("role"))
                }
                let text = try Self.text(item, key: "content")
                if role == "assistant" {
                    openAssistant()
                    assistant?.text += text
                } else {
                    flushAssistant()
                    out.append(ChatTurn.message(role: role, content: text))
                }
            case "function_call", "custom_tool_call":
                guard let callID = try item.string("call_id"), let name = try item.string("name") else {
                    throw .invalid("'\(item.path)' needs 'call_id' and 'name'", param: item.path)
                }
                let arguments: TemplateValue
                if kind == "custom_tool_call" {
                    var a = TemplateDictionary()
                    a["input"] = .string(try item.string("input") ?? "")
                    arguments = .dictionary(a)
                } else {
                    let text = try item.string("arguments") ?? "{}"
                    // Templates print arguments with `tojson`; give them the object, as vLLM does.
                    if let parsed = try? TemplateValue(json: text), case .dictionary = parsed { arguments = parsed } else { arguments = .string(text) }
                }
                var f = TemplateDictionary()
                f["name"] = .string(name)
                f["arguments"] = arguments
                var call = TemplateDictionary()
                call["id"] = .string(callID)
                call["type"] = .string("function")
                call["function"] = .dictionary(f)
                openAssistant()
                assistant?.calls.append(.dictionary(call))
            case "function_call_output", "custom_tool_call_output":
                guard let callID = try item.string("call_id") else {
                    throw .invalid("'\(item.name("call_id"))' is required", param: item.name("call_id"))
                }
                flushAssistant()
                out.append(ChatTurn.message(role: "tool", content: try Self.text(item, key: "output"),
                                            extra: [("tool_call_id", .string(callID))]))
            case "reasoning":
                flushAssistant()
                var text = ""
                for key in ["content", "summary"] where text.isEmpty {
                    for case .dictionary(let part) in (try item.array(key) ?? []) {
                        if case .string(let t)? = part["text"] { text += t }
                    }
                }
                pendingReasoning += text
            case "item_reference":
                throw .invalid("'\(item.path)' is an item_reference; this server keeps no items, send the item itself", param: item.path)
            default:
                throw .invalid("'\(item.path).type' is '\(kind)', which this server does not read", param: item.name("type"))
            }
        }
        flushAssistant()
        return out
    }

    /// A string, or content parts with text (input_text, output_text, text); other parts are refused.
    private static func text(_ item: JSONObject, key: String) throws(OpenAIError) -> String {
        switch item.value(key) {
        case nil: return ""
        case .string(let s)?: return s
        case .array(let parts)?:
            var text = ""
            for (k, raw) in parts.enumerated() {
                let part = try JSONObject(raw, path: item.name("\(key)[\(k)]"))
                guard let kind = try part.string("type"), ["input_text", "output_text", "text"].contains(kind),
                      let t = try part.string("text") else {
                    throw .invalid("'\(part.path)' must be an input_text or output_text part; this model reads text only", param: part.path)
                }
                text += t
            }
            return text
        default:
            throw .invalid("'\(item.name(key))' must be a string or an array of text parts", param: item.name(key))
        }
    }
}
