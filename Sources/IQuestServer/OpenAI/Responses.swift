import Foundation
import IQuestEngine
import IQuestOutputParsing

/// Shared pieces of OpenAI's response objects.
enum OpenAIShapes {
    static let systemFingerprint = "iquest-engine"

    static func newID(_ prefix: String) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return prefix + String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count)] })
    }

    /// `cached`: prompt tokens served from the prefix cache (`prompt_tokens_details.cached_tokens`).
    static func usage(prompt: Int, completion: Int, cached: Int) -> JSONOut {
        ["prompt_tokens": .int(prompt), "completion_tokens": .int(completion), "total_tokens": .int(prompt + completion),
         "prompt_tokens_details": ["cached_tokens": .int(cached)]]
    }

    static func finishReason(_ reason: FinishReason, toolCalls: Bool) -> String {
        switch reason {
        case .stop: return toolCalls ? "tool_calls" : "stop"
        case .length: return "length"
        case .cancelled: return "abort"
        }
    }

    static func toolCall(_ call: ParsedToolCall, index: Int?) -> JSONOut {
        var pairs: [(String, JSONOut)] = []
        if let index { pairs.append(("index", .int(index))) }
        pairs += [("id", .string(newID("call_"))), ("type", "function"),
                  ("function", ["name": .string(call.name), "arguments": .string(call.arguments)])]
        return .object(pairs)
    }
}

/// One token's log-probability entry in chat's `logprobs.content` shape.
struct TokenLogprob {
    let token: String
    let logprob: Float
    let top: [(token: String, logprob: Float)]

    init(_ generated: GeneratedToken, text: (Int) -> String) {
        token = text(generated.id)
        logprob = generated.logprob ?? 0
        top = generated.topLogprobs.map { (text($0.id), $0.logprob) }
    }

    var chatJSON: JSONOut {
        func bytes(_ s: String) -> JSONOut { .array(s.utf8.map { .int(Int($0)) }) }
        return ["token": .string(token), "logprob": .float(logprob), "bytes": bytes(token),
                "top_logprobs": .array(top.map { ["token": .string($0.token), "logprob": .float($0.logprob), "bytes": bytes($0.token)] })]
    }
}
