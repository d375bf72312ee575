import OutpostCore

/// The `[detect]` table: defaults for every series, glob overrides and threshold rules.
package struct DetectionConfiguration: Sendable {
    package var defaults = DetectionSettings()
    /// `[[detect.override]]`: `series` glob plus any detection key; later overrides win.
    package var overrides: [(series: Glob, patch: DetectionPatch)] = []
    /// `[[detect.threshold]]`: static limits.
    package var thresholds: [ThresholdRuleConfiguration] = []
    /// `[[detect.group]]`: series judged together by a group detector.
    package var groups: [GroupConfiguration] = []

    package init() {}

    package static func read(_ reader: ConfigReader?) -> DetectionConfiguration {
        var configuration = DetectionConfiguration()
        guard let reader else { return configuration }
        configuration.defaults = DetectionPatch.read(reader).applied(to: configuration.defaults)
        for overrideReader in reader.tables("override") {
            let pattern = overrideReader.requiredString(
                "series", hint: "name the series it applies to, e.g. series = \"system.*\"")
            let patch = DetectionPatch.read(overrideReader)
            overrideReader.finish()
            if let pattern { configuration.overrides.append((Glob(pattern), patch)) }
        }
        configuration.thresholds = reader.tables("threshold").compactMap(ThresholdRuleConfiguration.read)
        for groupReader in reader.tables("group") {
            guard let group = GroupConfiguration.read(groupReader) else { continue }
            if configuration.groups.contains(where: { $0.name == group.name }) {
                groupReader.invalid("name",
                                    "another [[detect.group]] is named \"\(group.name)\"; group names must differ")
                continue
            }
            configuration.groups.append(group)
        }
        reader.finish()
        return configuration
    }

    /// The settings for `series`: defaults, then matching overrides in file order, then the sensor's own table.
    package func settings(for series: Series, sensorPatch: DetectionPatch?) -> DetectionSettings {
        var settings = defaults
        for (glob, patch) in overrides where glob.matches(series.name) {
            settings = patch.applied(to: settings)
        }
        if let sensorPatch { settings = sensorPatch.applied(to: settings) }
        return settings
    }
}
