import ArgumentParser
import Foundation
import IQuestEngine
import IQuestEval
import IQuestKernels

struct EvalHumanEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "humaneval",
        abstract: "HumanEval pass@k: generate with a local model (--model) or a server (--url), run the tests in the sandbox.",
        discussion: """
        Completion mode sends the raw prompt and stops at \\nclass \\ndef \\n# \\nif \\nprint; chat mode asks for the \
        function in a ```python block and takes the block (docs/EVAL.md). Before any score the sandbox self-test \
        runs every canonical solution and the negative controls. Results: one JSON line per sample in --output, \
        the summary in <output>.summary.json and on stdout.
        """)

    @Option(name: .shortAndLong, help: "GGUF file or Hugging Face directory to generate with.")
    var model: String?
    @Option(help: "An OpenAI-compatible server to generate with instead (http://host:port).")
    var url: String?
    @Option(help: "With --url: the model name to send (default: the first of /v1/models).")
    var servedModel: String?
    @Option(help: "With --url: API key (Bearer).")
    var apiKey: String?
    @Option(name: .shortAndLong, help: "Threads for the kernels (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: activationsHelp)
    var activations: ActivationPrecision = .standard
    @OptionGroup var kvCache: KVCacheOptions
    @OptionGroup var kernelOptions: KernelOptions
    @OptionGroup var sandbox: SandboxOptions

    @Option(help: "Only the first N problems.")
    var limit: Int?
    @Option(help: "Samples per problem (pass@k for k = 1, 10, 100 up to this; needs --temperature > 0 when above 1).")
    var samples: Int = 1
    @Option(help: "Sampling temperature; 0 = greedy.")
    var temperature: Float = 0
    @Option(help: "Nucleus (top-p) cut when sampling.")
    var topP: Float = 0.95
    @Option(help: "Seed of sample 0; sample i uses seed + i.")
    var seed: UInt64 = 0
    @Option(name: [.customShort("n"), .long], help: "Most tokens per completion.")
    var maxTokens: Int = 512
    @Option(help: "completion (raw prompt, stop strings) or chat (chat template, code block extracted).")
    var mode: PromptMode = .completion
    @Option(help: "Sequences generated at once (local: scheduler slots; --url: requests in flight).")
    var parallel: Int = 16
    @Option(name: .shortAndLong, help: "Results JSONL (one line per sample).")
    var output: String = "humaneval-results.jsonl"
    @Flag(help: "Run generated code WITHOUT the sandbox (rlimits only). Only for code you trust; the summary says so.")
    var unsafeNoSandbox = false
    @Flag(help: "No progress bar.")
    var quiet = false

    func validate() throws {
        if (model == nil) == (url == nil) { throw ValidationError("give exactly one of --model or --url") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1") }
        guard temperature.isFinite, temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        if samples > 1 && temperature == 0 { throw ValidationError("--samples > 1 needs --temperature > 0 (greedy samples are identical)") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() async throws {
        do {
            try await evaluate()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }

    private func evaluate() async throws {
        let all = try sandbox.problems()
        let problems = Array(all.prefix(limit ?? all.count))
        let runner: Sandbox
        if unsafeNoSandbox {
            printError("WARNING: --unsafe-no-sandbox: generated code runs as this user with rlimits only, no isolation")
            runner = try Sandbox.unsafeNoSandbox(limits: sandbox.limits)
        } else {
            runner = try sandbox.verifiedSandbox(problems: all)
        }
        var settings = EvalSettings()
        settings.mode = mode
        settings.samples = samples
        settings.maxTokens = maxTokens
        settings.temperature = temperature
        settings.topP = topP
        settings.seed = seed
        let source: any CompletionSource
        if let model {
            let loaded = try LoadedModel.load(path: model, threads: threads, activations: activations, progress: printError)
            source = EngineCompletionSource(loaded: loaded, kvTypes: kvCache.types, maxRunning: parallel)
        } else {
            source = try HTTPCompletionSource(url: url ?? "", model: servedModel, apiKey: apiKey, parallel: parallel)
        }
        let jobs = HumanEvalRun.jobs(problems, settings: settings)
        printError("generating \(jobs.count) completions (\(problems.count) problems × \(samples)) with \(source.name), \(mode.rawValue) mode")
        let generateBar = ProgressBar(label: "generate", total: jobs.count, enabled: !quiet)
        let generationStarted = Date()
        let generated = try await source.generate(jobs) { generateBar.update($0) }
        let generationSeconds = Date().timeIntervalSince(generationStarted)
        let executeBar = ProgressBar(label: "execute ", total: jobs.count, enabled: !quiet)
        let executionStarted = Date()
        let records = HumanEvalRun.execute(jobs, generated: generated, sandbox: runner, workers: sandbox.workers) { executeBar.update($0) }
        let executionSeconds = Date().timeIntervalSince(executionStarted)

        var described = settings.description
        described["source"] = model ?? url ?? ""
        if model != nil {
            described["kv_cache"] = "\(kvCache.types)"
            described["activations"] = activations.rawValue
        }
        let summary = EvalSummary.make(records: records, sandbox: runner.kind.rawValue, settings: described,
                                       generationSeconds: generationSeconds, executionSeconds: executionSeconds)
        try EvalRecord.encodeLines(records).write(to: URL(fileURLWithPath: output))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let summaryPath = Self.summaryPath(output)
        try encoder.encode(summary).write(to: URL(fileURLWithPath: summaryPath))
        summary.lines.forEach { print($0) }
        printError("wrote \(output) and \(summaryPath)")
    }

    /// results.jsonl → results.summary.json
    static func summaryPath(_ output: String) -> String {
        (output.hasSuffix(".jsonl") ? String(output.dropLast(6)) : output) + ".summary.json"
    }
}
