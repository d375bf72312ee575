// swift-tools-version:6.1
import PackageDescription

// The folder tree is the architecture: one target per pipeline stage, lower stages never import higher ones.
// inputs ─► detect ─► wire (alert JSON) ─► runtime ─► outpost
let package = Package(
    name: "Outpost",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "outpost", targets: ["outpost"]),
        // For a program that embeds Outpost: `OutpostConfiguration.load/parse`, `Runtime(configuration:environment:)`,
        // `Runtime.run(logger:)` and `ConfigErrors` are its whole public API. Everything else is `package`.
        .library(name: "OutpostRuntime", targets: ["OutpostRuntime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms", exact: "1.1.4"),
        // No default traits: BinaryDelimitedStreams imports Foundation, which would link ICU (+45 MB static).
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0", traits: []),
    ],
    targets: [
        .target(name: "OutpostCore"),
        .target(name: "OutpostDetect", dependencies: ["OutpostCore"]),
        .target(name: "OutpostInputs", dependencies: ["OutpostCore", "OutpostMQTT"]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "OutpostWire",
            dependencies: ["OutpostCore", "CZlib", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(name: "OutpostSpool", dependencies: ["OutpostCore", "CSQLite"]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .target(name: "OutpostMQTT", dependencies: ["OutpostCore", "CMosquitto"]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(
            name: "OutpostUplinks",
            dependencies: ["OutpostCore", "OutpostWire", "OutpostSpool", "OutpostMQTT", "CCurl",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "OutpostRuntime",
            dependencies: [
                "OutpostCore", "OutpostDetect", "OutpostInputs", "OutpostWire", "OutpostSpool", "OutpostUplinks", "OutpostMQTT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "outpost",
            dependencies: [
                "OutpostRuntime", "OutpostCore", "OutpostInputs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Release-mode measurements of the hot paths: `swift run -c release outpost-benchmarks`. It lives in this
        // package (not its own) because what it measures is `package`, not `public`.
        .executableTarget(
            name: "outpost-benchmarks",
            dependencies: ["OutpostCore", "OutpostDetect", "OutpostInputs", "OutpostRuntime", "OutpostSpool", "OutpostWire"],
            path: "Benchmarks/Sources/OutpostBenchmarks"
        ),
        .target(name: "OutpostTestSupport", dependencies: ["OutpostCore"], path: "Tests/OutpostTestSupport"),
        .testTarget(name: "OutpostCoreTests", dependencies: ["OutpostCore"]),
        .testTarget(name: "OutpostDetectTests", dependencies: ["OutpostDetect", "OutpostCore"]),
        .testTarget(name: "OutpostWireTests", dependencies: ["OutpostWire", "OutpostCore", "OutpostTestSupport"], exclude: ["otlp_decode.py"]),
        .testTarget(name: "OutpostSpoolTests", dependencies: ["OutpostSpool", "OutpostCore", "OutpostTestSupport"]),
        .testTarget(name: "OutpostMQTTTests", dependencies: ["OutpostMQTT", "OutpostTestSupport"]),
        .testTarget(
            name: "OutpostUplinksTests",
            dependencies: ["OutpostUplinks", "OutpostWire", "OutpostSpool", "OutpostCore", "OutpostMQTT", "OutpostTestSupport"],
            exclude: ["otlp_server.py", "Fixtures"]
        ),
        .testTarget(
            name: "OutpostInputsTests",
            dependencies: ["OutpostInputs", "OutpostCore", "OutpostMQTT", "OutpostTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "OutpostRuntimeTests",
            dependencies: ["OutpostRuntime", "OutpostInputs", "OutpostDetect", "OutpostWire", "OutpostSpool",
                           "OutpostCore", "OutpostTestSupport"],
            exclude: ["Fuzz/Regressions"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
