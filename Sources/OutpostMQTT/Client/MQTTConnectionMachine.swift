import OutpostCore

/// The connection logic of one MQTT client as a value: it is fed what happened (with the monotonic time) and answers
/// what to do next, so every path (refusals, protocol choice, backoff, stop) is tested without a socket.
///
/// Backoff: every failure (refused connection, DNS, TLS, a CONNACK refusal, a lost connection) waits
/// `backoff.delay(afterFailures:)`: 1 s doubling to 30 s, ±20 % jitter, so a fleet that lost its broker together
/// does not return in lockstep. An accepted CONNACK does not end the run of failures: a connection counts as
/// healthy only once it has lasted `stableAfter` (twice the keepalive). A broker that accepts and then drops at
/// once (another gateway with the same client id, a message libmosquitto must refuse, a packet over the broker's
/// limit) therefore sees the waits grow, not a reconnect every second.
///
/// Protocol (`protocol = "auto"`), MQTT 5 §3.1.2.2 / 3.1.1 §3.1.2.2:
/// - every connect tries MQTT 5 first;
/// - a CONNACK "unsupported protocol version" (0x84; libmosquitto maps 3.1.1's code 1 onto it) settles on 3.1.1 at
///   once;
/// - a connection closed before any CONNACK after an MQTT 5 CONNECT (3.1.1 lets a server that does not know the
///   level just disconnect, and some do) is retried at once with 3.1.1, for that connection only. Only when that
///   happens `settleAfterCloses` times in a row, each time with 3.1.1 accepted, does the client settle on 3.1.1; one
///   closed connection (a broker restarting, a load balancer without a ready backend) never pins it;
/// - a TCP or TLS failure says nothing about the protocol and never changes it;
/// - a settled 3.1.1 is probed with MQTT 5 again after `reprobeAfter` (1 h), at the next connect.
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
        /// The connection could not be made: DNS, TCP or the TLS handshake failed.
        case connectFailed(reason: String)
        /// CONNACK with a refusal: `code` as libmosquitto reports it (MQTT 5 reason codes, ≥ 0x80).
        case refused(code: Int, reason: String)
        case accepted(sessionPresent: Bool)
        /// The connection closed (before its CONNACK while connecting, else an established one).
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
    /// Closes before CONNACK in a row, each followed by an accepted 3.1.1 connect, that settle on 3.1.1.
    package static let settleAfterCloses = 3
    /// A settled 3.1.1 is probed with MQTT 5 again after this long.
    package static let reprobeAfter: Duration = .seconds(3600)

    package private(set) var phase = Phase.idle
    /// The version in use or being tried: `.v5` or `.v311`, never `.auto`.
    package private(set) var version: MQTTBroker.ProtocolVersion
    /// Failures since the last connection that lasted `stableAfter`.
    package private(set) var failures = 0
    /// Settled on 3.1.1 (an explicit refusal of 5, or `settleAfterCloses` closes), at this monotonic time.
    package private(set) var settledOn311At: Int64?
    /// MQTT 5 connects closed before CONNACK, each followed by an accepted 3.1.1 connect, in a row.
    package private(set) var closesBeforeConnack = 0
    /// This connection is a 3.1.1 attempt made at once after MQTT 5 was closed before its CONNACK.
    private var probing311 = false
    private var connectedAt: Int64 = 0
    package let requested: MQTTBroker.ProtocolVersion
    package let backoff: BackoffPolicy
    package let stableAfter: Duration

    package init(requested: MQTTBroker.ProtocolVersion, backoff: BackoffPolicy = .mqttReconnect,
                 stableAfter: Duration = .seconds(60)) {
        self.requested = requested
        self.backoff = backoff
        self.stableAfter = stableAfter
        version = requested == .v311 ? .v311 : .v5
    }

    /// What to do after `input`; `random` in 0..<1 jitters a backoff; `now` is the monotonic time in nanoseconds.
    package mutating func handle(_ input: Input, random: Double, now: Int64 = 0) -> [Action] {
        switch (phase, input) {
        case (_, .stop):
            let wasConnected = phase == .connected
            phase = .stopped
            return wasConnected ? [.disconnect] : []
        case (.stopped, _):
            return []
        case (.idle, .start), (.waiting, .waited):
            phase = .connecting
            if !probing311 { version = preferredVersion(now: now) }
            return [.connect(version)]
        case (.connecting, .accepted(let sessionPresent)):
            return accepted(sessionPresent: sessionPresent, now: now)
        case (.connecting, .refused(let code, let reason)):
            return refused(code: code, reason: reason, random: random, now: now)
        case (.connecting, .connectFailed(let reason)):
            probing311 = false
            let wait = retry(random: random)
            return [.report(.unreachable(reason: reason, retryIn: wait)), .wait(wait)]
        case (.connecting, .connectionLost(let reason)):
            return lostBeforeConnack(reason: reason, random: random)
        case (.connected, .connectionLost(let reason)):
            let lasted = Duration.nanoseconds(max(0, now - connectedAt))
            if lasted >= stableAfter { failures = 0 }
            let wait = retry(random: random)
            return [.report(.disconnected(reason: reason, lasted: lasted, retryIn: wait)), .wait(wait)]
        default:
            // Late or duplicate news (a loop error after the disconnect callback already reported it).
            return []
        }
    }

    /// MQTT 5 unless settled on 3.1.1 (and not yet due for a probe), or pinned.
    private func preferredVersion(now: Int64) -> MQTTBroker.ProtocolVersion {
        switch requested {
        case .v311: return .v311
        case .v5: return .v5
        case .auto:
            guard let settled = settledOn311At else { return .v5 }
            return now - settled >= UnixNanos.from(Self.reprobeAfter) ? .v5 : .v311
        }
    }

    private mutating func accepted(sessionPresent: Bool, now: Int64) -> [Action] {
        phase = .connected
        connectedAt = now
        var actions: [Action] = []
        if requested == .auto {
            if version == .v5 {
                settledOn311At = nil
                closesBeforeConnack = 0
            } else if probing311 {
                closesBeforeConnack += 1
                if closesBeforeConnack >= Self.settleAfterCloses {
                    settledOn311At = now
                    actions.append(.report(.fellBack(to: .v311, reason: "it closed \(closesBeforeConnack) MQTT 5 "
                        + "connects in a row before answering, and accepted MQTT 3.1.1 each time")))
                }
            } else {
                // A settled 3.1.1 accepted again: the next probe of MQTT 5 is an hour from now.
                settledOn311At = now
            }
        }
        probing311 = false
        return [.report(.connected(sessionPresent: sessionPresent, version: version))] + actions
    }

    private mutating func refused(code: Int, reason: String, random: Double, now: Int64) -> [Action] {
        probing311 = false
        guard code == Self.unsupportedProtocolVersion, requested == .auto, version == .v5 else {
            let wait = retry(random: random)
            return [.report(.refused(reason: reason, retryIn: wait)), .wait(wait)]
        }
        settledOn311At = now
        version = .v311
        phase = .waiting
        // Through `.waiting`, like any failure, so the disconnect that follows a refused CONNACK is late news.
        return [.report(.fellBack(to: .v311, reason: "it refused MQTT 5: \(reason)")), .wait(.zero)]
    }

    private mutating func lostBeforeConnack(reason: String, random: Double) -> [Action] {
        if requested == .auto, version == .v5, !probing311 {
            probing311 = true
            version = .v311
            phase = .waiting
            return [.report(.probingOlderProtocol(reason: reason)), .wait(.zero)]
        }
        // The 3.1.1 attempt failed the same way: it was the network, not the version.
        if probing311 { closesBeforeConnack = 0 }
        probing311 = false
        let wait = retry(random: random)
        return [.report(.unreachable(reason: reason, retryIn: wait)), .wait(wait)]
    }

    private mutating func retry(random: Double) -> Duration {
        failures += 1
        phase = .waiting
        return backoff.delay(afterFailures: failures, random: random)
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
