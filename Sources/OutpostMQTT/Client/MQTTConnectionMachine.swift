import OutpostCore

/// The connection logic of one MQTT client as a value: it is fed what happened and answers what to do next, so
/// every path (refusals, protocol fallback, backoff, stop) is tested without a socket.
///
/// - `protocol = "auto"` tries MQTT 5 first. A broker that answers CONNACK "unacceptable protocol version"
///   (3.1.1 §3.2.2.3 code 1, which libmosquitto reports as MQTT 5 reason 0x84) is tried again at once with 3.1.1.
///   So is one that closes the connection, or stays silent, before any CONNACK: 3.1.1 §3.1.2.2 lets a server that
///   does not know the protocol level just disconnect, and some (amqtt) do. If that 3.1.1 attempt fails the same
///   way, it was the network, not the version: back off and start again with MQTT 5. The first accepted version is
///   kept for the rest of the process; a restart probes MQTT 5 again.
/// - Every other failure (refused connection, DNS, TLS, a CONNACK refusal, a lost connection) waits
///   `backoff.delay(afterFailures:)`: 1 s doubling to 30 s, ±20 % jitter, so a fleet that lost its broker together
///   does not return in lockstep. A successful CONNACK resets the count.
package struct MQTTConnectionMachine: Sendable, Equatable {
    package enum Phase: Sendable, Equatable {
        case idle
        case connecting
        case connected
        case waiting
        case stopped
    }

    package enum Input: Sendable, Equatable {
        case start
        /// The CONNECT could not be sent: DNS, TCP or TLS failed.
        case connectFailed(reason: String)
        /// CONNACK with a refusal: `code` as libmosquitto reports it (MQTT 5 reason codes, ≥ 0x80).
        case refused(code: Int, reason: String)
        case accepted(sessionPresent: Bool)
        case connectionLost(reason: String)
        /// The wait asked for by `.wait` has passed.
        case waited
        case stop
    }

    package enum Action: Sendable, Equatable {
        case connect(MQTTBroker.ProtocolVersion)
        case wait(Duration)
        case report(MQTTConnectionEvent)
        case disconnect
    }

    /// MQTT 5 reason "Unsupported Protocol Version" (§3.2.2.2); libmosquitto maps 3.1.1's code 1 onto it.
    package static let unsupportedProtocolVersion = 0x84

    package private(set) var phase = Phase.idle
    /// The version in use or being tried: `.v5` or `.v311`, never `.auto`.
    package private(set) var version: MQTTBroker.ProtocolVersion
    package private(set) var failures = 0
    /// A broker accepted `version` (or refused 5 explicitly): no more probing.
    package private(set) var settled: Bool
    package let requested: MQTTBroker.ProtocolVersion
    package let backoff: BackoffPolicy

    package init(requested: MQTTBroker.ProtocolVersion, backoff: BackoffPolicy = .mqttReconnect) {
        self.requested = requested
        self.backoff = backoff
        version = requested == .v311 ? .v311 : .v5
        settled = requested != .auto
    }

    /// What to do after `input`; `random` in 0..<1 jitters a backoff.
    package mutating func handle(_ input: Input, random: Double) -> [Action] {
        switch (phase, input) {
        case (_, .stop):
            let wasConnected = phase == .connected
            phase = .stopped
            return wasConnected ? [.disconnect] : []
        case (.stopped, _):
            return []
        case (.idle, .start), (.waiting, .waited):
            phase = .connecting
            return [.connect(version)]
        case (.connecting, .accepted(let sessionPresent)):
            phase = .connected
            failures = 0
            settled = true
            return [.report(.connected(sessionPresent: sessionPresent, version: version))]
        case (.connecting, .refused(let code, let reason)):
            return refused(code: code, reason: reason, random: random)
        case (.connecting, .connectFailed(let reason)):
            return [.report(.unreachable(reason: reason))] + retry(reason: reason, random: random)
        case (.connecting, .connectionLost(let reason)):
            return lostBeforeConnack(reason: reason, random: random)
        case (.connected, .connectionLost(let reason)):
            return [.report(.disconnected(reason: reason))] + retry(reason: reason, random: random)
        default:
            // Late or duplicate news (a loop error after the disconnect callback already reported it).
            return []
        }
    }

    private mutating func refused(code: Int, reason: String, random: Double) -> [Action] {
        guard code == Self.unsupportedProtocolVersion, requested == .auto, version == .v5 else {
            return [.report(.refused(reason: reason))] + retry(reason: reason, random: random)
        }
        settled = true
        return fallBack()
    }

    private mutating func lostBeforeConnack(reason: String, random: Double) -> [Action] {
        if !settled, version == .v5 { return fallBack() }
        if !settled { version = .v5 }
        return [.report(.unreachable(reason: reason))] + retry(reason: reason, random: random)
    }

    /// Through `.waiting`, like any failure, so the disconnect that follows a refused CONNACK is late news.
    private mutating func fallBack() -> [Action] {
        version = .v311
        phase = .waiting
        return [.report(.fellBack(to: .v311)), .wait(.zero)]
    }

    private mutating func retry(reason: String, random: Double) -> [Action] {
        failures += 1
        phase = .waiting
        return [.wait(backoff.delay(afterFailures: failures, random: random))]
    }
}

extension BackoffPolicy {
    /// Reconnects to a broker: 1 s doubling to 30 s, ±20 %. Brokers are usually local or on the same site, and an
    /// alert should not wait minutes for a broker that came back.
    package static var mqttReconnect: BackoffPolicy {
        var policy = BackoffPolicy()
        policy.initial = .seconds(1)
        policy.maximum = .seconds(30)
        policy.jitter = 0.2
        return policy
    }
}
