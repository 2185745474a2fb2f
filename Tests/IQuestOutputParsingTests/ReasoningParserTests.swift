import XCTest
import IQuestOutputParsing

// `<think>…</think>` splitting (vLLM qwen3 / deepseek_r1 semantics), including the broken shapes
// real models emit. Newlines right after a think tag and whitespace right before one are dropped.

final class ReasoningParserTests: XCTestCase {
    static let cases: [ParserCase] = [
        ParserCase("model opens and closes", .thinking,
                   "<think>\nLet me add.\n2+2=4\n</think>\n\nThe answer is 4.",
                   [reasoning("Let me add.\n2+2=4"), content("The answer is 4.")]),
        ParserCase("prompt opened the block", .promptOpened,
                   "\nLet me add.\n</think>\n\nFour.",
                   [reasoning("Let me add."), content("Four.")]),
        ParserCase("missing </think>: all reasoning", .thinking,
                   "<think>\nstill thinking when the budget ran out",
                   [reasoning("still thinking when the budget ran out")]),
        ParserCase("prompt opened, never closed; trailing whitespace is not before a tag", .promptOpened,
                   "thinking forever\n",
                   [reasoning("thinking forever\n")]),
        ParserCase("missing opener: text before </think> is reasoning", .thinking,
                   "I reason here.\n</think>\n\nAnswer",
                   [reasoning("I reason here."), content("Answer")]),
        ParserCase("no tags with reasoning on: content", .thinking,
                   "Just an answer.\n",
                   [content("Just an answer.\n")]),
        ParserCase("reasoning off: tags are text", .plain,
                   "<think>x</think>y",
                   [content("<think>x</think>y")]),
        ParserCase("empty reasoning block", .thinking,
                   "<think></think>\n\nHi",
                   [content("Hi")]),
        ParserCase("template-style empty block", .thinking,
                   "<think>\n\n</think>\n\nHi",
                   [content("Hi")]),
        ParserCase("model repeats the prompt's opener", .promptOpened,
                   "<think>\nreason</think>ans",
                   [reasoning("reason"), content("ans")]),
        ParserCase("think tags after </think> are content", .thinking,
                   "<think>a</think>b<think>c</think>",
                   [reasoning("a"), content("b<think>c</think>")]),
        ParserCase("a later <think> inside reasoning is text", .thinking,
                   "<think>compare <think> with </think>done",
                   [reasoning("compare <think> with"), content("done")]),
        ParserCase("text before the opener is content", .thinking,
                   "Hi <think>r</think>x",
                   [content("Hi"), reasoning("r"), content("x")]),
        ParserCase("unfinished tag at the end is text", .promptOpened,
                   "a</thin",
                   [reasoning("a</thin")]),
        ParserCase("unfinished opener at the end is text", .thinking,
                   "see <thi",
                   [content("see <thi")]),
        ParserCase("angle brackets that are not tags", .thinking,
                   "if a < b and <b>bold</b> <<think>x</think>",
                   [content("if a < b and <b>bold</b> <"), reasoning("x")]),
        ParserCase("only newlines are trimmed after </think>, indentation stays", .promptOpened,
                   "r</think>\r\n\n    return 1",
                   [reasoning("r"), content("    return 1")]),
        ParserCase("emoji and CJK", .thinking,
                   "<think>思考中 🤔 é</think>\n答案是 4 ✅",
                   [reasoning("思考中 🤔 é"), content("答案是 4 ✅")]),
        ParserCase("combining mark right after a tag", .promptOpened,
                   "x</think>\u{301}y",
                   [reasoning("x"), content("\u{301}y")]),
        ParserCase("tool syntax off: tool text inside reasoning stays", .thinking,
                   "<think><tool_call>{}</tool_call></think>ok",
                   [reasoning("<tool_call>{}</tool_call>"), content("ok")]),
        ParserCase("empty output", .thinking, "", []),
        ParserCase("empty output after an opened prompt", .promptOpened, "", []),
    ]

    func testTable() {
        assertTable(Self.cases)
    }

    /// Past `undecidedLimit` without a tag the held text is content and a stray `</think>` stays
    /// visible in it, so a reply without reasoning is not held back until the end.
    func testUndecidedLimitReleasesContent() {
        let long = String(repeating: "word ", count: ChatOutputParser.undecidedLimit / 5 + 2)
        let output = long + "</think>tail"
        XCTAssertEqual(ParserConfig.thinking.parse(output), [content(output)])

        var parser = ParserConfig.thinking.makeParser()
        XCTAssertEqual(parser.feed("short"), [], "held while it may still turn out to be reasoning")
        let released = parser.feed(long)
        XCTAssertEqual(released, [content("short" + long.dropLast())], "released at the limit")
    }

    /// Content streams at once when the block is known (no hold), and a partial tag is held.
    func testStreamsWithoutHoldingOnceDecided() {
        var parser = ParserConfig.promptOpened.makeParser()
        XCTAssertEqual(parser.feed("step one\n"), [reasoning("step one")], "the newline waits for what follows")
        XCTAssertEqual(parser.feed("</th"), [], "a tag prefix is held")
        XCTAssertEqual(parser.feed("ink>\n\nDone"), [content("Done")])
        XCTAssertEqual(parser.finish(), [])
    }

    func testFinishFlushesHeldPrefixAsText() {
        var parser = ParserConfig.promptOpened.makeParser()
        XCTAssertEqual(parser.feed("a</"), [reasoning("a")])
        XCTAssertEqual(parser.finish(), [reasoning("</")])
    }
}
