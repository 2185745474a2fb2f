import IQuestConstraints
import IQuestEngine
import IQuestOutputParsing
import IQuestTemplates

/// What a request asks its output to follow (OpenAI `response_format`, vLLM `structured_outputs`,
/// Responses `text.format`, Ollama `format`), kept as data until the route compiles it.
enum OutputFormat: Sendable {
    case jsonObject
    case jsonSchema(JSONValue)
    case regex(String)
    case choice([String])
    case grammar(String)

    /// The request field named in errors about it.
    typealias Located = (format: OutputFormat, param: String)

    /// OpenAI `response_format` ({type: text | json_object | json_schema}).
    static func responseFormat(_ body: JSONObject) throws(OpenAIError) -> Located? {
        guard let rf = try body.object("response_format") else { return nil }
        switch try rf.string("type") {
        case "text"?: return nil
        case "json_object"?: return (.jsonObject, "response_format")
        case "json_schema"?:
            guard let js = try rf.object("json_schema") else {
                throw .invalid("'response_format.json_schema' is required for type 'json_schema'", param: "response_format.json_schema")
            }
            guard let schema = js.value("schema") else {
                throw .invalid("'response_format.json_schema.schema' is required", param: "response_format.json_schema.schema")
            }
            _ = try js.string("name")
            _ = try js.bool("strict")
            return (.jsonSchema(jsonValue(schema)), "response_format.json_schema.schema")
        case let other?:
            throw .invalid("'response_format.type' is '\(other)'; expected 'text', 'json_object' or 'json_schema'", param: "response_format.type")
        case nil:
            throw .invalid("'response_format.type' is required", param: "response_format.type")
        }
    }

    /// vLLM's `structured_outputs` ({json | regex | choice | grammar | json_object}); one of them.
    static func structuredOutputs(_ body: JSONObject) throws(OpenAIError) -> Located? {
        guard let so = try body.object("structured_outputs") else { return nil }
        var found: [Located] = []
        if let v = so.value("json") {
            let p = "structured_outputs.json"
            if case .string(let text) = v {
                do { found.append((.jsonSchema(try JSONValue.parse(text)), p)) } catch {
                    throw .invalid("'\(p)' is not valid JSON: \(error)", param: p)
                }
            } else {
                found.append((.jsonSchema(jsonValue(v)), p))
            }
        }
        if let r = try so.string("regex") { found.append((.regex(r), "structured_outputs.regex")) }
        if let g = try so.string("grammar") { found.append((.grammar(g), "structured_outputs.grammar")) }
        if let c = try so.array("choice") {
            var options: [String] = []
            for item in c {
                guard case .string(let s) = item else { throw .invalid("'structured_outputs.choice' must hold strings", param: "structured_outputs.choice") }
                options.append(s)
            }
            found.append((.choice(options), "structured_outputs.choice"))
        }
        if try so.bool("json_object") == true { found.append((.jsonObject, "structured_outputs.json_object")) }
        guard found.count <= 1 else {
            throw .invalid("'structured_outputs' takes one of json, regex, choice, grammar or json_object", param: "structured_outputs")
        }
        return found.first
    }

    /// response_format and structured_outputs, refusing both at once.
    static func fromChatOrCompletion(_ body: JSONObject) throws(OpenAIError) -> Located? {
        let a = try responseFormat(body), b = try structuredOutputs(body)
        if a != nil && b != nil {
            throw .invalid("'response_format' and 'structured_outputs' cannot both be given", param: "structured_outputs")
        }
        return a ?? b
    }

    func grammar(param: String) throws(OpenAIError) -> Grammar {
        do {
            switch self {
            case .jsonObject: return try JSONSchemaCompiler.grammar(for: .object([("type", .string("object"))]))
            case .jsonSchema(let schema): return try JSONSchemaCompiler.grammar(for: schema)
            case .regex(let pattern): return try ChoiceGrammar.regex(pattern)
            case .choice(let options): return try ChoiceGrammar.grammar(options)
            case .grammar(let text): return try GBNF.parse(text)
            }
        } catch let error as ConstraintError {
            throw .invalid(error.description, param: param)
        } catch {
            throw .invalid("\(error)", param: param)
        }
    }
}

