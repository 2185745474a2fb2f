// Splits generated text into content, reasoning (`<think>…</think>`) and tool calls while it
// streams. One state machine serves streaming and `parse`: it reads Unicode scalars one at a time
// and keeps all state between feeds, so where the text was split never changes what comes out,
// only how it is grouped into deltas.
//
// Reasoning follows vLLM's qwen3/deepseek_r1 parsers: the text before `</think>` is reasoning,
// whether the model wrote `<think>` itself or the prompt opened it. A second `<think>` before any
// reasoning text is swallowed (models repeat the opener the prompt already has); after
// `</think>`, think tags are plain content. Tool calls are recognized in content and in reasoning.

public struct ChatOutputParser: Sendable {
    /// While reasoning is on but the prompt did not open `<think>`, text before the first tag is
    /// held back: a later `</think>` makes it reasoning (a model that skipped the opener), anything
    /// else makes it content. Past this many scalars it is released as content so ordinary
    /// replies still stream; a `</think>` after that point is plain content.
    public static let undecidedLimit = 256

    private let reasoningEnabled: Bool
    private let toolSyntax: ToolCallSyntax?
    private let parameterTypes: [String: [String: String]]

    private var matcher = TagMatcher()
    private var emitter: PartEmitter
    /// Reasoning is on, the prompt did not open it and no think tag has been seen yet.
    private var undecided: Bool
    private var held = HeldOutput()
    /// The body of the `<tool_call>` being read, if any.
    private var callBody: ToolCallBody?

    /// - reasoning: parse `<think>…</think>`; startsInReasoning: the prompt already opened
    ///   `<think>` (ignored when reasoning is off).
    /// - toolSyntax nil: no tool parsing (tool-like text stays content).
    /// - parameterTypes: function name → parameter name → JSON-schema "type", used to type
    ///   Qwen3-Coder XML values.
    public init(reasoning: Bool, startsInReasoning: Bool, toolSyntax: ToolCallSyntax?,
                parameterTypes: [String: [String: String]] = [:]) {
        reasoningEnabled = reasoning
        self.toolSyntax = toolSyntax
        self.parameterTypes = parameterTypes
        let inReasoning = reasoning && startsInReasoning
        emitter = PartEmitter(reasoning: inReasoning, leadingTrim: inReasoning ? .newlines : .none)
        undecided = reasoning && !startsInReasoning
    }

    /// Text as it is generated, split anywhere. Returns what is certain so far; a possible tag
    /// at the end is held back until the next feed or `finish()` decides it.
    public mutating func feed(_ text: String) -> [ChatOutputDelta] {
        var out = DeltaBuilder()
        run(text.unicodeScalars, into: &out)
        return out.build()
    }

    /// End of generation: a partial tag is text, an unclosed tool call is recovered if complete
    /// and otherwise goes out as the text it was, held text is released.
    public mutating func finish() -> [ChatOutputDelta] {
        var out = DeltaBuilder()
        while true {
            if var body = callBody {
                callBody = nil
                body.releasePartial()
                run(endCall(body, closed: false, into: &out), into: &out)
            } else if !matcher.partial.isEmpty {
                if case .text(let text) = matcher.release() { writeText(text, into: &out) }
            } else {
                break
            }
        }
        if undecided { decide(reasoning: false, into: &out) }
        emitter.flush(into: &out)
        return out.build()
    }

    /// The whole output at once: `feed` + `finish`, adjacent deltas of the same kind merged.
    public static func parse(_ text: String, reasoning: Bool, startsInReasoning: Bool, toolSyntax: ToolCallSyntax?,
                             parameterTypes: [String: [String: String]] = [:]) -> [ChatOutputDelta] {
        var parser = ChatOutputParser(reasoning: reasoning, startsInReasoning: startsInReasoning,
                                      toolSyntax: toolSyntax, parameterTypes: parameterTypes)
        return (parser.feed(text) + parser.finish()).mergingAdjacentText()
    }

    /// Steps through `scalars`; the text of a failed tool call is pushed back to be read again
    /// (a stack, not recursion, so nested broken calls cannot exhaust the stack).
    private mutating func run<S: Sequence<Unicode.Scalar>>(_ scalars: S, into out: inout DeltaBuilder) {
        var stack = Array(scalars.reversed())
        while let scalar = stack.popLast() {
            let replay = step(scalar, into: &out)
            stack.append(contentsOf: replay.reversed())
        }
    }

