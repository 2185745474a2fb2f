// Hermes tool calls (Qwen2.5/Qwen3 and IQuest templates): the body of `<tool_call>…</tool_call>` is
// `{"name": NAME, "arguments": {…}}`. Behaviour follows vLLM's hermes parser, except that the
// arguments object is passed on as the model wrote it instead of being re-serialized.

enum HermesToolCall {
    /// The call in one body, or nil when the body is not a valid call (the caller then passes the
    /// raw text on as text). Accepted: `arguments` (or `parameters`, which Llama-style models
    /// write) as an object, as a JSON string holding an object, or absent/null (`{}`).
    static func parse(_ body: [Unicode.Scalar]) -> ParsedToolCall? {
        guard let root = JSONText.parse(body), case .object(let members) = root.kind else { return nil }
        guard let nameNode = members.first(where: { $0.key == "name" })?.value,
              case .string(let name) = nameNode.kind, !name.isEmpty else { return nil }
        let argumentsNode = members.first(where: { $0.key == "arguments" })?.value
            ?? members.first(where: { $0.key == "parameters" })?.value
        guard let arguments = argumentsText(argumentsNode, in: body) else { return nil }
        return ParsedToolCall(name: name, arguments: arguments)
    }

    private static func argumentsText(_ node: JSONNode?, in body: [Unicode.Scalar]) -> String? {
        guard let node else { return "{}" }
        switch node.kind {
        case .null:
            return "{}"
        case .object:
            return String(scalars: body[node.range])
        case .string(let inner):
            // Some models double-encode: "arguments": "{\"city\": \"Paris\"}".
            let innerScalars = Array(inner.unicodeScalars)
            guard let innerNode = JSONText.parse(innerScalars), case .object = innerNode.kind else { return nil }
            return String(scalars: innerScalars[innerNode.range])
        case .array, .number, .bool:
            return nil
        }
    }
}
