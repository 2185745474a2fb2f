// Coverage and timing of the constraint engine (issue #17), printed llama-bench style:
//   iquest-constraints-bench --vocab SmolLM2.gguf [--vocab other.gguf] --suite DIR [--bench DIR] [--limit N]
// For each vocabulary: the JSON-Schema-Test-Suite (draft2020-12 dir) and, when given, the
// JSONSchemaBench folder (*.jsonl): schemas compiled per category, instances whose acceptance
// disagrees with their valid flag, compile time (schema → automaton → first mask) p50/p99 and
// mask time per token p50/p99 while each valid/invalid instance is walked token by token.
// --cpu-time times with the thread's CPU clock instead of the wall clock: on a loaded machine a
// wall-clock p99 mostly measures preemptions (a 1 µs call that spans a context switch reads as
// tens of ms), the CPU clock only the work.
import Foundation
import IQuestConstraints
import IQuestFormats
import IQuestTokenizer

struct Figures {
    var compileMs: [Double] = [], maskUs: [Double] = [], missUs: [Double] = []
    static func pct(_ v: [Double], _ p: Double) -> Double {
        guard !v.isEmpty else { return .nan }
        let s = v.sorted()
        return s[min(s.count - 1, Int(Double(s.count - 1) * p + 0.5))]
    }
    func line() -> String {
        String(format: "compile p50 %.2f ms p99 %.2f ms (%d) | mask p50 %.1f µs p99 %.1f µs (%d tokens) | uncached p50 %.1f µs p99 %.1f µs (%d)",
               Self.pct(compileMs, 0.5), Self.pct(compileMs, 0.99), compileMs.count, Self.pct(maskUs, 0.5), Self.pct(maskUs, 0.99), maskUs.count,
               Self.pct(missUs, 0.5), Self.pct(missUs, 0.99), missUs.count)
    }
}

nonisolated(unsafe) var useCPUClock = false
func now() -> UInt64 {
    guard useCPUClock else { return DispatchTime.now().uptimeNanoseconds }
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// (compiled, instances walked, disagreements)
func run(_ schema: JSONValue, _ tests: [(JSONValue, Bool)], _ tokenizer: any Tokenizer, _ vocabulary: TokenVocabulary,
         _ options: JSONSchemaOptions, _ figures: inout Figures) -> (Bool, Int, Int, String?) {
    let t0 = now()
    let masker: TokenMasker
    do {
        masker = TokenMasker(vocabulary: vocabulary, automaton: try GrammarAutomaton(try JSONSchemaCompiler.grammar(for: schema, options: options)))
        _ = masker.mask(masker.automaton.initialState)
    } catch {
        return (false, 0, 0, "\(error)")
    }
    figures.compileMs.append(Double(now() - t0) / 1e6)
    var walked = 0, wrong = 0
    for (data, valid) in tests {
        let ids = tokenizer.encode(data.serialized(), addSpecialTokens: false)
        var state = masker.automaton.initialState
        var ok = true
        for id in ids {
            let states = masker.automaton.stateCount
            let t = now()
            let mask = masker.mask(state)
            let us = Double(now() - t) / 1e3
            figures.maskUs.append(us)
            if masker.automaton.stateCount != states || us > 5 { figures.missUs.append(us) }
            guard mask.allows(id), let bytes = vocabulary.bytes[id] else { ok = false; break }
            var m = GrammarMatcher(masker.automaton, state: state)
            m.advance(bytes)
            state = m.state
        }
        if ok { ok = masker.mask(state).allows(vocabulary.stopIds.first ?? -1) }
        walked += 1
        if ok != valid { wrong += 1 }
    }
    return (true, walked, wrong, nil)
}

var vocabPaths: [String] = [], suiteDir: String?, benchDir: String?, limit = Int.max, checkSchemas: String?
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--vocab": if let v = args.next() { vocabPaths.append(v) }
    case "--suite": suiteDir = args.next()
    case "--bench": benchDir = args.next()
    case "--limit": limit = Int(args.next() ?? "") ?? Int.max
    case "--check": checkSchemas = args.next()
    case "--cpu-time": useCPUClock = true
    default: FileHandle.standardError.write("unknown argument \(a)\n".data(using: .utf8)!); exit(2)
    }
}

