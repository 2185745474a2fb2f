import ArgumentParser
import Foundation
import IQuestKernels

@main
struct IQuest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iquest",
        abstract: "Run IQuest-Coder-V1 and other Llama-family models on the CPU.",
        subcommands: [Generate.self, Chat.self, Tokenize.self, Template.self, Bench.self, Quantize.self, Serve.self, Kernels.self, LogitsDump.self,
                      Eval.self])
}

/// Options every command that loads a model takes.
struct ModelOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Path to a GGUF model file.")
    var model: String

    @Option(name: .shortAndLong, help: "Threads for the kernels (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: activationsHelp)
    var activations: ActivationPrecision = .standard

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }
}

extension ActivationPrecision: ExpressibleByArgument {}

let activationsHelp = ArgumentHelp(
    "Activations in products with q8_0/q4_0/q4_1/q4_K/q6_K weights (decode rows, and prompt rows with --prompt-products integer): exact (f32, the reference), int16 (default; next-token KL ~1e-7) or int8 (llama.cpp's scheme, KL ~4e-3: the most tokens/s, above all with several streams at once: 1.4-2x int16's aggregate at 8 streams of a 7B model on AVX2).",
    valueName: "exact|int16|int8")

/// Writes to stderr without buffering.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Runs `body`, turning any thrown error into one line on stderr and exit status 1.
func failingCleanly<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError("error: \(error)")
        throw ExitCode.failure
    }
}

/// Unbuffered stdout for streaming tokens as they come.
final class StandardOutput {
    static func write(_ text: String) {
        guard !text.isEmpty else { return }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

extension PromptProducts: ExpressibleByArgument {}
extension WeightRepacking: ExpressibleByArgument {}

/// The kernel set and prompt-product choice, process-wide; applied as the options are validated,
/// before any model loads. `IQUEST_KERNELS` in the environment stands in for `--kernels`.
struct KernelOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Kernel set (default: the best this CPU has, or IQUEST_KERNELS): scalar, avx2, avx512-vnni.",
                               valueName: "set"))
    var kernels: String?

    @Option(help: ArgumentHelp("Prompt products on quantized weights: int8 (default: int8 activation blocks for prompt rows while decode rows keep --activations; the fastest prefill, next-token KL below llama.cpp's), integer (prompt rows in --activations' precision: int16 reproduces transformers' greedy continuations on the parity prompts, at about half the prefill speed) or float (f32 panels).",
                               valueName: "int8|integer|float"))
    var promptProducts: PromptProducts = .int8

    @Option(help: ArgumentHelp("Repack weights at load into the layout the kernel set reads fastest (auto), or use them as stored (off; also IQUEST_REPACK=off).",
                               valueName: "auto|off"))
    var repack: WeightRepacking?

    func validate() throws {
        let repackName = ProcessInfo.processInfo.environment["IQUEST_REPACK"]
        if let repack {
            WeightRepacking.current = repack
        } else if let repackName {
            guard let chosen = WeightRepacking(rawValue: repackName) else {
                throw ValidationError("IQUEST_REPACK: '\(repackName)' is not one of auto, off")
            }
            WeightRepacking.current = chosen
        }
        let name = kernels ?? ProcessInfo.processInfo.environment["IQUEST_KERNELS"]
        do {
            try KernelSet.select(named: name)
        } catch {
            throw ValidationError("\(kernels == nil ? "IQUEST_KERNELS: " : "--kernels: ")\(error)")
        }
        PromptProducts.current = promptProducts
    }
}
