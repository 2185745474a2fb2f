import Foundation

// Types a raw Qwen3-Coder parameter value by the tool's JSON-schema type, as vLLM's qwen3_coder
// parser does: a value that does not fit its type stays a string rather than failing the call,
// so nothing the model wrote is lost.

public enum ParameterValue {
    /// The template writes `<parameter=P>\nvalue\n</parameter>`; exactly one newline on each side
    /// belongs to the format, any further ones to the value.
    public static func strippingOneNewline(_ raw: String) -> String {
        // "\r\n" is one Character in Swift, so either form is one element to drop.
        var value = raw[...]
        if value.first == "\n" || value.first == "\r\n" { value = value.dropFirst() }
        if value.last == "\n" || value.last == "\r\n" { value = value.dropLast() }
        return String(value)
    }

    /// The JSON text for `value`. Unknown parameters and `string` types are strings; `null`
    /// (any case) is JSON null for every non-string type, as in vLLM.
    public static func json(_ value: String, schemaType: String?) -> String {
        guard let type = schemaType?.lowercased(), !isStringType(type) else { return JSONText.quoted(value) }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.lowercased() == "null" { return "null" }
        let typed: String? = switch type {
        case _ where isIntegerType(type): integer(trimmed)
        case "number", "float", "double", "num", "decimal": number(trimmed)
        case "boolean", "bool": boolean(trimmed)
        case "object", "array", "dict", "list": JSONText.minified(trimmed)
        default: nil
        }
        return typed ?? JSONText.quoted(value)
    }

    private static func isStringType(_ type: String) -> Bool {
        ["string", "str", "text", "varchar", "char", "enum"].contains(type)
    }

    private static func isIntegerType(_ type: String) -> Bool {
        ["int", "uint", "long", "short", "unsigned"].contains { type.hasPrefix($0) }
    }

    /// Integers as Swift reads them (`+5`, `007` → 5); larger than Int64 kept if JSON-valid.
    private static func integer(_ text: String) -> String? {
        if let value = Int(text) { return String(value) }
        return JSONText.isNumber(text) && !text.contains(where: { ".eE".contains($0) }) ? text : nil
    }

    /// JSON number literals verbatim; other finite decimal forms (`.5`, `1.`) normalized.
    private static func number(_ text: String) -> String? {
        if JSONText.isNumber(text) { return text }
        guard text.allSatisfy({ "0123456789+-.eE".contains($0) }), let value = Double(text), value.isFinite else { return nil }
        return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    private static func boolean(_ text: String) -> String? {
        switch text.lowercased() {
        case "true": "true"
        case "false": "false"
        default: nil
        }
    }
}
