import IQuestConstraints
import IQuestEngine
import IQuestTemplates

/// One chat request in the engine's terms, whichever protocol it arrived in. Each protocol's
/// translation layer builds one of these; `OpenAIRoutes.prepare` turns it into the engine's
/// request along the path chat completions takes (template → tokens → budget → output parser),
/// so a feature added there reaches every protocol.
struct ChatTurn {
    /// Messages as the chat template receives them (OpenAI's shape: role, content string,
    /// reasoning_content, tool_calls with object arguments, tool_call_id).
    var messages: [TemplateValue]
    /// Function tools in OpenAI's shape ({"type": "function", "function": {name, description, parameters}}).
    var tools: [TemplateValue] = []
    /// False when the request's tool choice is "none": tools stay out of the prompt and tool-call
    /// text stays content.
    var toolsEnabled = true
    /// Function name → parameter name → JSON-schema type, for typing XML tool-call values.
    var parameterTypes: [String: [String: String]] = [:]
    var templateOptions: [String: TemplateValue] = [:]
    var sampling: SamplingParameters
    /// nil: whatever the context has left.
    var maxTokens: Int?
    var stop: [String] = []
    var ignoreEOS = false
    /// Speculative decoding chosen by the request (nil: the server's setting).
    var speculative: SpeculativeOptions?
    var logprobs = false
    var topLogprobs = 0
    /// Structured output the answer must follow, and the request field it came from.
    var format: OutputFormat.Located?
    /// OpenAI `logit_bias`.
    var logitBias: [Int: Float] = [:]
    /// tool_choice required or named: the answer is a call to one of these tools.
    var forcedTools: [(name: String, parameters: JSONValue)]?
    /// tool_choice auto: the tools marked `strict`, whose calls follow their schemas once the
    /// model opens one.
    var strictTools: [(name: String, parameters: JSONValue)]?

    init(messages: [TemplateValue], sampling: SamplingParameters) {
        self.messages = messages
        self.sampling = sampling
    }

    var usesTools: Bool { toolsEnabled && !tools.isEmpty }

    /// OpenAI's defaults (temperature 1, top_p 1, no top-k/min-p), replaced by the model's own.
    static func defaultSampling(_ defaults: SamplingDefaults) -> SamplingParameters {
        SamplingParameters(temperature: defaults.temperature ?? 1, topK: defaults.topK ?? 0,
                           topP: defaults.topP ?? 1, minP: defaults.minP ?? 0,
                           repetitionPenalty: defaults.repetitionPenalty ?? 1)
    }

    /// A function tool in the shape templates expect.
    static func functionTool(name: String, description: String?, parameters: TemplateValue?) -> TemplateValue {
        var f = TemplateDictionary()
        f["name"] = .string(name)
        if let description { f["description"] = .string(description) }
        f["parameters"] = parameters ?? .dictionary(TemplateDictionary())
        var t = TemplateDictionary()
        t["type"] = .string("function")
        t["function"] = .dictionary(f)
        return .dictionary(t)
    }

    /// A message in the template's shape.
    static func message(role: String, content: String, extra: [(String, TemplateValue)] = []) -> TemplateValue {
        var m = TemplateDictionary()
        m["role"] = .string(role)
        m["content"] = .string(content)
        for (k, v) in extra { m[k] = v }
        return .dictionary(m)
    }

    /// JSON-schema `type` of each top-level parameter (the first non-null one of a type list).
    static func parameterTypes(_ schema: TemplateValue?) -> [String: String] {
        guard case .dictionary(let s)? = schema, case .dictionary(let props)? = s["properties"] else { return [:] }
        var out: [String: String] = [:]
        for (name, prop) in props.pairs {
            guard case .dictionary(let p) = prop else { continue }
            switch p["type"] {
            case .string(let t)?: out[name] = t
            case .array(let list)?:
                for case .string(let t) in list where t != "null" {
                    out[name] = t
                    break
                }
            default: break
            }
        }
        return out
    }
}

/// Leading system text and system messages found later in a conversation, merged into one
/// leading system message: many templates refuse or misplace a system message that is not first
/// (Claude Code and Codex send them mid-conversation).
enum SystemMerge {
    static func merge(leading: [String], messages: [TemplateValue]) -> [TemplateValue] {
        var system = leading.filter { !$0.isEmpty }
        var rest: [TemplateValue] = []
        for m in messages {
            if case .dictionary(let d) = m, case .string(let role)? = d["role"], role == "system" || role == "developer" {
                if case .string(let text)? = d["content"], !text.isEmpty { system.append(text) }
            } else {
                rest.append(m)
            }
        }
        guard !system.isEmpty else { return rest }
        return [ChatTurn.message(role: "system", content: system.joined(separator: "\n\n"))] + rest
    }
}