for path in vocabPaths {
    let tokenizer: any Tokenizer
    do { tokenizer = try GGUFTokenizer.load(try GGUFFile(path: path)) } catch {
        print("cannot load \(path): \(error)"); exit(1)
    }
    let t0 = now()
    let vocabulary = TokenVocabulary(bytes: (0..<tokenizer.vocabularySize).map { tokenizer.isSpecial($0) ? nil : tokenizer.tokenBytes($0) },
                                     stopIds: tokenizer.eosTokenIds)
    print(String(format: "%@: vocab %d, trie %d nodes, built in %.0f ms", (path as NSString).lastPathComponent, vocabulary.size, vocabulary.nodeCount, Double(now() - t0) / 1e6))
    if let file = checkSchemas, let text = try? String(contentsOfFile: file, encoding: .utf8) {
        // Differential (mask == brute force at random states) and random walks printed as JSON
        // lines {"schema", "instance"} for Python's jsonschema to validate.
        var rng = SystemRandomNumberGenerator()
        var compared = 0, mismatches = 0, finished = 0, cut = 0, emptyMasks = 0
        var out = ""
        for line in text.split(separator: "\n") {
            guard let schema = try? JSONValue.parse(String(line)),
                  let masker = try? TokenMasker(vocabulary: vocabulary, automaton: GrammarAutomaton(JSONSchemaCompiler.grammar(for: schema))) else { continue }
            for walk in 0..<16 {
                var state = masker.automaton.initialState
                var bytes: [UInt8] = []
                var done = false
                for step in 0..<300 {
                    let mask = masker.mask(state)
                    if mask.count == 0 { emptyMasks += 1; break }
                    if walk < 2 && step % 5 == 0 {
                        var brute = TokenMask(size: vocabulary.size)
                        for id in 0..<vocabulary.size {
                            if let b = vocabulary.bytes[id] { var m = GrammarMatcher(masker.automaton, state: state); if m.advance(b) { brute.insert(id) } }
                            else if vocabulary.stopIds.contains(id) && masker.automaton.isAccepting(state) { brute.insert(id) }
                        }
                        compared += 1
                        if brute != mask { mismatches += 1 }
                    }
                    let ids = mask.allowedIds
                    let stop = vocabulary.stopIds.first ?? -1
                    if mask.allows(stop) && Double.random(in: 0..<1, using: &rng) < (step > 60 ? 0.9 : 0.3) { done = true; break }
                    let roll = Double.random(in: 0..<1, using: &rng)
                    let pred: ([UInt8]) -> Bool = roll < 0.35 ? { $0.contains(0x22) || $0.contains(0x7D) || $0.contains(0x5D) }
                        : roll < 0.5 ? { $0.contains(0x5C) } : roll < 0.65 ? { $0.contains { $0 >= 0x30 && $0 <= 0x39 } }
                        : roll < 0.75 ? { $0.contains { $0 >= 0x80 } } : { _ in true }
                    let pool = ids.filter { $0 != stop && (vocabulary.bytes[$0].map(pred) ?? false) }
                    guard let id = (pool.isEmpty ? ids.filter { $0 != stop } : pool).randomElement(using: &rng), let b = vocabulary.bytes[id] else {
                        done = mask.allows(stop); break
                    }
                    var m = GrammarMatcher(masker.automaton, state: state); m.advance(b); state = m.state
                    bytes += b
                }
                if done { finished += 1; out += "{\"schema\":\(line),\"instance\":\(JSONValue.quoted(String(decoding: bytes, as: UTF8.self)))}\n" } else { cut += 1 }
            }
        }
        try? out.write(toFile: "/tmp/iquest-walks.jsonl", atomically: true, encoding: .utf8)
        print("  check: \(compared) masks compared with brute force, \(mismatches) differ; \(finished) walks finished (written to /tmp/iquest-walks.jsonl), \(cut) cut, \(emptyMasks) empty masks before EOS")
    }
    if let dir = suiteDir {
        var o = JSONSchemaOptions(); o.enforceFormat = false; o.oneOfAsAnyOf = false; o.integerAllowsZeroFraction = true
        var f = Figures(); var groups = 0, compiled = 0, walked = 0, wrong = 0
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter({ $0.hasSuffix(".json") }).sorted() {
            guard let data = FileManager.default.contents(atPath: dir + "/" + file), let suite = try? JSONValue.parse(Array(data)) else { continue }
            for g in suite.arrayValue ?? [] {
                groups += 1
                let tests = (g["tests"]?.arrayValue ?? []).compactMap { t -> (JSONValue, Bool)? in
                    guard let d = t["data"], let v = t["valid"]?.boolValue else { return nil }; return (d, v) }
                let r = run(g["schema"] ?? .bool(true), tests, tokenizer, vocabulary, o, &f)
                if r.0 { compiled += 1 }; walked += r.1; wrong += r.2
            }
        }
        print(String(format: "  JSON-Schema-Test-Suite: %d/%d groups (%.1f%%), %d instances, %d disagree | %@", compiled, groups,
                     100.0 * Double(compiled) / Double(max(groups, 1)), walked, wrong, f.line()))
    }
    if let dir = benchDir {
        var all = Figures(); var total = 0, totalCompiled = 0
        var reasons: [String: Int] = [:]
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter({ $0.hasSuffix(".jsonl") }).sorted() {
            guard let text = try? String(contentsOfFile: dir + "/" + file, encoding: .utf8) else { continue }
            var f = Figures(); var n = 0, compiled = 0, walked = 0, wrong = 0
            for line in text.split(separator: "\n") {
                guard let e = try? JSONValue.parse(String(line)), let schema = e["schema"] else { continue }
                n += 1
                let tests = n <= limit ? (e["tests"]?.arrayValue ?? []).compactMap { t -> (JSONValue, Bool)? in
                    guard let d = t["data"], let v = t["valid"]?.boolValue else { return nil }; return (d, v) } : []
                let r = run(schema, tests, tokenizer, vocabulary, JSONSchemaOptions(), &f)
                if r.0 { compiled += 1 } else if let e = r.3 {
                    var key = e
                    if let q = e.range(of: "keyword '") { key = String(e[q.upperBound...].prefix { $0 != "'" }) }
                    else { key = String(e.prefix(40)) }
                    reasons[key, default: 0] += 1
                }
                walked += r.1; wrong += r.2
            }
            total += n; totalCompiled += compiled
            print(String(format: "  %@: %d/%d (%.1f%%) compiled, %d instances, %d disagree | %@", file, compiled, n,
                         100.0 * Double(compiled) / Double(max(n, 1)), walked, wrong, f.line()))
            all.compileMs += f.compileMs; all.maskUs += f.maskUs; all.missUs += f.missUs
        }
        print(String(format: "  JSONSchemaBench total: %d/%d (%.1f%%) | %@", totalCompiled, total, 100.0 * Double(totalCompiled) / Double(max(total, 1)), all.line()))
        print("  refusals by keyword: " + reasons.sorted { $0.value > $1.value }.prefix(15).map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
}
