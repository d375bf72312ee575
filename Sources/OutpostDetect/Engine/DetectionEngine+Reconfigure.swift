import OutpostCore

/// What a reload did to the engine's series.
package struct DetectionReconfiguration: Sendable, Equatable {
    /// Series whose settings are unchanged: baseline, open episode, staleness and budget carry on.
    package var kept = 0
    /// Series whose settings changed: forgotten, they start afresh (warm-up included) with their next sample.
    package var restarted = 0
    /// Series of inputs that are gone: forgotten, so they never go stale.
    package var forgotten = 0
    /// Those series.
    package var gone: [Series] = []
}

extension DetectionEngine {
    /// Applies a reload's detection settings without losing what the series learned (the runtime's reload, see
    /// `ReloadPlan`). `sources` gives, by input slot, where that input's samples now come from; nil for an input
    /// that is gone.
    ///
    /// A series keeps its whole state when the settings resolved for it (`[detect]`, overrides, its input's
    /// `detect` table, thresholds, its staleness limit) are equal to those its state was built from. A series whose
    /// settings changed is forgotten and starts afresh with its next sample: a baseline learned under other rules
    /// would not mean the same, and an episode open on it ends without a resolved event. When `[[detect.group]]`
    /// changed, every group starts afresh over the series known (`regroup`).
    package mutating func reconfigure(_ configuration: DetectionConfiguration, sources: (Int) -> SampleSource?)
        -> DetectionReconfiguration
    {
        let groupsChanged = configuration.groups != self.configuration.groups
        self.configuration = configuration
        // Kept states hold their own reference; new series share what the new configuration decides.
        sharedRules = []
        var result = DetectionReconfiguration()
        var leaving: [Series] = []
        for state in states.compactMap({ $0 }) {
            let series = state.summary.series
            guard let input = state.input, let source = sources(input) else {
                leaving.append(series)
                result.gone.append(series)
                result.forgotten += 1
                continue
            }
            if rules(for: series, source: source) == state.rules {
                result.kept += 1
            } else {
                leaving.append(series)
                result.restarted += 1
            }
        }
        for series in leaving { forget(series) }
        // Groups whose settings are unchanged keep what they learned (a member that left was taken out by `forget`).
        if groupsChanged { regroup() }
        return result
    }
}
