// swift-tools-version:6.1
import PackageDescription

// Layering (one-way): IQuestCKernels → IQuestKernels → IQuestFormats → IQuestModels → IQuestTokenizer/IQuestEngine
// → IQuestServer (HTTP) → iquest (CLI).
// Kernels know no file formats or models; formats know no models; models know no tokenizers,
// sampling or HTTP.

// Numeric targets are compiled for AVX2+FMA+F16C (x86-64-v3 class, "haswell" in LLVM's names),
// which every machine of this project's kind has; on other architectures no CPU flag is set.
#if arch(x86_64)
let cpuFlags: [String] = ["-target-cpu", "haswell"]
#else
let cpuFlags: [String] = []
#endif
#if arch(x86_64)
let cFlags: [String] = ["-O3", "-mavx2", "-mfma", "-mf16c"]
#else
let cFlags: [String] = ["-O3"]
#endif
let fastMath: [SwiftSetting] = [.unsafeFlags(cpuFlags + ["-Ounchecked", "-wmo"], .when(configuration: .release)),
                                .unsafeFlags(cpuFlags, .when(configuration: .debug))]

let package = Package(
    name: "iquest",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "iquest", targets: ["iquest"]),
        .executable(name: "iquest-constraints-bench", targets: ["iquest-constraints-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already in the graph through Hummingbird; named here for the connection guard's HTTP parts
        // and for running the server next to its drain service.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(name: "IQuestCKernels", cSettings: [.unsafeFlags(cFlags)]),
        .target(name: "IQuestKernels", dependencies: ["IQuestCKernels"], swiftSettings: fastMath),
        .target(name: "IQuestFormats", swiftSettings: fastMath),
        .target(name: "IQuestModels", dependencies: ["IQuestKernels", "IQuestFormats"], swiftSettings: fastMath),
        .target(name: "IQuestTokenizer", dependencies: [
            "IQuestFormats",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .target(name: "IQuestTemplates"),
        .target(name: "IQuestEngine", dependencies: ["IQuestModels", "IQuestTokenizer", "IQuestFormats", "IQuestTemplates", "IQuestConstraints"], swiftSettings: fastMath),
        .target(name: "IQuestOutputParsing"),
        // HumanEval: data, sandboxed execution (bubblewrap), generation through the scheduler or a
        // server, pass@k and paired comparison. Above the engine, beside the server.
        .target(name: "IQuestEval", dependencies: ["IQuestEngine", "IQuestKernels"]),
        // Structured outputs: grammars, regexes, JSON Schema and token masks; knows no model or server.
        .target(name: "IQuestConstraints", swiftSettings: fastMath),
        .target(name: "IQuestServer", dependencies: [
            "IQuestEngine",
            "IQuestKernels",
            "IQuestOutputParsing",
            "IQuestConstraints",
            "IQuestTemplates",
            "IQuestTokenizer",
            "IQuestFormats",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "iquest", dependencies: [
            "IQuestEngine",
            "IQuestConstraints",
            "IQuestServer",
            "IQuestOutputParsing",
            "IQuestKernels",
            "IQuestTemplates",
            "IQuestEval",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "iquest-constraints-bench", dependencies: ["IQuestConstraints", "IQuestTokenizer", "IQuestFormats"],
                          swiftSettings: fastMath),
        .testTarget(name: "IQuestKernelsTests", dependencies: ["IQuestKernels"]),
        .testTarget(name: "IQuestFormatsTests", dependencies: ["IQuestFormats"]),
        .testTarget(name: "IQuestTokenizerTests", dependencies: ["IQuestTokenizer", "IQuestFormats"]),
        .testTarget(name: "IQuestModelsTests", dependencies: ["IQuestModels", "IQuestFormats"]),
        .testTarget(name: "IQuestTemplatesTests", dependencies: ["IQuestTemplates"]),
        .testTarget(name: "IQuestEngineTests", dependencies: ["IQuestEngine", "IQuestModels", "IQuestKernels", "IQuestFormats", "IQuestConstraints"]),
        .testTarget(name: "IQuestCLITests", dependencies: ["IQuestEngine", "IQuestEval"]),
        .testTarget(name: "IQuestEvalTests", dependencies: ["IQuestEval", "IQuestEngine"]),
        .testTarget(name: "IQuestConstraintsTests", dependencies: ["IQuestConstraints", "IQuestTokenizer", "IQuestFormats"]),
        .testTarget(name: "IQuestOutputParsingTests", dependencies: ["IQuestOutputParsing"], exclude: ["Fixtures"]),
        .testTarget(name: "IQuestServerTests", dependencies: [
            "IQuestServer",
            "IQuestEngine",
            "IQuestConstraints",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
    ]
)
