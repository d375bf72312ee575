import FoundationEssentials
import Logging
import OutpostCore
import OutpostUplinks
import ServiceLifecycle
import SwiftProtobuf

/// The OpAMP client (opamp-spec, "Open Agent Management Protocol"), over the plain HTTP transport (§4.3): every
/// `polling_interval` it POSTs an `AgentToServer` and reads the `ServerToAgent` that answers it.
///
/// What it does (the capabilities it announces, §5.2.1 `AgentCapabilities`):
/// - ReportsStatus: the agent description (§5.2.2): gateway id, version, board, OS, architecture, host name, and its
///   own telemetry settings (self-metrics interval, where its uplinks send).
/// - ReportsHealth: the same health as `GET /health` (§5.2.3.2 `ComponentHealth`).
/// - ReportsEffectiveConfig: the configuration running now, as one file `outpost.toml` (`text/toml`).
/// - AcceptsRemoteConfig and ReportsRemoteConfig, only when `[opamp] accept_remote_config` allows it over a verified
///   connection: a pushed configuration (one file) is checked and applied through the reload path; RemoteConfigStatus
///   says APPLIED, or FAILED with the errors (the running configuration stays, rolled back if it did not start).
///
/// What it will not do: install or update packages (AcceptsPackages), restart the process (AcceptsRestartCommand),
/// take connection settings or certificates from the server (Accepts*ConnectionSettings), run commands or open a
/// shell of any kind, or let a remote configuration change `[opamp]` itself.
///
/// A server that is away costs nothing but a logged line per outage: the gateway runs on its last good
/// configuration and the client keeps polling.
package final class OpAMPClient: Service, CustomStringConvertible, Sendable {
    package var description: String { "OpAMPClient(\(configuration.endpoint ?? "off"))" }

    private let configuration: OpAMPConfiguration
    private let store: RemoteConfigStore
    private let runtime: any OperatedRuntime
    private let clock: any Clock<Duration>
    private let wallClock: any WallClock
    private let logger: Logger

    package init(configuration: OpAMPConfiguration, stateDirectory: String, runtime: any OperatedRuntime,
                 clock: any Clock<Duration>, wallClock: any WallClock, logger: Logger) {
        self.configuration = configuration
        self.store = RemoteConfigStore(stateDirectory: stateDirectory)
        self.runtime = runtime
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
    }

    package func run() async throws {
        guard let endpoint = configuration.endpoint else { return }
        let http = CurlHTTPClient(label: "opamp", tls: configuration.tls)
        let session = OpAMPSession(instanceUID: configuration.instanceUID
                                       ?? store.instanceUID(now: wallClock.nowNanos() / 1_000_000),
                                   acceptsRemoteConfig: configuration.remoteConfigAllowed,
                                   lastRemoteConfigHash: store.load()?.hash ?? [])
        let accepting = configuration.remoteConfigAllowed ? "; remote configuration accepted" : ""
        logger.info("opamp: managed by \(endpoint) as \(InstanceUID.text(session.instanceUID))\(accepting)")
        var last = await cancelWhenGracefulShutdown { [self] in
            await poll(endpoint: endpoint, http: http, session: session)
        }
        // §4.3.3: an agent that stops says so; best effort, the server forgets it otherwise after a while.
        var goodbye = last.next(facts: runtime.agentFacts(), health: runtime.health(),
                                effective: runtime.effectiveConfiguration())
        goodbye.agentDisconnect = Opamp_Proto_AgentDisconnect()
        _ = await exchange(goodbye, http: http, endpoint: endpoint, timeout: .seconds(2))
    }

    /// Polls until cancelled; returns where the session stands.
    private func poll(endpoint: String, http: CurlHTTPClient, session start: OpAMPSession) async -> OpAMPSession {
        var session = start
        var failing = false
        while !Task.isCancelled {
            let message = session.next(facts: runtime.agentFacts(), health: runtime.health(),
                                       effective: runtime.effectiveConfiguration())
            switch await exchange(message, http: http, endpoint: endpoint) {
            case .success(let reply):
                session.delivered()
                if failing { logger.notice("opamp: \(endpoint) answers again") }
                failing = false
                if await handle(reply, session: &session) { continue }
            case .failure(let reason):
                session.sendFailed()
                if !failing { logger.warning("opamp: \(endpoint): \(reason); polling on, the gateway runs as it is") }
                failing = true
            }
            try? await clock.sleep(for: configuration.pollingInterval, tolerance: nil)
        }
        return session
    }

    /// Acts on the server's answer; true when the client should report again at once (a configuration applied).
    private func handle(_ reply: Opamp_Proto_ServerToAgent, session: inout OpAMPSession) async -> Bool {
        if reply.hasErrorResponse {
            logger.warning("opamp: the server refused the last message: \(reply.errorResponse.errorMessage)")
        }
        if reply.flags & UInt64(Opamp_Proto_ServerToAgentFlags.reportFullState.rawValue) != 0 {
            session.reportFullStateNext()
        }
        let hash = [UInt8](reply.remoteConfig.configHash)
        guard reply.hasRemoteConfig, hash != session.lastRemoteConfigHash else { return false }
        let status = await apply(reply.remoteConfig)
        session.remoteConfigHandled(hash: hash, status: status)
        return true
    }

    /// Checks and applies a pushed configuration; what RemoteConfigStatus reports about it.
    private func apply(_ remote: Opamp_Proto_AgentRemoteConfig) async -> (Opamp_Proto_RemoteConfigStatuses, String) {
        guard configuration.remoteConfigAllowed else {
            let reason = "remote configuration is not accepted: [opamp] accept_remote_config is false in "
                + "this gateway's local file (or the connection is not verified)"
            logger.warning("opamp: \(reason)")
            return (.failed, reason)
        }
        guard let text = Self.configurationText(remote.config) else {
            let reason = "send exactly one configuration file, outpost.toml (text/toml); got "
                + remote.config.configMap.keys.sorted().map { "`\($0)`" }.joined(separator: ", ")
            return (.failed, reason)
        }
        let hash = [UInt8](remote.configHash)
        logger.notice("opamp: the server sent a configuration (hash \(InstanceUID.text(hash)))")
        switch await runtime.reload(text: text, origin: store.configPath) {
        case .applied, .unchanged:
            do {
                try store.save(text: text, hash: hash)
            } catch {
                logger.error("opamp: applied, but cannot keep it for the next start: \(error)")
            }
            return (.applied, "")
        case .failed(let errors):
            logger.error("opamp: the server's configuration was refused; the running one is kept")
            // Checked under the name of the file it would have become; remote.toml still holds the last good one,
            // so the refused text is kept beside it and the errors point there.
            guard (try? store.keepRefused(text: text)) != nil else { return (.failed, errors.joined(separator: "\n")) }
            let located = errors.map { $0.replacing(store.configPath + ":", with: store.refusedPath + ":") }
            return (.failed, located.joined(separator: "\n"))
        }
    }

    /// The one file of a remote configuration: named `outpost.toml`, or the only one whatever its name.
    static func configurationText(_ map: Opamp_Proto_AgentConfigMap) -> String? {
        let files = map.configMap
        guard let file = files["outpost.toml"] ?? (files.count == 1 ? files.values.first : nil) else { return nil }
        return String(decoding: file.body, as: UTF8.self)
    }

    private enum Exchange {
        case success(Opamp_Proto_ServerToAgent)
        case failure(String)
    }

    private func exchange(_ message: Opamp_Proto_AgentToServer, http: CurlHTTPClient, endpoint: String,
                          timeout: Duration? = nil) async -> Exchange {
        let body: [UInt8]
        do {
            body = try message.serializedBytes()
        } catch {
            return .failure("cannot encode the message: \(error)")
        }
        // §4.3.1: Content-Type application/x-protobuf, both ways.
        let headers = [("Content-Type", "application/x-protobuf")] + configuration.headers
        let outcome = await http.send(HTTPRequest(url: endpoint, headers: headers, body: body,
                                                  timeout: timeout ?? configuration.timeout))
        switch outcome {
        case .transportFailure(_, let message):
            return .failure(message)
        case .response(let status, _, let body):
            guard (200..<300).contains(status) else { return .failure("HTTP \(status)") }
            do {
                return .success(try Opamp_Proto_ServerToAgent(serializedBytes: body))
            } catch {
                return .failure("the answer is not an OpAMP ServerToAgent message: \(error)")
            }
        }
    }
}

