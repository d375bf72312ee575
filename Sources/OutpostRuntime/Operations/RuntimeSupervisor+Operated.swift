import OutpostCore
import OutpostOperations

#if canImport(Glibc)
import Glibc
#endif

/// What the local endpoint and the OpAMP client read and ask of the running Outpost.
extension RuntimeSupervisor: OperatedRuntime {
    func statusDocument() -> String {
        StatusDocument.render(view.current, counters: memory.counters.snapshot, now: context.wallClock.nowNanos(),
                              state: "running")
    }

    func health() -> ComponentHealth {
        RuntimeHealth.assess(view.current, counters: memory.counters.snapshot, now: context.wallClock.nowNanos())
    }

    func metrics(series: Bool) async -> [MetricFamily] {
        let latest = series ? await pipeline.latestValues() : nil
        return RuntimeMetrics.families(view.current, counters: memory.counters.snapshot, reloads: reloadCounts,
                                       now: context.wallClock.nowNanos(), series: latest)
    }

    func effectiveConfiguration() -> EffectiveConfiguration {
        let configuration = self.configuration
        return EffectiveConfiguration(text: configuration.sourceText, origin: configuration.origin,
                                      hash: configuration.sourceHash)
    }

    /// A configuration a server pushed: checked as a whole file (errors name `origin`), refused when it sets
    /// `[opamp]` (only the local file does), and run with the local `[opamp]`.
    func reload(text: String, origin: String) async -> RemoteReloadOutcome {
        let current = configuration
        var next: OutpostConfiguration
        do {
            next = try OutpostConfiguration.parse(text, file: origin, environment: context.environment,
                                                  sampleClock: current.sampleClock)
        } catch let errors as ConfigErrors {
            let lines = errors.errors.map(\.description)
            let errors = lines.joined(separator: "\n")
            context.logger.error("remote configuration refused, the running one is kept:\n\(errors)")
            return .failed(errors: lines)
        } catch {
            return .failed(errors: ["\(error)"])
        }
        guard !next.setsOpAMP else {
            let error = "\(origin): [opamp] is only read from the gateway's local config file; remove it from the "
                + "remote configuration"
            context.logger.error("remote configuration refused: \(error)")
            return .failed(errors: [error])
        }
        next.opamp = current.opamp
        switch await reload(to: next) {
        case .applied(let summary): return .applied(summary: summary)
        case .unchanged: return .unchanged
        case .refused(let errors): return .failed(errors: errors)
        }
    }

    func agentFacts() -> AgentFacts {
        let configuration = self.configuration
        let system = Self.uname()
        var other: [(String, String)] = [
            ("os.type", "linux"), ("os.description", system.description),
            ("host.arch", ResourceAttributes.hostArchitecture()),
            ("host.name", system.node),
            ("outpost.self_metrics.interval", "\(configuration.status.selfMetricsInterval.components.seconds)s"),
        ]
        if let board = configuration.gateway.board { other.append(("outpost.board", board.name)) }
        // Where its own telemetry (self-metrics, events, alerts) goes: the uplinks, without secrets.
        for uplink in Runtime.uplinks(of: configuration) {
            other.append(("outpost.uplink.\(uplink.name)", "\(uplink.kind) \(uplink.endpoint)"))
        }
        if let listen = configuration.http.listen {
            other.append(("outpost.http.listen", "\(listen.host):\(listen.port)"))
        }
        return AgentFacts(identifying: [("service.name", "outpost"), ("service.instance.id", configuration.gateway.id),
                                        ("service.version", OutpostVersion.current)],
                          nonIdentifying: other)
    }

    private static func uname() -> (description: String, machine: String, node: String) {
        var name = utsname()
        Glibc.uname(&name)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return ("\(text(name.sysname)) \(text(name.release))", text(name.machine), text(name.nodename))
    }
}
