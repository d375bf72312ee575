import OutpostCore
import OutpostDelivery
import OutpostDetect
import OutpostWire

/// What `outpost check` prints: the resolved inputs with their effective detection settings, and the rules.
package enum ConfigurationReport {
    package static func render(_ configuration: OutpostConfiguration) -> String {
        var lines = ["config: \(configuration.origin) is valid",
                     "gateway: id=\(configuration.gateway.id) state_dir=\(configuration.gateway.stateDirectory)",
                     "alerts: min_severity=\(configuration.alerts.minSeverity.text.lowercased()) "
                         + "send_resolved=\(configuration.alerts.sendResolved) stdout=\(configuration.alerts.stdout)",
                     "", "inputs (\(configuration.inputs.count)):"]
        for configured in configuration.inputs {
            let interval = configured.settings.expectedInterval.map { "every \(ConfigQuantities.format($0))" } ?? "once"
            let place = configured.location.map { " (line \($0.line))" } ?? ""
            lines.append("  [\(configured.kind)] \(configured.settings.name), \(interval)\(place)")
            let probe = Series(name: configured.settings.name, unit: "")
            let settings = configuration.detection.settings(for: probe, sensorPatch: configured.source.patch)
            let detect = describe(settings, interval: configured.settings.expectedInterval,
                                  silence: configured.settings.deviceSilence)
            lines.append("      detect: \(detect)")
        }
        lines.append("")
        lines.append("uplinks (\(configuration.uplinks.count))\(configuration.uplinks.isEmpty ? ": none, the spool keeps everything" : ":")")
        for uplink in configuration.uplinks {
            let delivery = uplink.settings.delivery
            lines.append("  [\(uplink.kind)] \(uplink.name) → \(uplink.endpoint), drain \(delivery.drainRate) "
                + "batches/s, backoff \(ConfigQuantities.format(delivery.backoff.initial))…"
                + ConfigQuantities.format(delivery.backoff.maximum))
            if let metered = meteredLine(delivery) { lines.append("    " + metered) }
        }
        let spool = configuration.spool, batch = configuration.batch
        lines.append("spool: \(spool.path), max \(ConfigQuantities.format(bytes: spool.maxSize)), write_after "
            + ConfigQuantities.format(spool.writeAfter))
        lines.append("batches of at most \(batch.maxPoints) points / \(ConfigQuantities.format(bytes: Int64(batch.maxBytes)))"
            + " / \(ConfigQuantities.format(batch.maxAge)), \(batch.encoding.rawValue), \(compression(batch.format))"
            + (batch.maxBytes < batch.configuredMaxBytes ? " (max_bytes lowered to fit the smallest uplink limit)" : ""))
        lines.append("status: \(configuration.status.path), every \(ConfigQuantities.format(configuration.status.interval))")
        lines.append("")
        lines.append("detect defaults: \(describe(configuration.detection.defaults, interval: nil))")
        for (glob, patch) in configuration.detection.overrides {
            let settings = patch.applied(to: configuration.detection.defaults)
            lines.append("override \(glob): \(describe(settings, interval: nil))")
        }
        for rule in configuration.detection.thresholds {
            var limits: [String] = []
            if let below = rule.below { limits.append("below \(below)") }
            if let above = rule.above { limits.append("above \(above)") }
            let label = rule.name.isEmpty ? "" : " \"\(rule.name)\""
            lines.append("threshold\(label) on \(rule.series): \(limits.joined(separator: " or ")), "
                + "hysteresis \(rule.hysteresis), severity \(rule.severity.text.lowercased())")
        }
        return lines.joined(separator: "\n")
    }

    /// `gzip 6`, `zstd 19`, `uncompressed`.
    static func compression(_ format: BatchFormat) -> String {
        switch format.compression {
        case .none: "uncompressed"
        case .gzip(let level): "gzip \(level)"
        case .zstd(let level): "zstd \(level)"
        }
    }

    /// An uplink's budget, windows, drain order and aggregation, when it has any.
    static func meteredLine(_ delivery: DeliverySettings) -> String? {
        let holding = delivery.holding
        var parts: [String] = []
        if let daily = holding.budget.daily { parts.append("\(ConfigQuantities.format(bytes: daily)) a day") }
        if let monthly = holding.budget.monthly {
            parts.append("\(ConfigQuantities.format(bytes: monthly)) a month from day \(holding.budget.billingDay)")
        }
        if !holding.windows.windows.isEmpty {
            parts.append("sync windows \(holding.windows.description) local time"
                + (holding.eventsOutsideWindows ? " (events outside them too)" : ""))
        }
        if let aggregate = delivery.aggregate { parts.append("aggregated every \(ConfigQuantities.format(aggregate))") }
        guard !parts.isEmpty else { return nil }
        let when = switch holding.metered {
        case .always: "metered"
        case .never: "not metered (counted only)"
        case .auto(let interfaces): "metered while the default route is via \(interfaces.joined(separator: ", "))"
        }
        return when + ": " + parts.joined(separator: "; ") + ", backlog \(holding.drainOrder.rawValue) first"
    }

    static func describe(_ settings: DetectionSettings, interval: Duration?, silence: String? = nil) -> String {
        let anomaly = settings.anomaly
        var stale: String
        switch settings.staleAfter {
        case .never: stale = "never"
        case .duration(let duration): stale = ConfigQuantities.format(duration)
        case .intervals(let count):
            stale = settings.staleAfter.limit(interval: interval).map {
                "\(count) intervals (\(ConfigQuantities.format($0)))"
            } ?? "\(count) intervals"
        }
        if let silence { stale = silence }
        guard anomaly.enabled else { return "anomaly detection off, stale after \(stale)" }
        return "\(anomaly.method.rawValue) window=\(anomaly.window) warmup=\(anomaly.warmup) sigma=\(anomaly.sigma) "
            + "rules=\(anomaly.rules.joined(separator: ",")) likelihood=\(anomaly.likelihoodThreshold) "
            + "seasonality=\(anomaly.seasonality.rawValue) "
            + "resolve=\(anomaly.resolveSigma) quiet=\(ConfigQuantities.format(anomaly.quietPeriod)) "
            + "min_stddev=\(anomaly.minStddev) direction=\(anomaly.direction.rawValue) "
            + "level_shift_after=\(ConfigQuantities.format(anomaly.levelShiftAfter)), stale after \(stale)"
    }
}
