import OutpostCore
import Testing
@testable import OutpostMQTT

@Suite("MQTT connection state machine (no sockets)")
struct MQTTConnectionMachineTests {
    /// Monotonic nanoseconds for `seconds`.
    func at(_ seconds: Double) -> Int64 { Int64(seconds * 1e9) }

    @Test("connects, reports the version and session, and reconnects after a loss with a jittered 1 s wait")
    func connectAndLose() {
        var machine = MQTTConnectionMachine(requested: .auto)
        #expect(machine.handle(.start, random: 0.5) == [.connect(.v5)])
        #expect(machine.handle(.accepted(sessionPresent: true), random: 0.5, now: at(0))
            == [.report(.connected(sessionPresent: true, version: .v5))])
        #expect(machine.phase == .connected)
        let lost = machine.handle(.connectionLost(reason: "keepalive"), random: 0, now: at(90))
        // -20 % jitter, but never under the 1 s floor: no retry comes sooner than once a second.
        #expect(lost == [.report(.disconnected(reason: "keepalive", lasted: .seconds(90), retryIn: .seconds(1))),
                         .wait(.seconds(1))])
        #expect(machine.phase == .waiting)
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v5)])
    }

    @Test("failures back off 1, 2, 4, 8, 16 s, then stay at the 30 s cap")
    func backoff() {
        var machine = MQTTConnectionMachine(requested: .v5)
        _ = machine.handle(.start, random: 0.5)
        var waits: [Duration] = []
        for _ in 0..<7 {
            let actions = machine.handle(.connectFailed(reason: "Connection refused"), random: 0.5)
            guard case .report(.unreachable(let reason, _)) = actions.first else {
                Issue.record("not reported: \(actions)")
                return
            }
            #expect(reason == "Connection refused")
            if case .wait(let wait) = actions.last { waits.append(wait) }
            #expect(machine.handle(.waited, random: 0.5) == [.connect(.v5)])
        }
        #expect(waits == [1, 2, 4, 8, 16, 30, 30].map { Duration.seconds($0) })
    }

    @Test("a connection the broker accepts and drops at once keeps the backoff growing; one that lasted resets it")
    func acceptedThenDropped() {
        var machine = MQTTConnectionMachine(requested: .v5, stableAfter: .seconds(60))
        _ = machine.handle(.start, random: 0.5)
        var waits: [Duration] = []
        var now = 0.0
        for _ in 0..<6 {
            _ = machine.handle(.accepted(sessionPresent: false), random: 0.5, now: at(now))
            now += 0.5
            let actions = machine.handle(.connectionLost(reason: "session taken over"), random: 0.5, now: at(now))
            if case .wait(let wait) = actions.last { waits.append(wait) }
            now += 40
            _ = machine.handle(.waited, random: 0.5, now: at(now))
        }
        #expect(waits == [1, 2, 4, 8, 16, 30].map { Duration.seconds($0) })
        _ = machine.handle(.accepted(sessionPresent: false), random: 0.5, now: at(now))
        let lasting = machine.handle(.connectionLost(reason: "network"), random: 0.5, now: at(now + 61))
        #expect(lasting.last == .wait(.seconds(1)), "a connection that lasted twice the keepalive was healthy")
    }

    @Test("jitter spreads a fleet's retries over ±20 % (here of the second, 2 s wait)",
          arguments: [(0.0, 1.6), (0.999_999, 2.4)])
    func jitter(random: Double, factor: Double) {
        var machine = MQTTConnectionMachine(requested: .v5)
        _ = machine.handle(.start, random: 0.5)
        _ = machine.handle(.connectFailed(reason: "x"), random: 0.5)
        _ = machine.handle(.waited, random: 0.5)
        let actions = machine.handle(.connectFailed(reason: "x"), random: random)
        guard case .wait(let wait) = actions.last else {
            Issue.record("no wait in \(actions)")
            return
        }
        #expect(abs(UnixNanos.seconds(UnixNanos.from(wait)) - factor) < 0.001)
    }

    @Test("auto: a broker that refuses MQTT 5 is tried again at once with 3.1.1, kept, and probed again after an hour")
    func fallback() {
        var machine = MQTTConnectionMachine(requested: .auto)
        _ = machine.handle(.start, random: 0.5)
        let refused = machine.handle(.refused(code: MQTTConnectionMachine.unsupportedProtocolVersion,
                                              reason: "Unsupported protocol version"), random: 0.5, now: at(0))
        #expect(refused == [.report(.fellBack(to: .v311, reason: "it refused MQTT 5: Unsupported protocol version")),
                            .wait(.zero)])
        // libmosquitto reports the dropped connection after the refusal: late news, ignored.
        #expect(machine.handle(.connectionLost(reason: "refused"), random: 0.5) == [])
        #expect(machine.handle(.waited, random: 0.5, now: at(0)) == [.connect(.v311)])
        #expect(machine.failures == 0)
        _ = machine.handle(.accepted(sessionPresent: false), random: 0.5, now: at(1))
        _ = machine.handle(.connectionLost(reason: "broker restart"), random: 0.5, now: at(100))
        #expect(machine.handle(.waited, random: 0.5, now: at(101)) == [.connect(.v311)])
        _ = machine.handle(.accepted(sessionPresent: false), random: 0.5, now: at(102))
        _ = machine.handle(.connectionLost(reason: "broker restart"), random: 0.5, now: at(3800))
        #expect(machine.handle(.waited, random: 0.5, now: at(3801)) == [.connect(.v5)], "an hour later: MQTT 5 again")
    }

    @Test("auto: one connection closed before CONNACK tries 3.1.1 for that connection only; MQTT 5 on the next")
    func oneCloseDoesNotPin() {
        var machine = MQTTConnectionMachine(requested: .auto)
        _ = machine.handle(.start, random: 0.5)
        #expect(machine.handle(.connectionLost(reason: "closed"), random: 0.5)
            == [.report(.probingOlderProtocol(reason: "closed")), .wait(.zero)])
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v311)])
        #expect(machine.handle(.accepted(sessionPresent: false), random: 0.5, now: at(1))
            == [.report(.connected(sessionPresent: false, version: .v311))])
        _ = machine.handle(.connectionLost(reason: "oversize packet"), random: 0.5, now: at(2))
        #expect(machine.handle(.waited, random: 0.5, now: at(3)) == [.connect(.v5)], "the glitch pinned nothing")
        #expect(machine.handle(.accepted(sessionPresent: false), random: 0.5, now: at(3))
            == [.report(.connected(sessionPresent: false, version: .v5))])
        #expect(machine.closesBeforeConnack == 0)
    }

    @Test("auto: only three closes in a row, each with 3.1.1 accepted, settle on 3.1.1 (a broker such as amqtt)")
    func repeatedClosesSettle() {
        var machine = MQTTConnectionMachine(requested: .auto)
        _ = machine.handle(.start, random: 0.5)
        var reports: [MQTTConnectionEvent] = []
        for cycle in 0..<3 {
            _ = machine.handle(.connectionLost(reason: "closed"), random: 0.5)
            #expect(machine.handle(.waited, random: 0.5) == [.connect(.v311)])
            for case .report(let event) in machine.handle(.accepted(sessionPresent: false), random: 0.5,
                                                          now: at(Double(cycle) * 10)) {
                reports.append(event)
            }
            _ = machine.handle(.connectionLost(reason: "restart"), random: 0.5, now: at(Double(cycle) * 10 + 5))
            #expect(machine.handle(.waited, random: 0.5, now: at(Double(cycle) * 10 + 6))
                == [.connect(cycle < 2 ? .v5 : .v311)])
        }
        #expect(reports.last == .fellBack(to: .v311, reason: "it closed 3 MQTT 5 connects in a row before answering, "
            + "and accepted MQTT 3.1.1 each time"))
    }

    @Test("auto: a closed 3.1.1 attempt too is the network: back off and start again with MQTT 5")
    func silentBroker() {
        var machine = MQTTConnectionMachine(requested: .auto)
        _ = machine.handle(.start, random: 0.5)
        _ = machine.handle(.connectionLost(reason: "closed"), random: 0.5)
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v311)])
        #expect(machine.handle(.connectionLost(reason: "closed"), random: 0.5)
            == [.report(.unreachable(reason: "closed", retryIn: .seconds(1))), .wait(.seconds(1))])
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v5)])
    }

    @Test("auto: TCP and TLS failures never change the protocol, before or during a 3.1.1 attempt")
    func tlsFailureKeepsVersion() {
        var machine = MQTTConnectionMachine(requested: .auto)
        _ = machine.handle(.start, random: 0.5)
        let failed = machine.handle(.connectFailed(reason: "TLS: certificate has expired"), random: 0.5)
        #expect(failed.first == .report(.unreachable(reason: "TLS: certificate has expired", retryIn: .seconds(1))))
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v5)])
        _ = machine.handle(.connectionLost(reason: "closed"), random: 0.5)
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v311)])
        _ = machine.handle(.connectFailed(reason: "TLS: unable to get local issuer certificate"), random: 0.5)
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v5)], "back to MQTT 5 after a failed 3.1.1 try")
    }

    @Test("a pinned version never falls back; other refusals back off and are reported", arguments: [
        (MQTTBroker.ProtocolVersion.v5, MQTTConnectionMachine.unsupportedProtocolVersion),
        (MQTTBroker.ProtocolVersion.auto, 0x87),
    ])
    func noFallback(requested: MQTTBroker.ProtocolVersion, code: Int) {
        var machine = MQTTConnectionMachine(requested: requested)
        _ = machine.handle(.start, random: 0.5)
        let actions = machine.handle(.refused(code: code, reason: "no"), random: 0.5)
        #expect(actions == [.report(.refused(reason: "no", retryIn: .seconds(1))), .wait(.seconds(1))])
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v5)])
    }

    @Test("stop: a goodbye only when connected; nothing happens afterwards")
    func stop() {
        var connected = MQTTConnectionMachine(requested: .v311)
        #expect(connected.handle(.start, random: 0.5) == [.connect(.v311)])
        _ = connected.handle(.accepted(sessionPresent: false), random: 0.5)
        #expect(connected.handle(.stop, random: 0.5) == [.disconnect])
        #expect(connected.handle(.connectionLost(reason: "bye"), random: 0.5) == [])
        #expect(connected.handle(.waited, random: 0.5) == [])
        var waiting = MQTTConnectionMachine(requested: .v5)
        _ = waiting.handle(.start, random: 0.5)
        _ = waiting.handle(.connectFailed(reason: "x"), random: 0.5)
        #expect(waiting.handle(.stop, random: 0.5) == [])
        #expect(waiting.handle(.waited, random: 0.5) == [])
        #expect(waiting.phase == .stopped)
    }
}
