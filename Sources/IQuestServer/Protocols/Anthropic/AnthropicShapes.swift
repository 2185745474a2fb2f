import Foundation
import IQuestEngine
import IQuestOutputParsing

/// Anthropic Messages response shapes: the message object, its usage and stop reason.
enum AnthropicShapes {
    static func stopReason(_ stats: GenerationStats, toolCalls: Bool) -> (reason: String, sequence: JSONOut) {
        switch stats.finishReason {
        case .length: return ("max_tokens", .null)
        case .stop where toolCalls: return ("tool_use", .null)
        case .stop:
            if let stop = stats.stopString { return ("stop_sequence", .string(stop)) }
            return ("end_turn", .null)
        case .cancelled: return ("end_turn", .null)
        }
    }

    /// Anthropic counts cached prompt tokens apart from `input_tokens` (their sum is the prompt).
    static func usage(promptTokens: Int, cached: Int, output: Int) -> JSONOut {
        ["input_tokens": .int(promptTokens - cached), "cache_creation_input_tokens": 0,
         "cache_read_input_tokens": .int(cached), "output_tokens": .int(output)]
    }

    static func toolUse(_ call: ParsedToolCall) -> JSONOut {
        ["type": "tool_use", "id": .string(OpenAIShapes.newID("toolu_")), "name": .string(call.name),
         "input": JSONOut.arguments(call.arguments)]
    }

    /// The non-streamed answer: thinking, text, then tool_use blocks, as the model wrote them.
    static func message(id: String, model: String, result: ChatResult, promptTokens: Int) -> JSONOut {
        var blocks: [JSONOut] = []
        if !result.reasoning.isEmpty {
            blocks.append(["type": "thinking", "thinking": .string(result.reasoning), "signature": ""])
        }
        if !result.content.isEmpty || result.toolCalls.isEmpty {
            blocks.append(["type": "text", "text": .string(result.content)])
        }
        blocks += result.toolCalls.map(toolUse)
        let stop = stopReason(result.stats, toolCalls: !result.toolCalls.isEmpty)
        return ["id": .string(id), "type": "message", "role": "assistant", "model": .string(model),
                "content": .array(blocks), "stop_reason": .string(stop.reason), "stop_sequence": stop.sequence,
                "usage": usage(promptTokens: promptTokens, cached: result.stats.cachedPromptTokens,
                               output: result.stats.generatedTokens)]
    }
}

/// Turns the shared chat events into Anthropic's named SSE events: one content block per run of
/// thinking or text, one per tool call (its whole input in one input_json_delta, since the
/// parser hands calls over complete).
struct AnthropicStreamEncoder {
    private enum Block { case text, thinking }
    private var index = -1
    private var open: Block?
    private(set) var toolCalls = 0

    static func event(_ name: String, _ data: JSONOut) -> String { "event: \(name)\ndata: \(data.text)\n\n" }

    func start(id: String, model: String, promptTokens: Int) -> String {
        Self.event("message_start", ["type": "message_start", "message": [
            "id": .string(id), "type": "message", "role": "assistant", "model": .string(model), "content": [],
            "stop_reason": .null, "stop_sequence": .null,
            "usage": AnthropicShapes.usage(promptTokens: promptTokens, cached: 0, output: 0),
        ]])
    }

    mutating func encode(_ event: ChatEvent) -> String {
        switch event {
        case .ping:
            return Self.event("ping", ["type": "ping"])
        case .token:
            return ""
        case .content(let s):
            return openBlock(.text) + delta(["type": "text_delta", "text": .string(s)])
        case .reasoning(let s):
            return openBlock(.thinking) + delta(["type": "thinking_delta", "thinking": .string(s)])
        case .toolCall(let call):
            var out = closeBlock()
            index += 1
            toolCalls += 1
            out += Self.event("content_block_start", ["type": "content_block_start", "index": .int(index), "content_block": [
                "type": "tool_use", "id": .string(OpenAIShapes.newID("toolu_")), "name": .string(call.name), "input": [:],
            ]])
            out += delta(["type": "input_json_delta", "partial_json": .string(JSONOut.arguments(call.arguments).text)])
            out += Self.event("content_block_stop", ["type": "content_block_stop", "index": .int(index)])
            return out
        }
    }

    mutating func finish(_ stats: GenerationStats) -> String {
        var out = closeBlock()
        if index < 0 {
            // An empty answer still has one (empty) text block, as the non-streamed one does.
            out += openBlock(.text) + closeBlock()
        }
        let stop = AnthropicShapes.stopReason(stats, toolCalls: toolCalls > 0)
        out += Self.event("message_delta", ["type": "message_delta",
                                            "delta": ["stop_reason": .string(stop.reason), "stop_sequence": stop.sequence],
                                            "usage": AnthropicShapes.usage(promptTokens: stats.promptTokens,
                                                                           cached: stats.cachedPromptTokens,
                                                                           output: stats.generatedTokens)])
        out += Self.event("message_stop", ["type": "message_stop"])
        return out
    }

    private func delta(_ d: JSONOut) -> String {
        Self.event("content_block_delta", ["type": "content_block_delta", "index": .int(index), "delta": d])
    }

    private mutating func openBlock(_ kind: Block) -> String {
        guard open != kind else { return "" }
        var out = closeBlock()
        index += 1
        open = kind
        let block: JSONOut = kind == .text ? ["type": "text", "text": ""] : ["type": "thinking", "thinking": "", "signature": ""]
        out += Self.event("content_block_start", ["type": "content_block_start", "index": .int(index), "content_block": block])
        return out
    }

    private mutating func closeBlock() -> String {
        guard open != nil else { return "" }
        open = nil
        return Self.event("content_block_stop", ["type": "content_block_stop", "index": .int(index)])
    }
}
