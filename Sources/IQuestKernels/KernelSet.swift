import IQuestCKernels

/// The family of C kernels this process runs, chosen at run time from the CPU's features
/// (IQuestCKernels/cpu_dispatch.c) so that one binary uses AVX-512 VNNI where the CPU has it and
/// never executes an instruction the CPU lacks. Lower sets can be forced (`--kernels`,
/// `IQUEST_KERNELS`) to compare or test them on one machine.
/// - `scalar`: portable C for the integer decode and prompt kernels (a reference path; the rest
///   of the binary is compiled for AVX2).
/// - `avx2`: AVX2 + FMA + F16C, integer products through vpmaddwd / vpmaddubsw.
/// - `avx512`: AVX-512 F/BW/VL with VNNI: vpdpbusd prompt GEMM and vpdpwssd decode kernels.
public enum KernelSet: Int, CaseIterable, Sendable, CustomStringConvertible {
    case scalar = 0, avx2 = 1, avx512 = 2

    /// The set kernels run now.
    public static var current: KernelSet { KernelSet(rawValue: Int(iq_kernel_set())) ?? .scalar }
    /// The highest set this CPU supports.
    public static var best: KernelSet { KernelSet(rawValue: Int(iq_kernel_set_best())) ?? .scalar }
    /// Sets this CPU can run, lowest first.
    public static var supported: [KernelSet] { allCases.filter(\.isSupported) }

    public var isSupported: Bool { iq_kernel_set_supported(Int32(rawValue)) != 0 }

    /// The name used by options, logs and /metrics ("scalar", "avx2", "avx512-vnni").
    public var description: String { String(cString: iq_kernel_set_name(Int32(rawValue))) }

    public init?(name: String) {
        guard let set = KernelSet.allCases.first(where: { $0.description == name || "\($0)" == name }) else { return nil }
        self = set
    }

    /// Whether this set multiplies prompt rows with `kind` weights in the integer GEMM (else the
    /// f32 panels): AVX2 has no form for q8_0, whose codes overflow vpmaddubsw's 16-bit sums.
    public func hasIntegerPromptGEMM(_ kind: WeightKind) -> Bool {
        kind.hasIntegerDot && iq_gemm_q8_supported(kind.cKind, Int32(rawValue)) != 0
    }

    /// Makes `set` the process's kernel set. Throws, changing nothing, when the CPU lacks it.
    public static func select(_ set: KernelSet) throws {
        guard iq_kernel_set_select(Int32(set.rawValue)) != 0 else { throw KernelSetError.unsupported(set, best: best) }
    }

    /// Applies a name from an option or the environment (`IQUEST_KERNELS`); nil keeps the best.
    public static func select(named name: String?) throws {
        guard let name, !name.isEmpty else { return }
        guard let set = KernelSet(name: name) else { throw KernelSetError.unknown(name) }
        try select(set)
    }

    /// Runs `body` with `set` as this thread's kernel set (other threads keep the process's), for
    /// kernel tests that compare sets inside one process: only kernels called on this thread
    /// (a single-threaded ComputePool) see it. Nil when the CPU lacks the set.
    public static func withThreadOverride<T>(_ set: KernelSet, _ body: () throws -> T) rethrows -> T? {
        guard iq_kernel_set_override_thread(Int32(set.rawValue)) != 0 else { return nil }
        defer { _ = iq_kernel_set_override_thread(-1) }
        return try body()
    }

    /// CPU features as detected, for start-up lines ("avx2 avx512 avx512-vnni").
    public static var cpuFeatures: String {
        let f = iq_cpu_features()
        let names: [(UInt32, String)] = [(UInt32(IQ_FEATURE_AVX2.rawValue), "avx2"), (UInt32(IQ_FEATURE_AVX512.rawValue), "avx512"),
                                         (UInt32(IQ_FEATURE_AVX512_VNNI.rawValue), "avx512-vnni"),
                                         (UInt32(IQ_FEATURE_AVX_VNNI.rawValue), "avx-vnni"),
                                         (UInt32(IQ_FEATURE_AVX512_BF16.rawValue), "avx512-bf16")]
        let present = names.filter { f & $0.0 != 0 }.map(\.1)
        return present.isEmpty ? "none" : present.joined(separator: " ")
    }

    /// One line for logs and bench output: the set in use and what the CPU has.
    public static var summary: String {
        "kernels \(current) (CPU: \(cpuFeatures); supported: \(supported.map(\.description).joined(separator: ", ")))"
    }
}

public enum KernelSetError: Error, CustomStringConvertible, Equatable {
    case unsupported(KernelSet, best: KernelSet)
    case unknown(String)

    public var description: String {
        switch self {
        case let .unsupported(set, best):
            return "this CPU cannot run the \(set) kernels (the highest it supports is \(best))"
        case let .unknown(name):
            return "unknown kernel set '\(name)' (known: \(KernelSet.allCases.map(\.description).joined(separator: ", ")))"
        }
    }
}

/// How prompt-path (GEMM) products meet quantized weights, process-wide. The command line
/// defaults to `int8` (`--prompt-products`); the value starts as `integer` so that code which
/// sets nothing (the test suites, an embedder) gets the precise integer path.
/// - `integer`: each activation row is quantized in the model's ActivationPrecision
///   (int16 as two int8 planes, or int8: llama.cpp's q8_0 activation scheme) and multiplied in
///   integer SIMD (vpdpbusd with VNNI) with exact integer sums, when the kernel set has a kernel
///   for the weight kind.
/// - `int8`: prompt rows in int8 blocks whatever the decode precision (decode rows keep int16):
///   half the integer work of two planes, so the fastest prefill (1.6–1.9× `integer` at the
///   IQuest-7B shape on AVX2); the next-token KL it adds is llama.cpp's order (~3e-3 mean on
///   SmolLM2, below llama.cpp's own on the same files; docs/PERFORMANCE.md,
///   tools/kl_vs_llamacpp.py).
/// - `float`: weights decoded to f32 panels and multiplied in f32 (the earlier path).
/// Models loaded with `ActivationPrecision.exact` always take the f32 path (parity tests).
public enum PromptProducts: String, CaseIterable, Sendable {
    case integer, int8, float

    nonisolated(unsafe) public static var current: PromptProducts = .integer
}
