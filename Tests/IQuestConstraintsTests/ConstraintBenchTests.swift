import Foundation
import XCTest
import IQuestConstraints
import IQuestTokenizer

/// Coverage and timing figures (printed, not asserted beyond sanity): compile time (schema →
/// grammar → automaton → first mask) and mask time per token while valid instances are walked
/// token by token, on SmolLM2's vocabulary (49,152) and Qwen2's (151,646, a 128k-class vocab);
/// plus the shared JSONSchemaBench corpus per category when ../shared/data/jsonschemabench exists.
final class ConstraintBenchTests: XCTestCase {
    struct Figures {
        var compileMs: [Double] = []
        var maskUs: [Double] = []
        var missUs: [Double] = []
        mutating func report(_ label: String) {
            let p = ConstraintAssets.percentile
            print(String(format: "%@: compile p50 %.2f ms p99 %.2f ms (%d schemas); mask p50 %.1f µs p99 %.1f µs (%d tokens); uncached masks p50 %.1f µs p99 %.1f µs (%d)",
                         label, p(compileMs, 0.5), p(compileMs, 0.99), compileMs.count, p(maskUs, 0.5), p(maskUs, 0.99), maskUs.count,
                         p(missUs, 0.5), p(missUs, 0.99), missUs.count))
        }
    }

    struct Outcome { var compiled = false; var error: String?; var soundFailures = 0; var instances = 0 }

    /// Compiles one schema and walks its instances (compact), timing every mask.
    static func run(schema: JSONValue, tests: [(JSONValue, Bool)], tokenizer: any Tokenizer, vocabulary: TokenVocabulary,
                    options: JSONSchemaOptions, figures: inout Figures) -> Outcome {
        var out = Outcome()
        let t0 = ConstraintAssets.now()
        let masker: TokenMasker
        do {
            let grammar = try JSONSchemaCompiler.grammar(for: schema, options: options)
            masker = TokenMasker(vocabulary: vocabulary, automaton: try GrammarAutomaton(grammar))
            _ = masker.mask(masker.automaton.initialState)
        } catch {
            out.error = "\(error)"
            return out
        }
        figures.compileMs.append(Double(ConstraintAssets.now() - t0) / 1e6)
        out.compiled = true
        for (data, valid) in tests {
            let ids = tokenizer.encode(data.serialized(), addSpecialTokens: false)
            var state = masker.automaton.initialState
            var accepted = true
            for id in ids {
                let hadState = masker.automaton.stateCount
                let t = ConstraintAssets.now()
                let mask = masker.mask(state)
                let us = Double(ConstraintAssets.now() - t) / 1e3
                figures.maskUs.append(us)
                if masker.automaton.stateCount != hadState || us > 20 { figures.missUs.append(us) }
                guard mask.allows(id), let bytes = vocabulary.bytes[id] else { accepted = false; break }
                var m = GrammarMatcher(masker.automaton, state: state)
                m.advance(bytes)
                state = m.state
            }
            if accepted { accepted = masker.mask(state).allows(vocabulary.stopIds.first ?? -1) }
            out.instances += 1
            if accepted != valid { out.soundFailures += 1 }
        }
        return out
    }

