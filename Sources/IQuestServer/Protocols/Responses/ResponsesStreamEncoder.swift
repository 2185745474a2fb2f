import IQuestEngine

/// Turns the shared chat events into Responses streaming events, each numbered by
/// `sequence_number`: one output item per run of reasoning or text, one per tool call (its
/// arguments in one delta, since the parser hands calls over complete).
struct ResponsesStreamEncoder {
    private enum Open { case message, reasoning }
    let shapes: ResponsesShapes
    private var sequence = 0
    private var open: Open?
    private var itemID = ""
    private var text = ""
    private(set) var output: [JSONOut] = []
    /// Everything the model reasoned, for `reasoning_tokens`.
    private(set) var reasoning = ""

    init(shapes: ResponsesShapes) { self.shapes = shapes }

    private mutating func event(_ type: String, _ fields: [(String, JSONOut)]) -> String {
        let data = JSONOut.object([("type", .string(type))] + fields + [("sequence_number", .int(sequence))])
        sequence += 1
        return "event: \(type)\ndata: \(data.text)\n\n"
    }

    mutating func start() -> String {
        let r = shapes.response(status: "in_progress", output: [], stats: nil)
        return event("response.created", [("response", r)]) + event("response.in_progress", [("response", r)])
    }

    mutating func encode(_ chatEvent: ChatEvent) -> String {
        switch chatEvent {
        case .ping:
            // Responses has no ping event; an SSE comment keeps the connection and is ignored by clients.
            return ": ping\n\n"
        case .token:
            return ""
        case .content(let s):
            var out = openItem(.message)
            text += s
            out += event("response.output_text.delta", [("item_id", .string(itemID)), ("output_index", .int(output.count)),
                                                        ("content_index", 0), ("delta", .string(s)), ("logprobs", [])])
            return out
        case .reasoning(let s):
            var out = openItem(.reasoning)
            text += s
            reasoning += s
            out += event("response.reasoning_text.delta", [("item_id", .string(itemID)), ("output_index", .int(output.count)),
                                                           ("content_index", 0), ("delta", .string(s))])
            return out
        case .toolCall(let call):
            var out = closeItem()
            let id = OpenAIShapes.newID("fc_")
            let callID = OpenAIShapes.newID("call_")
            let index = JSONOut.int(output.count)
            out += event("response.output_item.added", [("output_index", index),
                                                        ("item", shapes.callItem(call, id: id, callID: callID, done: false))])
            if shapes.request.customTools.contains(call.name) {
                let input = ResponsesShapes.customInput(call.arguments)
                out += event("response.custom_tool_call_input.delta", [("item_id", .string(id)), ("output_index", index), ("delta", .string(input))])
                out += event("response.custom_tool_call_input.done", [("item_id", .string(id)), ("output_index", index), ("input", .string(input))])
            } else {
                out += event("response.function_call_arguments.delta", [("item_id", .string(id)), ("output_index", index),
                                                                        ("delta", .string(call.arguments))])
                out += event("response.function_call_arguments.done", [("item_id", .string(id)), ("output_index", index),
                                                                       ("name", .string(call.name)), ("arguments", .string(call.arguments))])
            }
            let item = shapes.callItem(call, id: id, callID: callID, done: true)
            out += event("response.output_item.done", [("output_index", index), ("item", item)])
            output.append(item)
            return out
        }
    }

    /// Closes what is open and ends with response.completed or response.incomplete.
    mutating func finish(_ stats: GenerationStats, reasoningTokens: Int) -> String {
        var out = closeItem()
        if output.isEmpty { out += openItem(.message) + closeItem() }
        let status = ResponsesShapes.status(stats)
        let r = shapes.response(status: status, output: output, stats: stats, reasoningTokens: reasoningTokens)
        out += event(status == "completed" ? "response.completed" : "response.incomplete", [("response", r)])
        return out
    }

    /// A failure after the stream started: an `error` event, then `response.failed` with what was
    /// produced so far.
    mutating func failed(_ error: OpenAIError) -> String {
        let code = JSONOut.string(error.code ?? error.type)
        var out = event("error", [("code", code), ("message", .string(error.message)), ("param", .optional(error.param))])
        let r = shapes.response(status: "failed", output: output, stats: nil,
                                error: ["code": code, "message": .string(error.message)])
        out += event("response.failed", [("response", r)])
        return out
    }

    private mutating func openItem(_ kind: Open) -> String {
        guard open != kind else { return "" }
        var out = closeItem()
        open = kind
        text = ""
        let index = JSONOut.int(output.count)
        switch kind {
        case .message:
            itemID = OpenAIShapes.newID("msg_")
            out += event("response.output_item.added", [("output_index", index),
                                                        ("item", shapes.messageItem(id: itemID, text: "", done: false))])
            out += event("response.content_part.added", [("item_id", .string(itemID)), ("output_index", index), ("content_index", 0),
                                                         ("part", ResponsesShapes.textPart(""))])
        case .reasoning:
            itemID = OpenAIShapes.newID("rs_")
            out += event("response.output_item.added", [("output_index", index),
                                                        ("item", shapes.reasoningItem(id: itemID, text: "", done: false))])
        }
        return out
    }

    private mutating func closeItem() -> String {
        guard let kind = open else { return "" }
        open = nil
        let index = JSONOut.int(output.count)
        var out = ""
        let item: JSONOut
        switch kind {
        case .message:
            out += event("response.output_text.done", [("item_id", .string(itemID)), ("output_index", index), ("content_index", 0),
                                                       ("text", .string(text)), ("logprobs", [])])
            out += event("response.content_part.done", [("item_id", .string(itemID)), ("output_index", index), ("content_index", 0),
                                                        ("part", ResponsesShapes.textPart(text))])
            item = shapes.messageItem(id: itemID, text: text, done: true)
        case .reasoning:
            out += event("response.reasoning_text.done", [("item_id", .string(itemID)), ("output_index", index), ("content_index", 0),
                                                          ("text", .string(text))])
            item = shapes.reasoningItem(id: itemID, text: text, done: true)
        }
        out += event("response.output_item.done", [("output_index", index), ("item", item)])
        output.append(item)
        return out
    }
}
