// swift-tools-version:6.1
import PackageDescription

// The folder tree is the architecture (ARCHITECTURE.md draws it): one target per pipeline stage, in the data's order,
// each handing on to the next through a door protocol from OutpostCore; lower stages never import higher ones.
//
//   OutpostInputs ─► OutpostDetect ─► OutpostBatch ─► OutpostSpool ─► OutpostDelivery ─► OutpostUplinks
//   (read)           (detect, route    (OTLP batches)  (SQLite queue)  (retry, pace)      (OTLP/HTTP, MQTT)
//                     every event)
//   under them: OutpostCore (model, config reading, doors, clocks), OutpostWire (OTLP, gzip, zstd, alert JSON),
//               OutpostMQTT (libmosquitto client)
//   over them:  OutpostRuntime (configuration values, registry of kinds, boards, wiring), then OutpostTools
//               (the bodies of `outpost replay`, `spool`, `status`), then outpost (the command line)
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let asyncAlgorithms = Target.Dependency.product(name: "AsyncAlgorithms", package: "swift-async-algorithms")
let unixSignals = Target.Dependency.product(name: "UnixSignals", package: "swift-service-lifecycle")

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
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        // libcurl is loaded when an OTLP/HTTP uplink first needs it (see CCurl.h); only its headers are needed here.
        .target(name: "CCurl"),
        .target(name: "CMallocTuning"),
        .target(name: "OutpostMQTT", dependencies: ["OutpostCore", "CMosquitto"]),
        .target(
            name: "OutpostWire",
            dependencies: ["OutpostCore", "CZlib", "CZstd", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(name: "OutpostInputs", dependencies: ["OutpostCore", "OutpostMQTT", "CModbus", logging, lifecycle]),
        .target(name: "OutpostDetect", dependencies: ["OutpostCore", "OutpostWire", logging, lifecycle, asyncAlgorithms]),
        .target(name: "OutpostBatch", dependencies: ["OutpostCore", "OutpostWire", logging, lifecycle, asyncAlgorithms]),
        .target(name: "OutpostSpool", dependencies: ["OutpostCore", "CSQLite", logging, lifecycle]),
        .target(name: "OutpostDelivery", dependencies: ["OutpostCore", "OutpostSpool", lifecycle]),
        .target(
            name: "OutpostUplinks",
            dependencies: ["OutpostCore", "OutpostWire", "OutpostDelivery", "OutpostMQTT", "CCurl",
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // Over the stages, beside the runtime: the local HTTP endpoint and the OpAMP client. They see the runtime
        // only through `OperatedRuntime` and change the configuration only through its reload.
        .target(
            name: "OutpostOperations",
            dependencies: ["OutpostCore", "OutpostWire", "OutpostUplinks", logging, lifecycle,
                           .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "OutpostRuntime",
            dependencies: [
                "OutpostCore", "OutpostWire", "OutpostMQTT", "OutpostInputs", "OutpostDetect", "OutpostBatch",
                "OutpostSpool", "OutpostDelivery", "OutpostUplinks", "OutpostOperations", "CMallocTuning", logging,
                lifecycle, unixSignals,
            ]
        ),
        .target(
            name: "OutpostTools",
            dependencies: ["OutpostCore", "OutpostWire", "OutpostInputs", "OutpostDetect", "OutpostSpool",
                           "OutpostRuntime"]
        ),
        .executableTarget(
            name: "outpost",
            dependencies: [
                "OutpostRuntime", "OutpostTools", "OutpostCore", "OutpostInputs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), logging,
            ],
            // Nothing loads symbols from the executable: not exporting its 15,000 Swift symbols saves 1.5 MiB.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux]))]
        ),
        // Release-mode measurements of the hot paths: `swift run -c release outpost-benchmarks`. It lives in this
        // package (not its own) because what it measures is `package`, not `public`.
        .executableTarget(
            name: "outpost-benchmarks",
            dependencies: ["OutpostCore", "OutpostDetect", "OutpostInputs", "OutpostRuntime", "OutpostSpool", "OutpostWire",
                           "OutpostBatch", "OutpostTools", "CMallocTuning"],
            path: "Benchmarks/Sources/OutpostBenchmarks"
        ),
        // One test target per source target, plus the system tests, which run the built `outpost` binary (and
        // package installs, cross-build sysroots) end to end.
        .target(name: "OutpostTestSupport", dependencies: ["OutpostCore", "OutpostSpool", "OutpostDelivery", logging],
                path: "Tests/OutpostTestSupport", exclude: ["modbus_server.py"]),
        .testTarget(name: "OutpostCoreTests", dependencies: ["OutpostCore", "OutpostTestSupport"]),
        .testTarget(name: "OutpostMQTTTests", dependencies: ["OutpostMQTT", "OutpostTestSupport"],
                    exclude: ["flaky_proxy.py"]),
        .testTarget(name: "OutpostWireTests", dependencies: ["OutpostWire", "OutpostCore", "OutpostTestSupport"],
                    exclude: ["otlp_decode.py"]),
        .testTarget(
            name: "OutpostInputsTests",
            dependencies: ["OutpostInputs", "OutpostCore", "OutpostMQTT", "OutpostTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "OutpostDetectTests",
                    dependencies: ["OutpostDetect", "OutpostCore", "OutpostInputs", "OutpostTestSupport"]),
        .testTarget(name: "OutpostBatchTests",
                    dependencies: ["OutpostBatch", "OutpostCore", "OutpostWire", "OutpostTestSupport"]),
        .testTarget(name: "OutpostSpoolTests",
                    dependencies: ["OutpostSpool", "OutpostCore", "OutpostTestSupport", logging, lifecycle]),
        .testTarget(
            name: "OutpostDeliveryTests",
            dependencies: ["OutpostDelivery", "OutpostSpool", "OutpostCore", "OutpostTestSupport"]
        ),
        .testTarget(
            name: "OutpostUplinksTests",
            dependencies: ["OutpostUplinks", "OutpostDelivery", "OutpostSpool", "OutpostWire", "OutpostCore",
                           "OutpostMQTT", "OutpostTestSupport"],
            exclude: ["otlp_server.py", "Fixtures"]
        ),
        .testTarget(
            name: "OutpostRuntimeTests",
            dependencies: ["OutpostRuntime", "OutpostInputs", "OutpostDetect", "OutpostBatch", "OutpostSpool",
                           "OutpostDelivery", "OutpostUplinks", "OutpostWire", "OutpostCore", "OutpostTestSupport",
                           "OutpostOperations", "CMallocTuning",
                           logging, lifecycle],
            exclude: ["Fuzz/Regressions"]
        ),
        .testTarget(name: "OutpostToolsTests",
                    dependencies: ["OutpostTools", "OutpostRuntime", "OutpostInputs", "OutpostCore", "OutpostTestSupport"]),
        .testTarget(name: "OutpostOperationsTests",
                    dependencies: ["OutpostOperations", "OutpostCore", "OutpostTestSupport", logging]),
        .testTarget(
            name: "OutpostSystemTests",
            dependencies: ["OutpostRuntime", "OutpostTools", "OutpostSpool", "OutpostCore", "OutpostMQTT",
                           "OutpostOperations", "OutpostTestSupport"],
            exclude: ["opamp_server.py", "prometheus_scrape.py"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
