import XCTest
import IQuestOutputParsing

// A table row shared by the per-format tests and the streaming-split property test, so every text
// the tables check is also checked split at every boundary.

struct ParserConfig {
    var reasoning = false
    var startsInReasoning = false
    var toolSyntax: ToolCallSyntax?
    var parameterTypes: [String: [String: String]] = [:]

    static let plain = ParserConfig()
    static let thinking = ParserConfig(reasoning: true)
    static let promptOpened = ParserConfig(reasoning: true, startsInReasoning: true)

    static func tools(_ syntax: ToolCallSyntax, reasoning: Bool = false, startsInReasoning: Bool = false,
                      types: [String: [String: String]] = [:]) -> ParserConfig {
        ParserConfig(reasoning: reasoning, startsInReasoning: startsInReasoning, toolSyntax: syntax, parameterTypes: types)
    }

    func makeParser() -> ChatOutputParser {
        ChatOutputParser(reasoning: reasoning, startsInReasoning: startsInReasoning,
                         toolSyntax: toolSyntax, parameterTypes: parameterTypes)
    }

    func parse(_ text: String) -> [ChatOutputDelta] {
        ChatOutputParser.parse(text, reasoning: reasoning, startsInReasoning: startsInReasoning,
                               toolSyntax: toolSyntax, parameterTypes: parameterTypes)
    }

    /// Feeds `pieces` one by one, then finishes; the deltas merged like `parse` merges them.
    func stream(_ pieces: [String]) -> [ChatOutputDelta] {
        var parser = makeParser()
        var deltas: [ChatOutputDelta] = []
        for piece in pieces { deltas += parser.feed(piece) }
        deltas += parser.finish()
        return deltas.mergingAdjacentText()
    }
}

struct ParserCase {
    var name: String
    var config: ParserConfig
    var input: String
    var expected: [ChatOutputDelta]

    init(_ name: String, _ config: ParserConfig, _ input: String, _ expected: [ChatOutputDelta]) {
        self.name = name
        self.config = config
        self.input = input
        self.expected = expected
    }
}

func content(_ text: String) -> ChatOutputDelta { .content(text) }
func reasoning(_ text: String) -> ChatOutputDelta { .reasoning(text) }
func call(_ name: String, _ arguments: String) -> ChatOutputDelta {
    .toolCall(ParsedToolCall(name: name, arguments: arguments))
}

/// Checks every row with `parse`, naming the row on failure.
func assertTable(_ cases: [ParserCase], file: StaticString = #filePath, line: UInt = #line) {
    for row in cases {
        XCTAssertEqual(row.config.parse(row.input), row.expected, row.name, file: file, line: line)
    }
}
