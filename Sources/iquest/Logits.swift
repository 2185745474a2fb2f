import ArgumentParser
import Foundation
import IQuestEngine
import IQuestModels

/// Every position's logits for given token ids, written as raw float32: what accuracy
/// comparisons with other engines on the same file read (tools/kl_vs_llamacpp.py).
struct LogitsDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits",
        abstract: "Write the logits of every position of token-id prompts (float32, for comparisons with other engines).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var kvCache: KVCacheOptions
    @OptionGroup var kernelOptions: KernelOptions
    @Option(help: "File with one prompt per line, token ids separated by spaces.")
    var ids: String
    @Option(name: .shortAndLong, help: "Output file: for each prompt, positions × vocabulary float32 values (little-endian).")
    var output: String

    func run() throws {
        try failingCleanly {
            let text: String
            do {
                text = try String(contentsOfFile: ids, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read --ids \(ids): \(error.localizedDescription)")
            }
            let prompts = try text.split(separator: "\n")
                .map { try parseTokenIds($0, option: "--ids", separator: { $0 == " " || $0 == "\t" }) }
                .filter { !$0.isEmpty }
            guard !prompts.isEmpty else { throw ValidationError("--ids \(ids) holds no prompt") }
            let loaded = try LoadedModel.load(path: modelOptions.model, threads: modelOptions.threads,
                                              activations: modelOptions.activations, progress: printError)
            let model = loaded.model
            guard FileManager.default.createFile(atPath: output, contents: nil),
                  let handle = FileHandle(forWritingAtPath: output) else {
                throw ValidationError("cannot create \(output)")
            }
            defer { try? handle.close() }
            for prompt in prompts {
                let logits = try model.forward(prompt, cache: model.makeCache(capacity: prompt.count, types: kvCache.types),
                                               logits: .all)
                logits.values.withUnsafeBytes { handle.write(Data($0)) }
            }
            printError("\(prompts.count) prompts, vocabulary \(model.vocabularySize), \(prompts.map(\.count).reduce(0, +)) positions -> \(output)")
        }
    }
}
