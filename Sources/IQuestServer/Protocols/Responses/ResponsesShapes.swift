import Foundation
import IQuestEngine
import IQuestOutputParsing

/// OpenAI Responses output items and the response object.
struct ResponsesShapes {
    let id: String
    let model: String
    let createdAt: Int
    let request: ResponsesRequest

    func messageItem(id: String, text: String, done: Bool) -> JSONOut {
        ["type": "message", "id": .string(id), "status": done ? "completed" : "in_progress", "role": "assistant",
         "content": done ? [Self.textPart(text)] : []]
    }

    static func textPart(_ text: String) -> JSONOut { ["type": "output_text", "text": .string(text), "annotations": [], "logprobs": []] }

    static func reasoningPart(_ text: String) -> JSONOut { ["type": "reasoning_text", "text": .string(text)] }

    func reasoningItem(id: String, text: String, done: Bool) -> JSONOut {
        ["type": "reasoning", "id": .string(id), "status": done ? "completed" : "in_progress", "summary": [],
         "content": done ? [Self.reasoningPart(text)] : []]
    }

    /// A function call, or a custom_tool_call for a free-form tool (its `input` argument unwrapped).
    func callItem(_ call: ParsedToolCall, id: String, callID: String, done: Bool) -> JSONOut {
        let status: JSONOut = done ? "completed" : "in_progress"
        if request.customTools.contains(call.name) {
            return ["type": "custom_tool_call", "id": .string(id), "call_id": .string(callID), "name": .string(call.name),
                    "input": .string(done ? Self.customInput(call.arguments) : ""), "status": status]
        }
        return ["type": "function_call", "id": .string(id), "call_id": .string(callID), "name": .string(call.name),
                "arguments": .string(done ? call.arguments : ""), "status": status]
    }

    /// The `input` string of a custom tool's arguments (the whole text when the model wrote something else).
    static func customInput(_ arguments: String) -> String {
        if case .object(let pairs) = JSONOut.arguments(arguments), let input = pairs.first(where: { $0.0 == "input" })?.1,
           case .string(let s) = input {
            return s
        }
        return arguments
    }

    func usage(_ stats: GenerationStats, reasoningTokens: Int) -> JSONOut {
        ["input_tokens": .int(stats.promptTokens), "input_tokens_details": ["cached_tokens": .int(stats.cachedPromptTokens)],
         "output_tokens": .int(stats.generatedTokens), "output_tokens_details": ["reasoning_tokens": .int(reasoningTokens)],
         "total_tokens": .int(stats.promptTokens + stats.generatedTokens)]
    }

    /// "completed", or "incomplete" when the token budget ran out.
    static func status(_ stats: GenerationStats) -> String { stats.finishReason == .length ? "incomplete" : "completed" }

    /// The response object; `stats` nil while it is in progress.
    func response(status: String, output: [JSONOut], stats: GenerationStats?, reasoningTokens: Int = 0,
                  error: JSONOut = .null) -> JSONOut {
        let incomplete: JSONOut = status == "incomplete" ? ["reason": "max_output_tokens"] : .null
        return ["id": .string(id), "object": "response", "created_at": .int(createdAt), "status": .string(status),
                "error": error, "incomplete_details": incomplete, "instructions": .optional(request.instructions),
                "max_output_tokens": request.maxOutputTokens.map { JSONOut.int($0) } ?? .null, "model": .string(model),
                "output": .array(output), "parallel_tool_calls": .bool(request.parallelToolCalls), "previous_response_id": .null,
                "reasoning": ["effort": .optional(request.reasoningEffort), "summary": .null], "store": false,
                "temperature": .float(request.turn.sampling.temperature), "text": ["format": ["type": "text"]],
                "tool_choice": request.toolChoice, "tools": [], "top_p": .float(request.turn.sampling.topP),
                "truncation": "disabled", "usage": stats.map { usage($0, reasoningTokens: reasoningTokens) } ?? .null,
                "metadata": [:]]
    }

    /// The non-streamed answer: reasoning, message, then calls, as the model wrote them.
    func response(_ result: ChatResult, reasoningTokens: Int) -> JSONOut {
        var output: [JSONOut] = []
        if !result.reasoning.isEmpty {
            output.append(reasoningItem(id: OpenAIShapes.newID("rs_"), text: result.reasoning, done: true))
        }
        if !result.content.isEmpty || result.toolCalls.isEmpty {
            output.append(messageItem(id: OpenAIShapes.newID("msg_"), text: result.content, done: true))
        }
        for call in result.toolCalls {
            output.append(callItem(call, id: OpenAIShapes.newID("fc_"), callID: OpenAIShapes.newID("call_"), done: true))
        }
        return response(status: Self.status(result.stats), output: output, stats: result.stats, reasoningTokens: reasoningTokens)
    }
}