    /// Reads one scalar; returns scalars to read again before the rest.
    private mutating func step(_ scalar: Unicode.Scalar, into out: inout DeltaBuilder) -> [Unicode.Scalar] {
        if var body = callBody {
            callBody = nil  // keeps the body's buffer uniquely owned while it grows
            guard body.push(scalar) else {
                callBody = body
                return []
            }
            return endCall(body, closed: true, into: &out)
        }
        switch matcher.push(scalar, active: activeTags) {
        case .held: break
        case .text(let text): writeText(text, into: &out)
        case .scalar(let scalar): writeText(CollectionOfOne(scalar), into: &out)
        case .tag(let tag): handle(tag, into: &out)
        }
        return []
    }

    /// The tags that mean something now; the rest is text. Static tables, as this runs per scalar.
    private var activeTags: [Tag] {
        let index: Int
        if undecided || (reasoningEnabled && emitter.isReasoning && emitter.isEmpty) {
            index = 2  // both think tags (a repeated opener is swallowed while reasoning is empty)
        } else if reasoningEnabled && emitter.isReasoning {
            index = 1
        } else {
            index = 0
        }
        return toolSyntax == nil ? Self.tagSets[index] : Self.tagSetsWithTools[index]
    }

    private static let tagSets: [[Tag]] = [[], [.thinkClose], [.thinkOpen, .thinkClose]]
    private static let tagSetsWithTools: [[Tag]] = tagSets.map { $0 + [.toolCallOpen] }

    private mutating func handle(_ tag: Tag, into out: inout DeltaBuilder) {
        switch tag {
        case .thinkOpen:
            if undecided { decide(reasoning: false, into: &out) }
            emitter.startPart(reasoning: true, leadingTrim: .newlines)
        case .thinkClose:
            if undecided { decide(reasoning: true, into: &out) }
            emitter.startPart(reasoning: false, leadingTrim: .newlines)
        case .toolCallOpen:
            if let toolSyntax { callBody = ToolCallBody(syntax: toolSyntax) }
        case .toolCallClose:
            break  // only active inside a call body, which ToolCallBody reads
        }
    }

    /// A finished body: its calls go out, or, when it is not a valid call, `<tool_call>` goes out
    /// as text and the body (and closing tag) is returned to be read again as ordinary output.
    private mutating func endCall(_ body: ToolCallBody, closed: Bool, into out: inout DeltaBuilder) -> [Unicode.Scalar] {
        if let calls = toolCalls(in: body, closed: closed) {
            if undecided { held.append(calls) } else { emitter.writeCalls(calls, into: &out) }
            return []
        }
        writeText(Tag.toolCallOpen.scalars, into: &out)
        return body.scalars + (closed ? Tag.toolCallClose.scalars : [])
    }

    /// A body cut off by the end of generation counts only when it is complete by itself.
    private func toolCalls(in body: ToolCallBody, closed: Bool) -> [ParsedToolCall]? {
        switch toolSyntax {
        case .hermes: HermesToolCall.parse(body.scalars).map { [$0] }
        case .qwen3Coder: Qwen3CoderToolCall.parse(String(scalars: body.scalars),
                                                   requireComplete: !closed, parameterTypes: parameterTypes)
        case nil: nil
        }
    }

    private mutating func writeText<S: Collection<Unicode.Scalar>>(_ text: S, into out: inout DeltaBuilder) {
        guard undecided else {
            emitter.write(text, into: &out)
            return
        }
        held.append(text)
        if held.textCount > Self.undecidedLimit { decide(reasoning: false, into: &out) }
    }

    /// Ends the undecided start: what was held is replayed as the part it turned out to be.
    private mutating func decide(reasoning: Bool, into out: inout DeltaBuilder) {
        undecided = false
        emitter = PartEmitter(reasoning: reasoning, leadingTrim: reasoning ? .newlines : .none)
        for item in held.take() {
            switch item {
            case .text(let text): emitter.write(text, into: &out)
            case .calls(let calls): emitter.writeCalls(calls, into: &out)
            }
        }
    }
}

/// Output read while it is not yet known whether it is reasoning or content, in order.
private struct HeldOutput: Sendable {
    enum Item: Sendable {
        case text([Unicode.Scalar])
        case calls([ParsedToolCall])
    }

    private var items: [Item] = []
    private var run: [Unicode.Scalar] = []
    private(set) var textCount = 0

    mutating func append<S: Collection<Unicode.Scalar>>(_ text: S) {
        run.append(contentsOf: text)
        textCount += text.count
    }

    mutating func append(_ calls: [ParsedToolCall]) {
        closeRun()
        items.append(.calls(calls))
    }

    mutating func take() -> [Item] {
        closeRun()
        defer { items = [] }
        return items
    }

    private mutating func closeRun() {
        if !run.isEmpty { items.append(.text(run)) }
        run = []
    }
}
