import OutpostCore

/// `[[input.simulated]]`: a deterministic synthetic sensor, for demos, tests and tuning detection.
package struct SimulatedInputConfiguration: Sendable {
    package enum Signal: String, Sendable, CaseIterable {
        case sine, randomWalk = "random_walk", noise, constant
    }

    /// `[[input.simulated.inject]]`: something going wrong on purpose.
    package struct Injection: Sendable, Equatable {
        package enum Kind: String, Sendable, CaseIterable {
            /// Adds `size` for `duration`.
            case spike
            /// Adds `size` from `at` on, for good.
            case levelShift = "level_shift"
            /// Repeats the last value for `duration` (a stuck sensor).
            case stuck
            /// Sends nothing for `duration` (a dropout; staleness rules notice it).
            case dropout
        }

        /// `kind` (required): `spike`, `level_shift`, `stuck` or `dropout`.
        package var kind: Kind
        /// `at` (required): time after start, e.g. `"40s"`.
        package var at: Duration
        /// `every`, default none: repeat with this period.
        package var every: Duration?
        /// `duration`, default one interval.
        package var duration: Duration?
        /// `size`, default `0.0`: the offset for `spike` and `level_shift`, in the series' unit.
        package var size: Double

        package init(kind: Kind, at: Duration, every: Duration? = nil, duration: Duration? = nil, size: Double = 0) {
            self.kind = kind
            self.at = at
            self.every = every
            self.duration = duration
            self.size = size
        }
    }

    /// `name`, `unit`, `sensor_id`, `device`, `location`, `attributes`: see `SensorIdentity`.
    package var identity: SensorIdentity
    /// `interval`, default `"1s"`.
    package var interval: Duration = .seconds(1)
    /// `signal`, default `"sine"`: `sine`, `random_walk`, `noise` or `constant`.
    package var signal = Signal.sine
    /// `base`, default `20.0`: the centre value.
    package var base = 20.0
    /// `amplitude`, default `1.0`: sine amplitude.
    package var amplitude = 1.0
    /// `period`, default `"10m"`: sine period.
    package var period: Duration = .seconds(600)
    /// `noise`, default `0.1`: standard deviation of Gaussian noise added to every value.
    package var noise = 0.1
    /// `step`, default `0.05`: standard deviation of each random-walk step.
    package var step = 0.05
    /// `resolution`, default `0.0`: values are rounded to this step, as a real sensor's are (`0.0625` for a DS18B20).
    package var resolution = 0.0
    /// `seed`, default `1`: the same seed gives the same values, run after run.
    package var seed: UInt64 = 1
    package var injections: [Injection] = []

    package init(identity: SensorIdentity) {
        self.identity = identity
    }

    static func read(_ reader: ConfigReader) -> SimulatedInputConfiguration {
        var configuration = SimulatedInputConfiguration(identity: SensorIdentity.read(reader))
        configuration.interval = reader.positiveDuration("interval", default: configuration.interval)
        let signal = reader.choice("signal", Signal.allCases.map(\.rawValue), default: configuration.signal.rawValue)
        configuration.signal = Signal(rawValue: signal) ?? .sine
        configuration.base = reader.double("base", default: configuration.base)
        configuration.amplitude = reader.double("amplitude", default: configuration.amplitude)
        configuration.period = reader.positiveDuration("period", default: configuration.period)
        configuration.noise = reader.double("noise", default: configuration.noise)
        configuration.step = reader.double("step", default: configuration.step)
        configuration.resolution = reader.double("resolution", default: configuration.resolution)
        configuration.seed = UInt64(clamping: reader.int("seed", default: 1))
        configuration.injections = reader.tables("inject").compactMap(readInjection)
        if configuration.noise < 0 { reader.invalid("noise", "must not be negative") }
        if configuration.resolution < 0 { reader.invalid("resolution", "must not be negative") }
        reader.finish()
        return configuration
    }

    private static func readInjection(_ reader: ConfigReader) -> Injection? {
        let kindName = reader.requiredString("kind", hint: "say what to inject: spike, level_shift, stuck or dropout")
        let kind = kindName.flatMap(Injection.Kind.init(rawValue:))
        if let kindName, kind == nil {
            reader.invalid("kind", "`\(kindName)` is not one of \"spike\", \"level_shift\", \"stuck\", \"dropout\"")
        }
        if !reader.contains("at") { reader.missing("at", "say when, e.g. at = \"40s\"") }
        let at = reader.duration("at")
        let every = reader.duration("every")
        let duration = reader.duration("duration")
        let size = reader.double("size", default: 0)
        reader.finish()
        if let every, every <= .zero { reader.invalid("every", "must be positive") }
        guard let kind, let at else { return nil }
        return Injection(kind: kind, at: at, every: every, duration: duration, size: size)
    }
}
