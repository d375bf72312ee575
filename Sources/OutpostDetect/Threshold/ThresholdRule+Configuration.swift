import OutpostCore

/// A static limit on matching series: `[[detect.threshold]]`.
package struct ThresholdRuleConfiguration: Sendable, Equatable {
    /// `series` (required): glob over series names, e.g. `"*battery*"`.
    package var series: Glob
    /// `below`: crossing below this value fires.
    package var below: Double?
    /// `above`: crossing above this value fires.
    package var above: Double?
    /// `hysteresis`, default `0.0`: how far back inside the limit a value must come to clear, in the series' unit.
    package var hysteresis: Double
    /// `severity`, default `"warn"`: `info`, `warn` or `error`.
    package var severity: Severity
    /// `name`, default `""`: a label carried in the event (`outpost.rule`), e.g. `"battery low"`.
    package var name: String

    package init(series: Glob, below: Double? = nil, above: Double? = nil, hysteresis: Double = 0,
                severity: Severity = .warn, name: String = "") {
        self.series = series
        self.below = below
        self.above = above
        self.hysteresis = hysteresis
        self.severity = severity
        self.name = name
    }

    package static func read(_ reader: ConfigReader) -> ThresholdRuleConfiguration? {
        let pattern = reader.requiredString("series", hint: "name the series it applies to, e.g. series = \"*battery*\"")
        let below = reader.double("below")
        let above = reader.double("above")
        let hysteresis = reader.double("hysteresis", default: 0)
        let severityName = reader.choice("severity", ["info", "warn", "error"], default: "warn")
        let name = reader.string("name", default: "")
        reader.finish()
        if below == nil, above == nil {
            reader.missing("below", "a threshold needs `below`, `above` or both")
        }
        if let below, let above, below >= above {
            reader.invalid("below", "must be less than `above` (\(above)), got \(below)")
        }
        if hysteresis < 0 { reader.invalid("hysteresis", "must not be negative, got \(hysteresis)") }
        guard let pattern, below != nil || above != nil else { return nil }
        return ThresholdRuleConfiguration(series: Glob(pattern), below: below, above: above, hysteresis: hysteresis,
                                          severity: Severity(name: severityName) ?? .warn, name: name)
    }
}
