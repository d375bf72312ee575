/// OTLP SeverityNumber values used by Outpost (see the OTLP logs data model, "SeverityNumber").
package enum Severity: Int, Sendable, Comparable, CaseIterable {
    case info = 9
    case warn = 13
    case error = 17

    package var text: String {
        switch self {
        case .info: "INFO"
        case .warn: "WARN"
        case .error: "ERROR"
        }
    }

    /// Parses `info`, `warn`/`warning` or `error`, in any case.
    package init?(name: String) {
        switch name.lowercased() {
        case "info": self = .info
        case "warn", "warning": self = .warn
        case "error": self = .error
        default: return nil
        }
    }

    package static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Every event name Outpost emits, `domain.action` as the OpenTelemetry event conventions ask.
package enum EventName: String, Sendable, CaseIterable {
    case anomalyRaised = "outpost.anomaly.raised"
    case anomalyResolved = "outpost.anomaly.resolved"
    case thresholdCrossed = "outpost.threshold.crossed"
    case thresholdCleared = "outpost.threshold.cleared"
    case deviceStale = "outpost.device.stale"
    case deviceRecovered = "outpost.device.recovered"
    case sensorFault = "outpost.sensor.fault"
    case uplinkState = "outpost.uplink.state"
    case spoolDropped = "outpost.spool.dropped"
    case spoolWriteFailed = "outpost.spool.write_failed"
    case spoolReset = "outpost.spool.reset"
    case budgetReached = "outpost.budget.reached"
    case budgetRenewed = "outpost.budget.renewed"
}

/// Something that happened, modelled as an OTLP log record with `event_name`.
///
/// Attributes carry everything that explains the event (value, mean, stddev, z, sigma, ...), so an operator
/// reading one alert needs nothing else to understand it.
package struct Event: Sendable {
    package let name: EventName
    package let severity: Severity
    /// Unix time in nanoseconds of the sample or tick that caused the event.
    package let time: Int64
    /// The series the event is about, when there is one.
    package let series: Series?
    /// One human sentence, the OTLP body.
    package let message: String
    package let attributes: Attributes

    package init(
        name: EventName,
        severity: Severity,
        time: Int64,
        series: Series?,
        message: String,
        attributes: Attributes = Attributes()
    ) {
        self.name = name
        self.severity = severity
        self.time = time
        self.series = series
        self.message = message
        self.attributes = attributes
    }
}
