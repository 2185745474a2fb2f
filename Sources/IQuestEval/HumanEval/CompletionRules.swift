import Foundation

/// How a model's text becomes the code appended to a HumanEval prompt. The same rules are written
/// in tools/humaneval_transformers.py; change both together.
///
/// Completion mode: the prompt is the problem's raw text; generation stops at the first of
/// `stopStrings` (the Codex paper's list: a new top-level statement means the function body has
/// ended) and the text is cut there again, so a server that ignores `stop` scores the same.
///
/// Chat mode: one user turn (`chatMessage`) through the checkpoint's chat template, no stop
/// strings. From the reply, the first fenced block that defines the entry point is taken (else the
/// first fenced block, else the whole reply when it has no fence; an unclosed fence runs to the
/// end). A block that defines `def entry_point(` is a full re-definition: it is appended after
/// the prompt on a new line (the prompt's own definition, a docstring only, is valid Python and is
/// replaced; helpers and imports of the prompt stay). Otherwise the block is a body: appended to
/// the prompt, indented by four spaces when its first line is not indented.
public enum CompletionRules {
    public static let stopStrings = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]

    /// `text` up to the first stop string.
    public static func truncate(_ text: String) -> String {
        var end = text.endIndex
        for stop in stopStrings {
            if let range = text.range(of: stop), range.lowerBound < end { end = range.lowerBound }
        }
        return String(text[..<end])
    }

    public static func chatMessage(for problem: HumanEvalProblem) -> String {
        "Complete the following Python function. Reply with the whole function in one ```python code block.\n\n```python\n"
            + problem.prompt + "```"
    }

    /// The code to append to the prompt for a chat reply.
    public static func extractChat(_ reply: String, problem: HumanEvalProblem) -> String {
        let blocks = fencedBlocks(reply)
        let definition = "def \(problem.entryPoint)("
        let code = blocks.first(where: { $0.contains(definition) }) ?? blocks.first ?? reply
        if code.contains(definition) { return "\n" + code + (code.hasSuffix("\n") ? "" : "\n") }
        return body(code)
    }

    /// Contents of ``` fences in order (the language tag line dropped).
    public static func fencedBlocks(_ text: String) -> [String] {
        var blocks: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "```") {
            var start = open.upperBound
            if let newline = rest[start...].firstIndex(of: "\n") { start = rest.index(after: newline) } else { break }
            if let close = rest[start...].range(of: "```") {
                blocks.append(String(rest[start..<close.lowerBound]))
                rest = rest[close.upperBound...]
            } else {
                blocks.append(String(rest[start...]))
                break
            }
        }
        return blocks
    }

    /// A function body: indented by four spaces unless its first non-empty line already is.
    static func body(_ code: String) -> String {
        let lines = code.split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else { return code }
        let text = first.hasPrefix(" ") || first.hasPrefix("\t") ? code
            : lines.map { $0.isEmpty ? "" : "    " + $0 }.joined(separator: "\n")
        return text.hasSuffix("\n") ? text : text + "\n"
    }
}
