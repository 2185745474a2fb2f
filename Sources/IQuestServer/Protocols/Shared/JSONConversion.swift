import IQuestTemplates

extension JSONOut {
    /// A parsed request value written back out (tool-call arguments as objects).
    init(_ value: TemplateValue) {
        switch value {
        case .undefined, .none: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(items.map { JSONOut($0) })
        case .dictionary(let d): self = .object(d.pairs.map { ($0.0, JSONOut($0.1)) })
        }
    }

    /// Tool-call arguments (JSON text from the parser) as an object; text that is not a JSON
    /// object is kept under "arguments" so nothing the model wrote is lost.
    static func arguments(_ text: String) -> JSONOut {
        if let parsed = try? TemplateValue(json: text), case .dictionary = parsed { return JSONOut(parsed) }
        return text.isEmpty ? [:] : ["arguments": .string(text)]
    }
}
