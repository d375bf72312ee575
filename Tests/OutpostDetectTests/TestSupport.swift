import OutpostCore
@testable import OutpostDetect

let second: Int64 = 1_000_000_000

func series(_ name: String = "test.value", unit: String = "Cel") -> Series {
    Series(name: name, unit: unit)
}

/// Feeds `values` one second apart from `start`, collecting every event.
func feed(_ detector: inout AnomalyDetector, _ values: [Double], series: Series, start: Int64 = 0) -> [Event] {
    var events: [Event] = []
    for (index, value) in values.enumerated() {
        events += detector.process(Sample(series: series, time: start + Int64(index) * second, value: value))
    }
    return events
}

/// Seeded standard normal noise, independent of the code under test (Box-Muller on a linear congruential generator).
struct TestNoise {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func uniform() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Double(state >> 11) + 0.5) / Double(1 << 53)
    }

    mutating func gaussian() -> Double {
        let u1 = uniform(), u2 = uniform()
        return (-2 * logarithm(u1)).squareRoot() * cosine(2 * .pi * u2)
    }
}

#if canImport(Glibc)
import Glibc
func logarithm(_ x: Double) -> Double { Glibc.log(x) }
func cosine(_ x: Double) -> Double { Glibc.cos(x) }
#endif
