import Foundation

// Qwen3-Coder tool calls: inside `<tool_call>…</tool_call>`, one or more
//   <function=NAME>
//   <parameter=P>
//   value
//   </parameter>
//   </function>
// Values are raw text typed by the tool's JSON schema (see `ParameterValue`); the arguments go out
// as a compact JSON object in parameter order. Follows vLLM's qwen3_coder parser, including its
// leniency: a missing `</parameter>` ends at the next `<parameter=` or `</function>`, and a missing
// `</function>` ends at the end of the body.

enum Qwen3CoderToolCall {
    /// The calls in one body, or nil when it holds no well-formed `<function=NAME>`. With
    /// `requireComplete` (a body cut off by the end of generation), every function must have its
    /// `</function>` and only whitespace may follow the last one, so neither a truncated call nor
    /// text the model wrote after it is swallowed.
    static func parse(_ body: String, requireComplete: Bool,
                      parameterTypes: [String: [String: String]]) -> [ParsedToolCall]? {
        var calls: [ParsedToolCall] = []
        var rest = body[...]
        while let open = rest.range(of: "<function=") {
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.firstIndex(of: ">") else { return nil }
            let name = afterOpen[..<close].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty else { return nil }
            let functionBody: Substring
            if let end = afterOpen.range(of: "</function>") {
                functionBody = afterOpen[afterOpen.index(after: close)..<end.lowerBound]
                rest = afterOpen[end.upperBound...]
            } else {
                guard !requireComplete else { return nil }
                functionBody = afterOpen[afterOpen.index(after: close)...]
                rest = ""
            }
            let types = parameterTypes[name] ?? [:]
            guard let arguments = argumentsJSON(functionBody, types: types) else { return nil }
            calls.append(ParsedToolCall(name: name, arguments: arguments))
        }
        if requireComplete, rest.contains(where: { !$0.isWhitespace }) { return nil }
        return calls.isEmpty ? nil : calls
    }

    /// `{"p":value,…}` in parameter order; a repeated parameter keeps its first place and last value.
    private static func argumentsJSON(_ functionBody: Substring, types: [String: String]) -> String? {
        var keys: [String] = []
        var values: [String: String] = [:]
        var rest = functionBody
        while let open = rest.range(of: "<parameter=") {
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.firstIndex(of: ">") else { return nil }
            let key = afterOpen[..<close].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !key.isEmpty else { return nil }
            let valueStart = afterOpen.index(after: close)
            let tail = afterOpen[valueStart...]
            let valueEnd: String.Index
            if let end = tail.range(of: "</parameter>") {
                valueEnd = end.lowerBound
                rest = tail[end.upperBound...]
            } else {
                valueEnd = tail.range(of: "<parameter=")?.lowerBound ?? tail.endIndex
                rest = tail[valueEnd...]
            }
            let raw = ParameterValue.strippingOneNewline(String(tail[..<valueEnd]))
            if values[key] == nil { keys.append(key) }
            values[key] = ParameterValue.json(raw, schemaType: types[key])
        }
        let members = keys.compactMap { key in values[key].map { JSONText.quoted(key) + ":" + $0 } }
        return "{" + members.joined(separator: ",") + "}"
    }
}
