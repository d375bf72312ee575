// swift-tools-version:6.1
import PackageDescription

// Measures what the local endpoint costs (BENCHMARKS.md, "The local HTTP endpoint"): the same three GETs served by
// Outpost's own minimal server (its sources, linked from Sources/OutpostOperations/HTTP, over the few OutpostCore
// files they use) and by Hummingbird 2 (swift-nio), beside a program that serves nothing. Built by
// Benchmarks/measure-http; not part of the Outpost package.
let package = Package(
    name: "HTTPFootprint",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
    ],
    targets: [
        .target(name: "OutpostCore"),
        .executableTarget(name: "Baseline"),
        .executableTarget(name: "OwnServer", dependencies: ["OutpostCore"]),
        .executableTarget(name: "HummingbirdServer",
                          dependencies: [.product(name: "Hummingbird", package: "hummingbird")]),
    ],
    swiftLanguageModes: [.v6]
)
