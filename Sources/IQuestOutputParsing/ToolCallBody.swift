// Collects the text of one `<tool_call>` body up to its `</tool_call>`. For Hermes the body is
// JSON, so a `</tool_call>` inside a JSON string (a model writing a file about tool calls) is text,
// not the end. The Qwen3-Coder body is raw XML-like text with no escaping, so there the first
// `</tool_call>` ends the call, as in vLLM.

struct ToolCallBody: Sendable {
    let jsonAware: Bool
    private(set) var scalars: [Unicode.Scalar] = []
    private var matcher = TagMatcher()
    private var inString = false
    private var escaped = false

    init(syntax: ToolCallSyntax) {
        jsonAware = syntax == .hermes
    }

    /// Adds one scalar; true when it completed `</tool_call>` (which is not part of the body).
    mutating func push(_ scalar: Unicode.Scalar) -> Bool {
        if inString {
            append(CollectionOfOne(scalar))
            return false
        }
        switch matcher.push(scalar, active: [.toolCallClose]) {
        case .tag: return true
        case .held: return false
        case .scalar(let scalar):
            append(CollectionOfOne(scalar))
            return false
        case .text(let text):
            append(text)
            return false
        }
    }

    /// End of generation inside the body: a partial `</tool_call>` is body text.
    mutating func releasePartial() {
        if case .text(let text) = matcher.release() { append(text) }
    }

    private mutating func append<S: Collection<Unicode.Scalar>>(_ text: S) {
        scalars.append(contentsOf: text)
        guard jsonAware else { return }
        for scalar in text {
            if !inString {
                inString = scalar == "\""
            } else if escaped {
                escaped = false
            } else if scalar == "\\" {
                escaped = true
            } else if scalar == "\"" {
                inString = false
            }
        }
    }
}
