#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import OutpostCore
import OutpostWire

/// Somewhere the event router shows events as they pass: the log, standard output.
package protocol EventOutput: Sendable {
    /// True for an output that shows alerts only (standard output), false for one that shows every event (the log).
    var alertsOnly: Bool { get }
    func publish(_ event: Event) async
}

/// Decides which events are alerts: those at or above `min_severity`, plus, when `send_resolved` is on, the
/// event that ends an episode whose start was an alert (so a consumer never sees an alert that never clears).
package struct AlertFilter: Sendable {
    package let minSeverity: Severity
    package let sendResolved: Bool
    private var open: Set<String> = []

    package static let raisedBy: [EventName: EventName] = [
        .anomalyResolved: .anomalyRaised, .thresholdCleared: .thresholdCrossed, .deviceRecovered: .deviceStale,
    ]

    package init(minSeverity: Severity, sendResolved: Bool) {
        self.minSeverity = minSeverity
        self.sendResolved = sendResolved
    }

    package mutating func admit(_ event: Event) -> Bool {
        let series = event.series?.key ?? ""
        if let raised = Self.raisedBy[event.name] {
            let wasAlert = open.remove(series + "|" + raised.rawValue) != nil
            return event.severity >= minSeverity || (sendResolved && wasAlert)
        }
        guard event.severity >= minSeverity else { return false }
        open.insert(series + "|" + event.name.rawValue)
        return true
    }
}

/// Writes each alert as one JSON line to standard output, unbuffered so a pipe sees it at once.
package struct StdoutAlertOutput: EventOutput {
    package let gateway: String
    package var alertsOnly: Bool { true }

    package init(gateway: String) {
        self.gateway = gateway
    }

    package func publish(_ event: Event) async {
        let line = AlertJSON.encode(event, gateway: gateway) + "\n"
        line.utf8CString.withUnsafeBufferPointer { buffer in
            var offset = 0
            let count = buffer.count - 1
            while offset < count {
                let written = write(1, buffer.baseAddress! + offset, count - offset)
                if written <= 0 { if errno == EINTR { continue } else { return } }
                offset += written
            }
        }
    }
}

/// Logs every event (alert or not) to standard error, so the log tells the whole story.
package struct LogEventOutput: EventOutput {
    package let logger: Logger
    package var alertsOnly: Bool { false }

    package init(logger: Logger) {
        self.logger = logger
    }

    package func publish(_ event: Event) async {
        let level: Logger.Level = event.severity >= .error ? .error : event.severity >= .warn ? .warning : .info
        logger.log(level: level, "\(event.name.rawValue): \(event.message)")
    }
}