/// A JSON value from the server's parsed body (key order kept).
func jsonValue(_ v: TemplateValue) -> JSONValue {
    switch v {
    case .undefined, .none: return .null
    case .bool(let b): return .bool(b)
    case .int(let i): return .number(String(i), Double(i))
    case .double(let d): return .number(d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)", d)
    case .string(let s): return .string(s)
    case .array(let a): return .array(a.map(jsonValue))
    case .dictionary(let d): return .object(d.keys.map { ($0, jsonValue(d[$0] ?? .none)) })
    }
}

/// OpenAI `logit_bias`: {"token id": bias in -100...100}.
func logitBias(_ body: JSONObject) throws(OpenAIError) -> [Int: Float] {
    guard let bias = try body.object("logit_bias") else { return [:] }
    var out: [Int: Float] = [:]
    for key in bias.fields.keys {
        guard let id = Int(key), id >= 0 else {
            throw .invalid("'logit_bias' keys must be token ids, not '\(key)'", param: "logit_bias")
        }
        guard let value = try bias.number(key, in: -100...100) else { continue }
        out[id] = Float(value)
    }
    return out
}

/// A forced tool call (tool_choice required or named): the model's own call syntax with the
/// arguments following each tool's parameter schema.
enum ToolCallGrammar {
    /// What every call begins with in both syntaxes (the trigger for strict tools under auto).
    static let opener = "<tool_call>"

    /// `single`: exactly one call (the auto case: the gate re-arms for the next one); otherwise
    /// one or more, a newline apart.
    static func grammar(tools: [(name: String, parameters: JSONValue)], syntax: ToolCallSyntax, single: Bool = false) throws(OpenAIError) -> Grammar {
        let b = GrammarBuilder()
        var calls: [[GrammarElement]] = []
        do {
            for (i, tool) in tools.enumerated() {
                let compiler = JSONSchemaCompiler(schema: tool.parameters, builder: b)
                let ws = compiler.whitespace
                switch syntax {
                case .hermes:
                    let args = try compiler.valueElement()
                    calls.append(b.literal("<tool_call>\n{") + [ws] + b.literal("\"name\"") + [ws] + b.literal(":") + [ws]
                                 + b.literal(JSONValue.quoted(tool.name)) + [ws] + b.literal(",") + [ws] + b.literal("\"arguments\"")
                                 + [ws] + b.literal(":") + [ws, args, ws] + b.literal("}\n</tool_call>"))
                case .qwen3Coder:
                    calls.append(try qwen3Coder(tool.name, tool.parameters, b: b, compiler: compiler))
                }
                _ = i
            }
        } catch let error as ConstraintError {
            throw .invalid(error.description, param: "tools")
        } catch {
            throw .invalid("\(error)", param: "tools")
        }
        let one = b.alternatives(calls)
        // One call or several, a newline apart.
        let root = single ? b.rule([[one]], name: "root")
            : b.rule([[one] + b.repeated(b.literal("\n") + [one], min: 0, max: nil)], name: "root")
        do { return try b.build(start: root) } catch { throw .invalid("\(error)", param: "tools") }
    }

    /// `<tool_call>\n<function=NAME>\n<parameter=P>\nVALUE\n</parameter>\n…</function>\n</tool_call>`:
    /// declared parameters (required ones mandatory, in schema order); values of string
    /// parameters are text without '<', other types JSON following the parameter's schema.
    static func qwen3Coder(_ name: String, _ parameters: JSONValue, b: GrammarBuilder, compiler: JSONSchemaCompiler) throws -> [GrammarElement] {
        let props = parameters["properties"]?.objectMembers ?? []
        let required = Set((parameters["required"]?.arrayValue ?? []).compactMap { $0.stringValue })
        let text = b.repeated([b.utf8Char(CodepointSet([0x3C...0x3C]).inverted)], min: 0, max: nil)
        var seq = b.literal("<tool_call>\n<function=\(name)>\n")
        for (pname, pschema) in props {
            let value: [GrammarElement]
            if pschema["type"]?.stringValue == "string" && pschema["enum"] == nil && pschema["pattern"] == nil && pschema["format"] == nil {
                value = text
            } else {
                let sub = JSONSchemaCompiler(schema: pschema, builder: b)
                value = [try sub.valueElement()]
            }
            let param = b.literal("<parameter=\(pname)>\n") + value + b.literal("\n</parameter>\n")
            seq.append(required.contains(pname) ? b.group(param) : b.alternatives([[], param]))
        }
        _ = compiler
        return seq + b.literal("</function>\n</tool_call>")
    }
}
