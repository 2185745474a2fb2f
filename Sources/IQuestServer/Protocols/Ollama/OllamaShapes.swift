import Foundation
import IQuestEngine
import IQuestOutputParsing

/// Ollama API response shapes.
enum OllamaShapes {
    /// The Ollama release whose API this follows; VS Code checks that it is bare semver.
    static let version = "0.12.6"

    static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }

    /// A stable, digest-shaped id for the served name (clients display and compare it only).
    static func digest(_ name: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var out = ""
        for round in 0..<4 {
            for byte in Array(name.utf8) + [UInt8(round)] {
                h = (h ^ UInt64(byte)) &* 0x100_0000_01b3
            }
            out += String(h, radix: 16).leftPadded(16)
        }
        return out
    }

    static func details(_ model: ServedModel) -> JSONOut {
        ["parent_model": "", "format": "gguf", "family": .string(model.architecture), "families": [.string(model.architecture)],
         "parameter_size": "", "quantization_level": ""]
    }

    static func capabilities(_ model: ServedModel) -> [String] {
        var out = ["completion"]
        let template = model.chatTemplate ?? ""
        if OutputSyntaxDetection.toolSyntax(chatTemplate: template) != nil || template.contains("tools") { out.append("tools") }
        if OutputSyntaxDetection.usesThinkTags(chatTemplate: template) { out.append("thinking") }
        if model.fim != nil { out.append("insert") }
        return out
    }

    static func listEntry(_ name: String, _ model: ServedModel) -> JSONOut {
        ["name": .string(name), "model": .string(name), "modified_at": .string(now()), "size": 0,
         "digest": .string(digest(name)), "details": details(model)]
    }

    static func doneReason(_ stats: GenerationStats) -> String {
        stats.finishReason == .length ? "length" : "stop"
    }

    /// The closing counters of a chat or generate answer (durations in nanoseconds).
    static func stats(_ stats: GenerationStats) -> [(String, JSONOut)] {
        let prefill = Int(stats.prefillSeconds * 1e9)
        let decode = Int(stats.decodeSeconds * 1e9)
        return [("done_reason", .string(doneReason(stats))), ("total_duration", .int(prefill + decode)), ("load_duration", 0),
                ("prompt_eval_count", .int(stats.promptTokens)), ("prompt_eval_duration", .int(prefill)),
                ("eval_count", .int(stats.generatedTokens)), ("eval_duration", .int(decode))]
    }

    static func toolCall(_ call: ParsedToolCall) -> JSONOut {
        ["function": ["name": .string(call.name), "arguments": JSONOut.arguments(call.arguments)]]
    }

    /// A chat message from parsed output.
    static func message(content: String, thinking: String, calls: [ParsedToolCall]) -> JSONOut {
        var m: [(String, JSONOut)] = [("role", "assistant"), ("content", .string(content))]
        if !thinking.isEmpty { m.append(("thinking", .string(thinking))) }
        if !calls.isEmpty { m.append(("tool_calls", .array(calls.map(toolCall)))) }
        return .object(m)
    }
}

private extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
