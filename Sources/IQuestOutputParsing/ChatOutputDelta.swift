// The values the chat output parser hands to the server: pieces of content, of reasoning, and whole
// tool calls, in the order the model produced them.

/// One tool call recovered from the model's text. `arguments` is a JSON object as text, the way
/// OpenAI's API returns it, keeping the key order the model wrote.
public struct ParsedToolCall: Equatable, Sendable {
    public var name: String
    public var arguments: String

    public init(name: String, arguments: String) {
        self.name = name
        self.arguments = arguments
    }
}

public enum ChatOutputDelta: Equatable, Sendable {
    case content(String)
    case reasoning(String)
    case toolCall(ParsedToolCall)
}

/// The two tool-call formats IQuest-Coder checkpoints are trained on (spec §6). Raw values are the
/// names vLLM's `--tool-call-parser` uses.
public enum ToolCallSyntax: String, Sendable, CaseIterable {
    /// `<tool_call>{"name": …, "arguments": {…}}</tool_call>`
    case hermes
    /// `<tool_call><function=NAME><parameter=P>value</parameter></function></tool_call>`
    case qwen3Coder = "qwen3_coder"
}

/// Collects deltas, growing the current text run in place so a long feed costs linear time.
struct DeltaBuilder {
    private var deltas: [ChatOutputDelta] = []
    private var run = ""
    private var runIsReasoning = false

    mutating func appendText<S: Sequence<Unicode.Scalar>>(_ text: S, reasoning: Bool) {
        if reasoning != runIsReasoning {
            closeRun()
            runIsReasoning = reasoning
        }
        // One scalar at a time: UnicodeScalarView.append(contentsOf:) rebuilds the whole string.
        for scalar in text { run.unicodeScalars.append(scalar) }
    }

    mutating func append(_ call: ParsedToolCall) {
        closeRun()
        deltas.append(.toolCall(call))
    }

    mutating func build() -> [ChatOutputDelta] {
        closeRun()
        defer { deltas = [] }
        return deltas
    }

    private mutating func closeRun() {
        guard !run.isEmpty else { return }
        deltas.append(runIsReasoning ? .reasoning(run) : .content(run))
        run = ""
    }
}

extension [ChatOutputDelta] {
    /// Adjacent deltas of the same text kind merged (tool calls never merge), as `parse` returns.
    public func mergingAdjacentText() -> [ChatOutputDelta] {
        var builder = DeltaBuilder()
        for delta in self {
            switch delta {
            case .content(let text): builder.appendText(text.unicodeScalars, reasoning: false)
            case .reasoning(let text): builder.appendText(text.unicodeScalars, reasoning: true)
            case .toolCall(let call): builder.append(call)
            }
        }
        return builder.build()
    }
}

extension String {
    /// A string from scalars, appended in place (the sequence initializers copy per append).
    init<S: Sequence<Unicode.Scalar>>(scalars: S) {
        self.init()
        for scalar in scalars { unicodeScalars.append(scalar) }
    }
}
