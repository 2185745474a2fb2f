import ArgumentParser
import Foundation
import IQuestEngine
import IQuestKernels

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert an HF checkpoint directory or a GGUF file into a GGUF of one weight type.",
        discussion: """
        Matrices take --type; norms and Loop gates stay f32. Tensors are written one at a time, so \
        memory holds one tensor, not the model. Supported types: f32, f16, bf16, q8_0, q4_0, q4_1, \
        q4_k, q6_k, and q4_k_m (llama.cpp's Q4_K_M mix: q4_K, with q6_K for output.weight and for \
        attn_v/ffn_down on some layers). k-quant matrices whose rows are not a multiple of 256 \
        are stored as q8_0 (f16 when not a multiple of 32).
        """)

    @Option(name: .shortAndLong, help: "HF checkpoint directory or GGUF file.")
    var input: String
    @Option(name: .shortAndLong, help: "Output .gguf path (written to <path>.part, then renamed).")
    var output: String
    @Option(name: .long, help: "Weight type of the matrices.")
    var type: String

    static let types: [String: QuantizationScheme] = [
        "f32": .uniform(.f32), "f16": .uniform(.f16), "bf16": .uniform(.bf16), "q8_0": .uniform(.q8_0),
        "q4_0": .uniform(.q4_0), "q4_1": .uniform(.q4_1), "q4_k": .uniform(.q4_K), "q6_k": .uniform(.q6_K),
        "q4_k_m": .q4_K_M,
    ]

    func validate() throws {
        guard Self.types[type.lowercased()] != nil else {
            throw ValidationError("--type must be one of \(Self.types.keys.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        try failingCleanly {
            guard let scheme = Self.types[type.lowercased()] else { return }
            let started = Date()
            // A redrawn bar on a terminal; on a pipe or file, a line per tenth of the tensors.
            let terminal = isatty(STDERR_FILENO) == 1
            var reportedTenth = -1
            let summary = try GGUFExporter.convert(ConversionRequest(input: input, output: output, scheme: scheme)) { done, total, name in
                let width = 30
                let filled = total > 0 ? width * done / total : width
                if terminal {
                    let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                    FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) \(name.padding(toLength: 32, withPad: " ", startingAt: 0))".utf8))
                } else if total > 0, done * 10 / total > reportedTenth {
                    reportedTenth = done * 10 / total
                    printError("\(done)/\(total) tensors")
                }
            }
            if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
            for note in summary.notes { printError("note: \(note)") }
            printError(String(format: "wrote %@: %@, %d tensors, %.1f MiB of tensor data in %.1f s", output,
                              summary.architecture, summary.tensors, Double(summary.bytesWritten) / 1_048_576,
                              Date().timeIntervalSince(started)))
        }
    }
}
