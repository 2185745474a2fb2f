import XCTest
import IQuestConstraints

/// The matcher on hand-written grammars, regexes and schemas: accepted and rejected sentences.
final class GrammarTests: XCTestCase {
    func automaton(schema: String) throws -> GrammarAutomaton {
        try GrammarAutomaton(try JSONSchemaCompiler.grammar(for: try JSONValue.parse(schema)))
    }

    func assertLanguage(_ a: GrammarAutomaton, accepts yes: [String], rejects no: [String], file: StaticString = #filePath, line: UInt = #line) {
        for y in yes { XCTAssertTrue(GrammarMatcher.accepts(a, Array(y.utf8)), "should accept \(y)", file: file, line: line) }
        for n in no { XCTAssertFalse(GrammarMatcher.accepts(a, Array(n.utf8)), "should reject \(n)", file: file, line: line) }
    }

    func testIntegerRanges() throws {
        assertLanguage(try automaton(schema: #"{"type":"integer","minimum":-15,"maximum":230}"#),
                       accepts: ["-15", "0", "7", "230", "99", "-9", "100"], rejects: ["-16", "231", "01", "-0", "1000", "1.5", ""])
        assertLanguage(try automaton(schema: #"{"type":"integer","exclusiveMinimum":9}"#),
                       accepts: ["10", "99", "123456"], rejects: ["9", "0", "-1"])
        // Exhaustive over a small window against the arithmetic.
        let a = try automaton(schema: #"{"type":"integer","minimum":-123,"maximum":1045}"#)
        for n in -300...1300 {
            XCTAssertEqual(GrammarMatcher.accepts(a, Array(String(n).utf8)), (-123...1045).contains(n), "\(n)")
        }
    }

    func testStringsLengthsAndEscapes() throws {
        assertLanguage(try automaton(schema: #"{"type":"string","maxLength":3}"#),
                       accepts: [#""""#, #""abc""#, #""\n\u0041b""#, "\"é€😀\""], rejects: [#""abcd""#, "\"\u{01}\"", "\"a", #""\x""#])
        assertLanguage(try automaton(schema: #"{"type":"string","minLength":2}"#), accepts: [#""ab""#], rejects: [#""a""#])
        // Invalid UTF-8 never passes.
        let a = try automaton(schema: #"{"type":"string"}"#)
        XCTAssertFalse(GrammarMatcher.accepts(a, [0x22, 0xC0, 0x80, 0x22]))
        XCTAssertFalse(GrammarMatcher.accepts(a, [0x22, 0xED, 0xA0, 0x80, 0x22]))  // a surrogate
        XCTAssertTrue(GrammarMatcher.accepts(a, [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22]))
    }

    func testObjects() throws {
        assertLanguage(try automaton(schema: #"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"]}"#),
                       accepts: [#"{"a":1}"#, #"{"a":1,"b":"x"}"#, #"{ "a" : 1 , "b" : "x" }"#, #"{"a":1,"c":null}"#, #"{"a":1,"b":"x","zz":[1,2,{"q":true}]}"#],
                       rejects: [#"{}"#, #"{"b":"x"}"#, #"{"a":1,"a":2}"#, #"{"a":"1"}"#, #"{"a":1,"b":"x","b":"y"}"#])
        assertLanguage(try automaton(schema: #"{"type":"object","properties":{"name":{"type":"string"}},"additionalProperties":false}"#),
                       accepts: [#"{}"#, #"{"name":"x"}"#], rejects: [#"{"nam":"x"}"#, #"{"names":1}"#, #"{"":1}"#])
    }

    func testArraysAndTuples() throws {
        assertLanguage(try automaton(schema: #"{"type":"array","items":{"type":"number"},"minItems":2,"maxItems":3}"#),
                       accepts: ["[1,2]", "[1.5, -2e10, 3]"], rejects: ["[]", "[1]", "[1,2,3,4]", "[1,]"])
        assertLanguage(try automaton(schema: #"{"prefixItems":[{"type":"integer"},{"type":"string"}],"items":false}"#),
                       accepts: ["[]", "[1]", #"[1,"a"]"#, "3", "null"], rejects: [#"[1,"a",2]"#, #"["a"]"#])
    }

    func testRecursionEnumsAnyOfAllOf() throws {
        assertLanguage(try automaton(schema: ##"{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"],"additionalProperties":false}},"$ref":"#/$defs/node"}"##),
                       accepts: [#"{"v":1,"next":{"v":2,"next":{"v":3,"next":null}}}"#], rejects: [#"{"v":1}"#, #"{"v":1,"next":{"v":2}}"#])
        assertLanguage(try automaton(schema: #"{"enum":["a",1,null,{"x":[1,2]}]}"#),
                       accepts: [#""a""#, "1", "null", #"{"x":[1,2]}"#, #"{ "x" : [ 1 , 2 ] }"#], rejects: [#""b""#, "2", #"{"x":[2,1]}"#])
        assertLanguage(try automaton(schema: #"{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"boolean"}},"required":["b"]}]}"#),
                       accepts: [#"{"a":1,"b":true}"#], rejects: [#"{"a":1}"#, #"{"b":true}"#])
    }

    func testPatternsAndFormats() throws {
        assertLanguage(try automaton(schema: #"{"type":"string","pattern":"^[a-z]+\\d{2}$"}"#), accepts: [#""ab12""#], rejects: [#""ab1""#, #""AB12""#])
        assertLanguage(try automaton(schema: #"{"type":"string","pattern":"ab"}"#), accepts: [#""xxabyy""#, #""ab""#], rejects: [#""a b""#])
        assertLanguage(try automaton(schema: #"{"type":"string","pattern":"^a\"b\\\\$"}"#), accepts: [#""a\"b\\""#], rejects: [#""a"b\\""#])
        assertLanguage(try automaton(schema: #"{"type":"string","format":"date"}"#), accepts: [#""2024-02-28""#, #""2024-12-31""#], rejects: [#""2024-13-01""#, #""2023-09-31""#])
        assertLanguage(try automaton(schema: #"{"type":"string","format":"uuid"}"#),
                       accepts: [#""123e4567-e89b-12d3-a456-426614174000""#], rejects: [#""123e4567""#])
    }

    func testWhitespaceIsBounded() throws {
        let a = try automaton(schema: #"{"type":"array"}"#)
        XCTAssertTrue(GrammarMatcher.accepts(a, Array(("[" + String(repeating: " ", count: 20) + "]").utf8)))
        XCTAssertFalse(GrammarMatcher.accepts(a, Array(("[" + String(repeating: " ", count: 21) + "]").utf8)))
    }

    func testUnsupportedKeywordsNameKeywordAndPointer() throws {
        let cases: [(String, String, String)] = [
            (#"{"not":{"type":"string"}}"#, "not", "/not"),
            (#"{"properties":{"a":{"type":"string","minLength":2,"pattern":"x"}}}"#, "minLength", "/properties/a/minLength"),
            (#"{"items":{"multipleOf":3}}"#, "multipleOf", "/items/multipleOf"),
            (#"{"$ref":"http://example.com/s.json"}"#, "$ref", "/$ref"),
            (#"{"type":"string","pattern":"(a)\\1"}"#, "pattern", "/pattern"),
        ]
        for (schema, keyword, pointer) in cases {
            XCTAssertThrowsError(try JSONSchemaCompiler.grammar(for: try JSONValue.parse(schema))) { error in
                guard case ConstraintError.unsupportedKeyword(let k, let p, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(k, keyword)
                XCTAssertEqual(p, pointer)
            }
        }
        XCTAssertThrowsError(try JSONSchemaCompiler.grammar(for: try JSONValue.parse(##"{"$ref":"#/$defs/missing"}"##)))
    }

    func testGBNFRegexChoice() throws {
        let g = try GrammarAutomaton(try GBNF.parse("""
            # a comment
            root ::= "a" [0-9]+ tail?
            tail ::= ("x" | "y") [^\\n]{0,2}
            """))
        assertLanguage(g, accepts: ["a1", "a12x", "a0yé!"], rejects: ["a", "ax", "a1xabc", "a1x\n"])
        XCTAssertThrowsError(try GBNF.parse("root ::= root \"a\"\n"))
        XCTAssertThrowsError(try GBNF.parse("root ::= missing\n"))
        XCTAssertThrowsError(try GBNF.parse("start ::= \"a\"\n"))
        assertLanguage(try GrammarAutomaton(try ChoiceGrammar.regex(#"(\d{3}-)?\d{4}|[A-F]+"#)),
                       accepts: ["123-4567", "4567", "ABF"], rejects: ["12-4567", "abf", "4567 "])
        assertLanguage(try GrammarAutomaton(try ChoiceGrammar.grammar(["yes", "no", "maybe so"])),
                       accepts: ["yes", "no", "maybe so"], rejects: ["ye", "yess", ""])
        XCTAssertThrowsError(try ChoiceGrammar.regex("(?=a)b"))
    }
}