/// What the client tells the server next, as a value (tested without a server): the sequence number, what changed
/// since the last message the server got, and the remote configuration's status.
struct OpAMPSession: Sendable {
    let instanceUID: [UInt8]
    let acceptsRemoteConfig: Bool
    private(set) var lastRemoteConfigHash: [UInt8]
    private var sequence: UInt64 = 0
    private var remoteStatus: (Opamp_Proto_RemoteConfigStatuses, String)?
    /// What the server has seen; nil: send it whole.
    private var sentFacts: AgentFacts?
    private var sentEffective: EffectiveConfiguration?
    private var sentHealth: ComponentHealth?
    private var pending: (facts: AgentFacts, effective: EffectiveConfiguration, health: ComponentHealth)?

    init(instanceUID: [UInt8], acceptsRemoteConfig: Bool, lastRemoteConfigHash: [UInt8]) {
        self.instanceUID = instanceUID
        self.acceptsRemoteConfig = acceptsRemoteConfig
        self.lastRemoteConfigHash = lastRemoteConfigHash
        if !lastRemoteConfigHash.isEmpty { remoteStatus = (.applied, "") }
    }

    var capabilities: UInt64 {
        var capabilities: [Opamp_Proto_AgentCapabilities] = [.reportsStatus, .reportsEffectiveConfig, .reportsHealth]
        if acceptsRemoteConfig { capabilities += [.acceptsRemoteConfig, .reportsRemoteConfig] }
        return capabilities.reduce(0) { $0 | UInt64($1.rawValue) }
    }

