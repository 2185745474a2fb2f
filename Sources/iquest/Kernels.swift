import ArgumentParser
import IQuestKernels

/// `iquest kernels`: the CPU's features and the kernel sets this binary can run on it.
struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the CPU features and the kernel sets this machine can run (chosen with --kernels or IQUEST_KERNELS).")

    @Flag(help: "Print only the names of the supported sets, one per line (for scripts).")
    var supported = false

    func run() throws {
        if supported {
            for set in KernelSet.supported { print(set.description) }
            return
        }
        print("CPU features: \(KernelSet.cpuFeatures)")
        for set in KernelSet.allCases {
            let mark = set == KernelSet.current ? " (in use)" : set == KernelSet.best ? " (best)" : ""
            print("  \(set.description): \(set.isSupported ? "supported" : "not supported by this CPU")\(mark)")
        }
    }
}
