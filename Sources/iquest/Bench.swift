import ArgumentParser
import Foundation
import IQuestEngine
import IQuestModels

/// Prompt-processing and generation speed, printed like llama.cpp's llama-bench so figures can
/// be compared side by side: `pp N` = one forward over N prompt tokens, `tg N` = N single-token
/// decode steps after an empty context. Each test runs `--repetitions` times; the table shows
/// mean ± standard deviation and the median.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure prefill and decode speed.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: [.customShort("p"), .long], help: "Prompt tokens for the prefill test (0 = skip).")
    var nPrompt: Int = 512
    @Option(name: [.customShort("n"), .long], help: "Tokens for the decode test (0 = skip).")
    var nGen: Int = 128
    @Option(name: [.customShort("r"), .long], help: "Repetitions of each test.")
    var repetitions: Int = 3

    func validate() throws {
        if nPrompt < 0 || nGen < 0 { throw ValidationError("-p and -n must not be negative") }
        if repetitions < 1 { throw ValidationError("-r must be at least 1") }
    }

    func run() throws {
        try failingCleanly {
            let model = try LoadedModel.loadModel(path: modelOptions.model, threads: modelOptions.threads)
            let path = modelOptions.model
            let name = URL(fileURLWithPath: path).lastPathComponent
            guard nPrompt + nGen < model.contextLength else {
                throw GenerationError("pp\(nPrompt) + tg\(nGen) exceeds the model's context of \(model.contextLength)")
            }
            let size = modelBytes(path)
            print("| model | size | threads | test | t/s | median t/s |")
            print("| --- | ---: | ---: | ---: | ---: | ---: |")
            // Pseudo-random ids spread over the vocabulary, the same every run.
            let vocab = model.vocabularySize
            let ids = (0..<max(nPrompt, 1)).map { ($0 * 7919 + 13) % vocab }
            // One untimed warm-up pass pages the weights in.
            _ = try model.forward([ids[0]], cache: model.makeCache(capacity: 2), logits: .last)
            func row(_ test: String, _ rates: [Double]) {
                let mean = rates.reduce(0, +) / Double(rates.count)
                let sd = (rates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, rates.count - 1))).squareRoot()
                let median = rates.sorted()[rates.count / 2]
                print(String(format: "| %@ | %.1f MiB | %d | %@ | %.2f ± %.2f | %.2f |", name,
                             Double(size) / 1_048_576, modelOptions.threads, test, mean, sd, median))
            }
            if nPrompt > 0 {
                var rates: [Double] = []
                for _ in 0..<repetitions {
                    let cache = model.makeCache(capacity: nPrompt)
                    let start = Date()
                    _ = try model.forward(ids, cache: cache, logits: .last)
                    rates.append(Double(nPrompt) / Date().timeIntervalSince(start))
                }
                row("pp\(nPrompt)", rates)
            }
            if nGen > 0 {
                var rates: [Double] = []
                for _ in 0..<repetitions {
                    let cache = model.makeCache(capacity: nGen + 1)
                    var token = ids[0]
                    let start = Date()
                    for _ in 0..<nGen {
                        let logits = try model.forward([token], cache: cache, logits: .last)
                        token = argmax(logits.values)
                    }
                    rates.append(Double(nGen) / Date().timeIntervalSince(start))
                }
                row("tg\(nGen)", rates)
            }
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            print(String(format: "peak RSS: %.1f MiB", Double(usage.ru_maxrss) / 1024))
        }
    }
}

func argmax(_ values: [Float]) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
}

/// Bytes of a GGUF file, or of every file in a checkpoint directory.
func modelBytes(_ path: String) -> Int {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { return 0 }
    guard isDirectory.boolValue else { return (try? fm.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
    let names = (try? fm.contentsOfDirectory(atPath: path)) ?? []
    return names.reduce(0) { $0 + ((try? fm.attributesOfItem(atPath: path + "/" + $1)[.size] as? Int) ?? 0) }
}