    /// The next message: the description, the effective configuration and the health when they changed (or the
    /// server asked for everything); the remote configuration's status always, once there is one.
    mutating func next(facts: AgentFacts, health: ComponentHealth, effective: EffectiveConfiguration)
        -> Opamp_Proto_AgentToServer
    {
        sequence += 1
        var message = Opamp_Proto_AgentToServer()
        message.instanceUid = Data(instanceUID)
        message.sequenceNum = sequence
        message.capabilities = capabilities
        if sentFacts != facts { message.agentDescription = Self.description(facts) }
        if sentEffective != effective { message.effectiveConfig = Self.effectiveConfig(effective) }
        // Health carries its assessment time, so compare what it says, not when.
        if sentHealth.map({ !Self.sameHealth($0, health) }) ?? true { message.health = Self.health(health) }
        if let (status, error) = remoteStatus {
            var report = Opamp_Proto_RemoteConfigStatus()
            report.lastRemoteConfigHash = Data(lastRemoteConfigHash)
            report.status = status
            report.errorMessage = error
            message.remoteConfigStatus = report
        }
        pending = (facts, effective, health)
        return message
    }

    /// The last message arrived: what it carried is what the server knows.
    mutating func delivered() {
        guard let pending else { return }
        sentFacts = pending.facts
        sentEffective = pending.effective
        sentHealth = pending.health
    }

    /// The last message did not arrive: the next one carries everything.
    mutating func sendFailed() {
        pending = nil
        reportFullStateNext()
    }

    mutating func reportFullStateNext() {
        sentFacts = nil
        sentEffective = nil
        sentHealth = nil
    }

    mutating func remoteConfigHandled(hash: [UInt8], status: (Opamp_Proto_RemoteConfigStatuses, String)) {
        lastRemoteConfigHash = hash
        remoteStatus = status
    }

    private static func sameHealth(_ lhs: ComponentHealth, _ rhs: ComponentHealth) -> Bool {
        lhs.healthy == rhs.healthy && lhs.lastError == rhs.lastError && lhs.status == rhs.status
            && lhs.components.map(\.name) == rhs.components.map(\.name)
            && zip(lhs.components, rhs.components).allSatisfy { sameHealth($0.health, $1.health) }
    }

    static func description(_ facts: AgentFacts) -> Opamp_Proto_AgentDescription {
        var description = Opamp_Proto_AgentDescription()
        description.identifyingAttributes = facts.identifying.map(keyValue)
        description.nonIdentifyingAttributes = facts.nonIdentifying.map(keyValue)
        return description
    }

    private static func keyValue(_ pair: (String, String)) -> Opamp_Proto_KeyValue {
        var keyValue = Opamp_Proto_KeyValue()
        keyValue.key = pair.0
        keyValue.value.stringValue = pair.1
        return keyValue
    }

    static func effectiveConfig(_ effective: EffectiveConfiguration) -> Opamp_Proto_EffectiveConfig {
        var file = Opamp_Proto_AgentConfigFile()
        file.body = Data(effective.text.utf8)
        file.contentType = "text/toml"
        var config = Opamp_Proto_EffectiveConfig()
        config.configMap.configMap["outpost.toml"] = file
        return config
    }

    static func health(_ health: ComponentHealth) -> Opamp_Proto_ComponentHealth {
        var message = Opamp_Proto_ComponentHealth()
        message.healthy = health.healthy
        message.startTimeUnixNano = UInt64(max(0, health.startTime))
        message.lastError = health.lastError
        message.status = health.status.rawValue
        message.statusTimeUnixNano = UInt64(max(0, health.statusTime))
        for (name, part) in health.components { message.componentHealthMap[name] = Self.health(part) }
        return message
    }
}