    func testSuiteTimingOnTwoVocabularies() throws {
        let dir = try ConstraintAssets.cached("json-schema-test-suite/draft2020-12")
        var cases: [(JSONValue, [(JSONValue, Bool)])] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path).filter({ $0.hasSuffix(".json") }).sorted() {
            let suite = try JSONValue.parse(Array(try Data(contentsOf: dir.appendingPathComponent(file))))
            for group in suite.arrayValue ?? [] {
                guard let schema = group["schema"] else { continue }
                let tests = (group["tests"]?.arrayValue ?? []).compactMap { t -> (JSONValue, Bool)? in
                    guard let d = t["data"], let v = t["valid"]?.boolValue else { return nil }
                    return (d, v)
                }
                cases.append((schema, tests))
            }
        }
        for path in ["smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "llama-vocab/ggml-vocab-qwen2.gguf"] {
            let (tokenizer, vocabulary) = path.hasPrefix("smollm2") ? try ConstraintAssets.smollm2() : try ConstraintAssets.vocabulary(path)
            var figures = Figures()
            var compiled = 0
            for (schema, tests) in cases {
                if Self.run(schema: schema, tests: tests, tokenizer: tokenizer, vocabulary: vocabulary,
                            options: JSONSchemaSuiteTests.suiteOptions, figures: &figures).compiled { compiled += 1 }
            }
            figures.report("JSON-Schema-Test-Suite on \(path.split(separator: "/").last!) (vocab \(vocabulary.size), trie \(vocabulary.nodeCount) nodes)")
            XCTAssertGreaterThanOrEqual(compiled, JSONSchemaSuiteTests.minimumSupportedGroups)
            XCTAssertFalse(figures.maskUs.isEmpty)
        }
    }

    /// ../shared/data/jsonschemabench (not part of the repository): per-category coverage,
    /// soundness on its instances and timing. Walks at most IQUEST_BENCH_LIMIT schemas per
    /// category (default 400; all compile).
    func testJSONSchemaBenchCoverageWhenPresent() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [root.deletingLastPathComponent().appendingPathComponent("shared/data/jsonschemabench"),
                          URL(fileURLWithPath: "/work/shared/data/jsonschemabench")]
        guard let dir = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            print("jsonschemabench not present (looked in \(candidates.map(\.path))); coverage figures not computed")
            XCTAssertFalse(FileManager.default.fileExists(atPath: candidates[0].path))
            return
        }
        let limit = Int(ProcessInfo.processInfo.environment["IQUEST_BENCH_LIMIT"] ?? "") ?? 400
        let (tokenizer, vocabulary) = try ConstraintAssets.smollm2()
        var totalSchemas = 0, totalCompiled = 0
        var all = Figures()
        var reasons: [String: Int] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path).filter({ $0.hasSuffix(".jsonl") }).sorted() {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            var schemas = 0, compiled = 0, walked = 0, instances = 0, unsound = 0
            var figures = Figures()
            for line in text.split(separator: "\n") where !line.isEmpty {
                guard let entry = try? JSONValue.parse(String(line)), let schema = entry["schema"] else { continue }
                schemas += 1
                let tests = (entry["tests"]?.arrayValue ?? []).compactMap { t -> (JSONValue, Bool)? in
                    guard let d = t["data"], let v = t["valid"]?.boolValue else { return nil }
                    return (d, v)
                }
                let walk = walked < limit
                let outcome = Self.run(schema: schema, tests: walk ? tests : [], tokenizer: tokenizer, vocabulary: vocabulary,
                                       options: JSONSchemaOptions(), figures: &figures)
                if outcome.compiled { compiled += 1; if walk { walked += 1 } }
                if let e = outcome.error {
                    let key = e.components(separatedBy: " at ").first ?? e
                    reasons[String(key.prefix(60)), default: 0] += 1
                }
                instances += outcome.instances
                unsound += outcome.soundFailures
            }
            totalSchemas += schemas; totalCompiled += compiled
            print(String(format: "jsonschemabench %@: %d/%d compiled (%.1f%%); %d instances walked, %d disagree with their valid flag", file, compiled, schemas,
                         100.0 * Double(compiled) / Double(max(schemas, 1)), instances, unsound))
            figures.report("  timing \(file)")
            all.compileMs += figures.compileMs; all.maskUs += figures.maskUs; all.missUs += figures.missUs
        }
        print(String(format: "jsonschemabench total: %d/%d compiled (%.1f%%)", totalCompiled, totalSchemas, 100.0 * Double(totalCompiled) / Double(max(totalSchemas, 1))))
        all.report("jsonschemabench all (SmolLM2 vocab)")
        print("top refusal reasons: " + reasons.sorted { $0.value > $1.value }.prefix(12).map { "\($0.key) ×\($0.value)" }.joined(separator: "; "))
        XCTAssertGreaterThan(totalSchemas, 0)
    }
}
