import OutpostCore

/// A deterministic synthetic sensor: the built-in default uses it so a newcomer sees alerts with no hardware.
package enum SimulatedInput: InputKind {
    package static let kind = "simulated"

    package static func read(_ reader: ConfigReader, context: InputContext) -> (any InputSettings)? {
        SimulatedInputConfiguration.read(reader)
    }
}

/// Produces tick after tick of the configured signal. Values depend only on the seed and the tick number, never
/// on the wall clock, so a test or a demo sees the same series every run.
package struct SimulatedReader: PollingReader {
    package let configuration: SimulatedInputConfiguration
    private let series: Series
    private var generator: SeededGenerator
    private var tick: Int64 = 0
    private var walk = 0.0
    private var lastValue: Double?

    package init(configuration: SimulatedInputConfiguration) {
        self.configuration = configuration
        self.series = configuration.identity.series()
        self.generator = SeededGenerator(seed: configuration.seed)
    }

    package mutating func read(now: Int64) -> [Reading] {
        nextValue().map { [.sample(Sample(series: series, time: now, value: $0))] } ?? []
    }

    /// The next tick's value, or nil during a dropout.
    package mutating func nextValue() -> Double? {
        let elapsed = configuration.interval * Int(tick)
        tick += 1
        var value = baseSignal(elapsed: elapsed) + configuration.noise * generator.nextGaussian()
        var dropped = false, stuck = false
        for injection in configuration.injections {
            switch injection.kind {
            case .spike where isActive(injection, at: elapsed): value += injection.size
            case .levelShift where elapsed >= injection.at: value += injection.size
            case .stuck where isActive(injection, at: elapsed): stuck = true
            case .dropout where isActive(injection, at: elapsed): dropped = true
            default: break
            }
        }
        if stuck, let lastValue { value = lastValue }
        if configuration.resolution > 0 {
            value = (value / configuration.resolution).rounded() * configuration.resolution
        }
        guard !dropped else { return nil }
        lastValue = value
        return value
    }

    private mutating func baseSignal(elapsed: Duration) -> Double {
        switch configuration.signal {
        case .sine:
            let phase = (elapsed / configuration.period).truncatingRemainder(dividingBy: 1)
            return configuration.base + configuration.amplitude * sine(2 * Double.pi * phase)
        case .randomWalk:
            // A gentle pull toward the base keeps a long walk from wandering off for good.
            walk = walk * 0.999 + configuration.step * generator.nextGaussian()
            return configuration.base + walk
        case .noise, .constant:
            return configuration.base
        }
    }

    private func isActive(_ injection: SimulatedInputConfiguration.Injection, at elapsed: Duration) -> Bool {
        guard elapsed >= injection.at else { return false }
        var offset = elapsed - injection.at
        if let every = injection.every, every > .zero {
            offset = offset - every * Int(offset / every)
        }
        return offset < (injection.duration ?? configuration.interval)
    }
}

/// SplitMix64: small, fast and fully determined by its seed (the standard library's generator is not seedable).
package struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    package init(seed: UInt64) {
        state = seed
    }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal value (Box-Muller).
    package mutating func nextGaussian() -> Double {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), .leastNonzeroMagnitude)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return (-2 * logarithm(u1)).squareRoot() * cosine(2 * Double.pi * u2)
    }
}

extension SimulatedInputConfiguration: InputSettings {
    package var name: String { identity.name }
    package var expectedInterval: Duration? { interval }

    package func makeInput(_ resources: InputResources) -> any Input {
        PolledInput(name: name, interval: interval, reader: SimulatedReader(configuration: self), clock: resources.clock,
                    wallClock: resources.wallClock)
    }
}
