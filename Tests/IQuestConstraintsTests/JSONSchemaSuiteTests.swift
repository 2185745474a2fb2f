import Foundation
import XCTest
import IQuestConstraints

/// The official JSON-Schema-Test-Suite (draft 2020-12, from the jsonschema sdist; fetched by
/// tools/fetch-assets.sh): every supported schema accepts each valid instance (compact and
/// pretty) token by token through SmolLM2's masks with EOS at the end, and rejects each invalid
/// one before EOS. Unsupported schemas are counted and listed.
final class JSONSchemaSuiteTests: XCTestCase {
    /// The suite treats `format` as an annotation (2020-12's default), oneOf as exclusive and 1.0
    /// as an integer, so it runs with format unenforced, oneOf refused and zero fractions allowed
    /// on integers: every compiled grammar is then exact.
    static var suiteOptions: JSONSchemaOptions {
        var o = JSONSchemaOptions()
        o.enforceFormat = false
        o.oneOfAsAnyOf = false
        o.integerAllowsZeroFraction = true
        return o
    }

    /// Reached on this engine; the suite fails if coverage drops below it.
    static let minimumSupportedGroups = 148

    func testOfficialSuiteDraft2020_12() throws {
        let dir = try ConstraintAssets.cached("json-schema-test-suite/draft2020-12")
        let (tokenizer, vocabulary) = try ConstraintAssets.smollm2()
        let walker = SchemaWalk(tokenizer: tokenizer, vocabulary: vocabulary)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertGreaterThan(files.count, 40)
        var groups = 0, supported = 0, instances = 0
        var unsupported: [String] = [], failures: [String] = []
        var unsupportedByKeyword: [String: Int] = [:]
        for file in files {
            let suite = try JSONValue.parse(Array(try Data(contentsOf: dir.appendingPathComponent(file))))
            for group in suite.arrayValue ?? [] {
                groups += 1
                let name = "\(file): \(group["description"]?.stringValue ?? "?")"
                guard let schema = group["schema"] else { continue }
                let grammar: Grammar
                do {
                    grammar = try JSONSchemaCompiler.grammar(for: schema, options: Self.suiteOptions)
                } catch {
                    unsupported.append("\(name) — \(error)")
                    if case ConstraintError.unsupportedKeyword(let k, _, _) = error { unsupportedByKeyword[k, default: 0] += 1 }
                    else { unsupportedByKeyword["(other)", default: 0] += 1 }
                    continue
                }
                supported += 1
                let masker = TokenMasker(vocabulary: vocabulary, automaton: try GrammarAutomaton(grammar))
                for test in group["tests"]?.arrayValue ?? [] {
                    guard let data = test["data"], let valid = test["valid"]?.boolValue else { continue }
                    for text in [data.serialized(), data.serialized(indent: 2)] {
                        instances += 1
                        let outcome = walker.walk(text, masker: masker)
                        if (outcome == .accepted) != valid {
                            failures.append("\(name) / \(test["description"]?.stringValue ?? "?"): \(valid ? "valid rejected" : "invalid accepted") (\(outcome)) \(text.prefix(80))")
                        }
                    }
                }
            }
        }
        print("JSON-Schema-Test-Suite draft2020-12: \(supported)/\(groups) schema groups supported (\(String(format: "%.1f", 100.0 * Double(supported) / Double(groups)))%), \(instances) instance walks, \(failures.count) failures")
        print("unsupported by keyword: \(unsupportedByKeyword.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        for u in unsupported { print("  unsupported: \(u)") }
        for f in failures { print("  FAILURE: \(f)") }
        XCTAssertGreaterThanOrEqual(supported, Self.minimumSupportedGroups)
        XCTAssertEqual(failures.count, 0, "every valid instance accepted and every invalid one rejected")
    }
}
