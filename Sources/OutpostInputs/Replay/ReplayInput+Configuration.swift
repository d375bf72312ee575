import OutpostCore

/// `[[input.replay]]`: recorded `timestamp,value` data fed through the pipeline.
package struct ReplayInputConfiguration: Sendable {
    /// `path` (required): the CSV file.
    package var path: String
    /// `name` (default: the file name without `.csv`), `unit`, `sensor_id`, `device`, `location`, `attributes`.
    package var identity: SensorIdentity
    /// `speed`, default `0`: `0` replays as fast as possible; `1` at the recorded pace; `10` ten times faster
    /// (0 to 1000000; a pause is never longer than a day).
    package var speed = 0.0

    package static func defaultName(for path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return file.hasSuffix(".csv") ? String(file.dropLast(4)) : file
    }

    static func read(_ reader: ConfigReader, context: InputContext) -> ReplayInputConfiguration? {
        let path = reader.requiredString("path", hint: "point it at a CSV with header `timestamp,value`")
        let identity = SensorIdentity.read(reader, defaultName: defaultName(for: path ?? "replay"))
        let speed = reader.double("speed", in: 0...1_000_000, default: 0)
        reader.finish()
        guard let path else { return nil }
        var configuration = ReplayInputConfiguration(path: context.resolve(path), identity: identity)
        configuration.speed = max(0, speed)
        return configuration
    }
}
