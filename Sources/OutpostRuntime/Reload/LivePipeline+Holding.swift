import Logging
import OutpostBatch
import OutpostCore
import OutpostSpool
import OutpostUplinks

/// What a pipeline holds back and sends fewer of: the spool's policy (each uplink's budgets, sync windows, drain
/// order and metered setting), report-on-change by series, aggregation while metered, and the probe that tells
/// whether a link is metered. Built with the pipeline: a reload that changes any of them restarts the pipeline
/// (`ReloadPlan.coreChanges`).
extension LivePipeline {
    /// `slots` are the inputs' slots, in configuration order: the series origins the batcher asks are slots.
    static func reduction(_ configuration: OutpostConfiguration, uplinks: [ConfiguredUplink], slots: [Int],
                          spool: SpoolService, origins: SeriesOrigins?) -> Reduction {
        let report = configuration.report
        let patches = configuration.inputs.map(\.report)
        let patchBySlot = Dictionary(zip(slots, patches)) { first, _ in first }
        var aggregating: [String: Duration] = [:]
        for uplink in uplinks { aggregating[uplink.name] = uplink.settings.delivery.aggregate }
        let allowances = spool.allowances
        return Reduction(rule: { series in
                             report.rule(for: series,
                                         inputPatch: origins?.origin(of: series).flatMap { patchBySlot[$0] ?? nil })
                         },
                         reportsOnChange: report.mayApply(inputPatches: patches), aggregating: aggregating,
                         metricsUplinks: uplinks.filter { $0.settings.accepts.contains(.metrics) }.map(\.name),
                         isMetered: { allowances.isMetered($0) })
    }

    /// A probe for the uplinks with `metered = "auto"`, if any.
    static func meteredLinkService(_ uplinks: [ConfiguredUplink], links: MeteredLinks, context: Runtime.Context)
        -> MeteredLinkService?
    {
        let auto = uplinks.compactMap { uplink -> (name: String, interfaces: [Glob])? in
            guard case .auto(let interfaces) = uplink.settings.delivery.holding.metered else { return nil }
            return (uplink.name, interfaces.map(Glob.init))
        }
        guard !auto.isEmpty else { return nil }
        return MeteredLinkService(uplinks: auto, links: links, probe: MeteredLinkProbe(), clock: context.clock,
                                  logger: context.logger)
    }
}

extension Runtime {
    /// The spool's one policy: each uplink's holding rules (budgets, sync windows, drain order, metered).
    static func spoolPolicy(_ uplinks: [ConfiguredUplink]) -> SpoolPolicy {
        SpoolPolicy(holds: Dictionary(uplinks.map { ($0.name, $0.settings.delivery.holding) }) { first, _ in first })
    }
}
