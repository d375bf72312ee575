// swift-tools-version:6.1
import PackageDescription

// Release-mode measurements of Outpost's hot paths: `swift run -c release --package-path Benchmarks`.
// Numbers go in ../BENCHMARKS.md.
let package = Package(
    name: "OutpostBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Outpost", path: "..")],
    targets: [
        .executableTarget(
            name: "OutpostBenchmarks",
            dependencies: [
                .product(name: "OutpostDetect", package: "Outpost"),
                .product(name: "OutpostInputs", package: "Outpost"),
                .product(name: "OutpostRuntime", package: "Outpost"),
                .product(name: "OutpostWire", package: "Outpost"),
                .product(name: "OutpostSpool", package: "Outpost"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
