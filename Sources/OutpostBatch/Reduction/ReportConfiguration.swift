import OutpostCore

/// `[report]`, an input's `report` table, and `[[report.override]]`: which series are sent only on change, and how.
///
/// A series' rule: `[report]`, then its input's `report` table, then every `[[report.override]]` whose `series`
/// glob matches it, in file order, each setting only the keys it gives. Detection and alerts are not affected: they
/// see every sample.
package struct ReportConfiguration: Sendable {
    /// Keys a table may set; nil where it leaves them.
    package struct Patch: Sendable, Equatable {
        /// `on_change`: send a sample only when it changed past the deadband (or after `max_silence`).
        package var onChange: Bool?
        package var deadband: Deadband?
        package var maxSilence: Duration?

        package init(onChange: Bool? = nil, deadband: Deadband? = nil, maxSilence: Duration? = nil) {
            self.onChange = onChange
            self.deadband = deadband
            self.maxSilence = maxSilence
        }

        package var isEmpty: Bool { onChange == nil && deadband == nil && maxSilence == nil }

        /// The keys of a `report` table (`on_change`, `deadband`, `max_silence`). Giving `deadband` or
        /// `max_silence` without `on_change` turns it on.
        package static func read(_ reader: ConfigReader) -> Patch {
            var patch = Patch()
            if reader.contains("on_change") { patch.onChange = reader.bool("on_change", default: false) }
            if let node = reader.node("deadband") { patch.deadband = deadband(node, reader) }
            if reader.contains("max_silence") {
                patch.maxSilence = reader.positiveDuration("max_silence",
                                                           default: ReportConfiguration.defaultMaxSilence)
            }
            if patch.onChange == nil, patch.deadband != nil || patch.maxSilence != nil { patch.onChange = true }
            return patch
        }

        private static func deadband(_ node: ConfigNode, _ reader: ConfigReader) -> Deadband? {
            switch node.value {
            case .int(let value) where value >= 0: return .absolute(Double(value))
            case .double(let value) where value.isFinite && value >= 0: return .absolute(value)
            case .string(let text) where text.hasSuffix("%"):
                if let percent = Double(String(text.dropLast()).trimmingSpaces()), percent.isFinite,
                    (0...100).contains(percent)
                {
                    return .percent(percent)
                }
            default: break
            }
            reader.invalid("deadband", "write a non-negative number in the series' unit (0.1) or a share of the last "
                + "value sent (\"2%\")")
            return nil
        }

        /// `self`, with `other`'s keys where it sets them.
        func overlaid(with other: Patch?) -> Patch {
            guard let other else { return self }
            return Patch(onChange: other.onChange ?? onChange, deadband: other.deadband ?? deadband,
                         maxSilence: other.maxSilence ?? maxSilence)
        }
    }

    package static let defaultMaxSilence: Duration = .seconds(15 * 60)

    /// `[report]`: defaults `on_change = false`, `deadband = 0`, `max_silence = "15m"`.
    package var defaults = Patch(onChange: false, deadband: .absolute(0), maxSilence: defaultMaxSilence)
    package var overrides: [(series: Glob, patch: Patch)] = []

    package init() {}

    /// Whether any series could be sent only on change.
    package func mayApply(inputPatches: [Patch?]) -> Bool {
        defaults.onChange == true || overrides.contains { $0.patch.onChange == true }
            || inputPatches.contains { $0?.onChange == true }
    }

    /// The rule for `series`, given its input's `report` table; nil: every sample is sent.
    package func rule(for series: Series, inputPatch: Patch?) -> ChangeRule? {
        var patch = defaults.overlaid(with: inputPatch)
        for override in overrides where override.series.matches(series.name) {
            patch = patch.overlaid(with: override.patch)
        }
        guard patch.onChange == true else { return nil }
        return ChangeRule(deadband: patch.deadband ?? .absolute(0),
                          maxSilence: patch.maxSilence ?? Self.defaultMaxSilence)
    }

    /// Reads `[report]` and its `[[report.override]]` tables.
    package static func read(_ reader: ConfigReader?) -> ReportConfiguration {
        var configuration = ReportConfiguration()
        guard let reader else { return configuration }
        configuration.defaults = configuration.defaults.overlaid(with: Patch.read(reader))
        for table in reader.tables("override") {
            let glob = table.requiredString("series", hint: "give the series it is for, e.g. series = \"greenhouse.*\"")
            let patch = Patch.read(table)
            table.finish()
            if let glob { configuration.overrides.append((Glob(glob), patch)) }
        }
        reader.finish()
        return configuration
    }
}
