import XCTest
import IQuestConstraints

/// The gate that decides where a constraint applies: once from the start, once after a marker
/// (</think>), or between each tool-call opener and the call's completion (strict tools under
/// tool_choice auto), with markers split across tokens and text around the calls left free.
final class ConstraintGateTests: XCTestCase {
    /// `<tool_call>{"n":DIGIT}</tool_call>` (the grammar begins with the opener).
    func callAutomaton() throws -> GrammarAutomaton {
        let b = GrammarBuilder()
        let root = b.rule([b.literal("<tool_call>{\"n\":") + [.bytes(ByteSet(UInt8(ascii: "0")...UInt8(ascii: "9")))] + b.literal("}</tool_call>")], name: "root")
        return try GrammarAutomaton(try b.build(start: root))
    }

    func feed(_ gate: inout ConstraintGate, _ tokens: [String]) -> [Bool] {
        tokens.map { gate.consume(Array($0.utf8)); return gate.active }
    }

    func testOpenerSwitchesOnAndCompletionSwitchesOff() throws {
        var gate = ConstraintGate(automaton: try callAutomaton(), opener: "<tool_call>")
        XCTAssertFalse(gate.active, "free text before any call")
        // The opener split over tokens; active only once it is complete.
        XCTAssertEqual(feed(&gate, ["Let me check. ", "<tool", "_call>", "{\"n\":", "7"]), [false, false, true, true, true])
        XCTAssertTrue(gate.automaton.allowedBytes(gate.state).contains(UInt8(ascii: "}")))
        XCTAssertFalse(gate.isFinished, "an opener gate never ends generation")
        XCTAssertEqual(feed(&gate, ["}</tool_call>"]), [false])
        XCTAssertEqual(gate.completed, 1)
        // Free text again (the grammar would reject it), then a second call in one token.
        XCTAssertEqual(feed(&gate, ["\nand more", " text <tool_call>{\"n\":"]), [false, true])
        XCTAssertTrue(gate.automaton.allowedBytes(gate.state).contains(UInt8(ascii: "3")))
        XCTAssertFalse(gate.automaton.allowedBytes(gate.state).contains(UInt8(ascii: "x")))
        XCTAssertEqual(feed(&gate, ["3}</tool_call>"]), [false])
        XCTAssertEqual(gate.completed, 2)
    }

    func testOpenerFollowedByTextTheGrammarRejectsStaysFree() throws {
        var gate = ConstraintGate(automaton: try callAutomaton(), opener: "<tool_call>")
        // Already emitted and not a call: nothing to constrain; a later real opener still counts.
        XCTAssertEqual(feed(&gate, ["<tool_call> is a tag", ". <tool_call>"]), [false, true])
    }

    func testOpenerWaitsForTheReasoningEnd() throws {
        var gate = ConstraintGate(automaton: try callAutomaton(), startAfter: "</think>", opener: "<tool_call>")
        XCTAssertEqual(feed(&gate, ["<think>maybe <tool_call>", " no</thi", "nk>", "<tool_call>"]), [false, false, false, true])
    }

    func testMarkerOnlyGateAppliesOnceAndFinishes() throws {
        let b = GrammarBuilder()
        let automaton = try GrammarAutomaton(try b.build(start: b.rule([b.literal("ok")], name: "root")))
        var gate = ConstraintGate(automaton: automaton, startAfter: "</think>")
        XCTAssertEqual(feed(&gate, ["<think>x</th", "ink>o"]), [false, true])
        XCTAssertFalse(gate.isFinished)
        XCTAssertEqual(feed(&gate, ["k"]), [true])
        XCTAssertTrue(gate.isFinished, "complete, nothing may follow")
        let plain = ConstraintGate(automaton: automaton)
        XCTAssertTrue(plain.active, "no marker, no opener: from the first token")
    }
}
