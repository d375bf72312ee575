import OutpostCore
import OutpostWire

/// `[status]`: the status file and Outpost's own metrics.
package struct StatusConfiguration: Sendable {
    /// `path`, default `"$RUNTIME_DIRECTORY/status.json"` (systemd's RuntimeDirectory, a tmpfs, so the SD card is
    /// not written every few seconds), else `"<state_dir>/status.json"`. Rewritten atomically every `interval`;
    /// `outpost status` reads it.
    package var path: String
    /// `interval`, default `"5s"`.
    package var interval: Duration = .seconds(5)
    /// `self_metrics_interval`, default `"30s"`: how often Outpost samples its own metrics (`outpost.*`) into the
    /// metrics lane; `"0s"` turns them off.
    package var selfMetricsInterval: Duration = .seconds(30)

    static func read(_ reader: ConfigReader?, stateDirectory: String, environment: [String: String])
        -> StatusConfiguration
    {
        let directory = environment["RUNTIME_DIRECTORY"].flatMap { $0.isEmpty ? nil : $0 } ?? stateDirectory
        var status = StatusConfiguration(path: directory + "/status.json")
        guard let reader else { return status }
        status.path = reader.string("path", default: status.path)
        status.interval = reader.positiveDuration("interval", default: status.interval)
        status.selfMetricsInterval = reader.duration("self_metrics_interval", default: status.selfMetricsInterval)
        reader.finish()
        return status
    }
}
