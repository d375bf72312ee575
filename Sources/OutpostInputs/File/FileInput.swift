import OutpostCore

/// A number read from a file at an interval, with optional regex, scale, offset and fault values.
package enum FileInput: InputKind {
    package static let kind = "file"

    package static func read(_ reader: ConfigReader, context: InputContext) -> (any InputSettings)? {
        FileInputConfiguration.read(reader, context: context)
    }
}

/// Reads one file per poll. A failure raises one `outpost.sensor.fault` per run of identical failures (not one
/// per poll), so a disconnected sensor is loud once and then quiet until something changes. A value that cannot be
/// true (NaN, ±Inf, outside its unit's physical range) is such a fault, never a sample.
package struct FileReader: PollingReader {
    package let configuration: FileInputConfiguration
    private let series: Series
    private var faults = FaultLatch()
    /// The hwmon chip's folder as last found (`hwmon`), checked before each read.
    private var chipFolder: String?

    package init(configuration: FileInputConfiguration) {
        self.configuration = configuration
        self.series = configuration.identity.series()
    }

    package var readDeadline: Duration { configuration.timeout }
    package var readActivity: String {
        "reading \(configuration.hwmon.map { "\($0.description)/" } ?? "")\(configuration.path)"
    }

    package mutating func read(now: Int64) -> [Reading] {
        let path: String
        switch locate() {
        case .success(let found): path = found
        case .failure(let error):
            return faults.shouldReport(error.description) ? [.event(faultEvent(error.description, now: now))] : []
        }
        switch measure(path) {
        case .value(let value):
            faults.clear()
            return [.sample(Sample(series: series, time: now, value: value))]
        case .fault(let reason):
            return faults.shouldReport(reason) ? [.event(faultEvent(reason, now: now))] : []
        }
    }

    private enum Measurement {
        case value(Double)
        case fault(String)
    }

    /// The file to read: `path`, or the file in the hwmon chip's folder, found again when the numbering changed.
    private mutating func locate() -> Result<String, SystemFileError> {
        guard let chip = configuration.hwmon else { return .success(configuration.path) }
        if let folder = chipFolder, chip.isStill(folder) { return .success(folder + "/" + configuration.path) }
        chipFolder = nil
        switch chip.locate() {
        case .success(let folder):
            chipFolder = folder
            return .success(folder + "/" + configuration.path)
        case .failure(let error):
            return .failure(error)
        }
    }

    private func measure(_ path: String) -> Measurement {
        let text: String
        do {
            text = try SystemFiles.read(path, limit: 64 * 1024)
        } catch {
            return .fault(error.description)
        }
        let extraction = configuration.extraction
        let scaled: Double
        switch configuration.preset {
        case .ds18b20:
            switch DS18B20.parse(text) {
            case .celsius(let celsius): scaled = celsius * extraction.scale
            case .fault(let reason): return .fault(reason)
            }
        case .none:
            guard let value = extraction.extractScaled(from: text) else {
                let shown = text.trimmingSpaces().prefix(40)
                return .fault("no number in `\(shown)`\(extraction.pattern.map { " matching /\($0)/" } ?? "")")
            }
            scaled = value
        }
        // Faults are compared before the calibration offset, so a calibrated sensor still reports its faults.
        if configuration.faultValues.contains(where: { abs($0 - scaled) < 1e-9 }) {
            return .fault("reads \(scaled), a known fault value of this sensor")
        }
        let value = scaled + extraction.offset
        if let problem = Plausibility.problem(with: value, unit: series.unit) { return .fault(problem) }
        return .value(value)
    }

    private func faultEvent(_ reason: String, now: Int64) -> Event {
        var attributes = Attributes()
        attributes["outpost.series"] = .string(series.name)
        attributes["outpost.input"] = .string("file")
        attributes["outpost.path"] = .string(configuration.path)
        attributes["outpost.fault"] = .string(reason)
        return Event(name: .sensorFault, severity: .warn, time: now, series: series,
                     message: "\(series.name): sensor fault: \(reason)", attributes: attributes)
    }
}

extension FileInputConfiguration: InputSettings {
    package var name: String { identity.name }
    package var expectedInterval: Duration? { interval }

    package func makeInput(_ resources: InputResources) -> any Input {
        PolledInput(name: name, interval: interval, reader: FileReader(configuration: self), clock: resources.clock,
                    wallClock: resources.wallClock)
    }
}
