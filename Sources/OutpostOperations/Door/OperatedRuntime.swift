/// What the operations (the local HTTP endpoint, the OpAMP client) may ask of a running Outpost. The runtime
/// implements it; operations never reach into a pipeline stage, and change the configuration only through `reload`,
/// the same path SIGHUP takes.
package protocol OperatedRuntime: Sendable {
    /// The status document (`outpost status --json`, schema `outpost.status.v1`).
    func statusDocument() -> String
    /// How the inputs, the spool and the uplinks are, now.
    func health() -> ComponentHealth
    /// Outpost's own metrics; with `series`, also the latest value of every series.
    func metrics(series: Bool) async -> [MetricFamily]
    /// The configuration running now: its text, where it came from, and a hash of the text.
    func effectiveConfiguration() -> EffectiveConfiguration
    /// Checks `text` as a whole configuration and, when it checks, applies it through the reload path (rolling back
    /// when it cannot start). `origin` names it in errors (`file:line:column`).
    func reload(text: String, origin: String) async -> RemoteReloadOutcome
    /// What the gateway reports about itself (gateway id, board, version, OS, where its own telemetry goes).
    func agentFacts() -> AgentFacts
}

/// The configuration running now.
package struct EffectiveConfiguration: Sendable, Equatable {
    package var text: String
    package var origin: String
    package var hash: String

    package init(text: String, origin: String, hash: String) {
        self.text = text
        self.origin = origin
        self.hash = hash
    }
}

/// How a configuration pushed by a server went.
package enum RemoteReloadOutcome: Sendable, Equatable {
    case applied(summary: String)
    case unchanged
    /// It did not check, or did not start (the previous configuration runs again); the errors as logged.
    case failed(errors: [String])
}

/// The facts an agent description carries (OpAMP §5.2.2 AgentDescription).
package struct AgentFacts: Sendable, Equatable {
    /// Identifying: they name this gateway (`service.name`, `service.instance.id`, `service.version`).
    package var identifying: [(String, String)]
    /// The rest: board, OS, architecture, host name, and Outpost's own telemetry settings.
    package var nonIdentifying: [(String, String)]

    package init(identifying: [(String, String)], nonIdentifying: [(String, String)]) {
        self.identifying = identifying
        self.nonIdentifying = nonIdentifying
    }

    package static func == (lhs: AgentFacts, rhs: AgentFacts) -> Bool {
        lhs.identifying.elementsEqual(rhs.identifying, by: ==)
            && lhs.nonIdentifying.elementsEqual(rhs.nonIdentifying, by: ==)
    }
}
