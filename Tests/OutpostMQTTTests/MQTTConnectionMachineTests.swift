import OutpostCore
import Testing
@testable import OutpostMQTT

@Suite("MQTT connection state machine (no sockets)")
struct MQTTConnectionMachineTests {
    @Test("connects, reports the version and session, and reconnects after a loss with a jittered 1 s wait")
    func connectAndLose() {
        var machine = MQTTConnectionMachine(requested: .auto)
        #expect(machine.handle(.start, random: 0.5) == [.connect(.v5)])
        #expect(machine.handle(.accepted(sessionPresent: true), random: 0.5)
            == [.report(.connected(sessionPresent: true, version: .v5))])
        #expect(machine.phase == .connected)
        let lost = machine.handle(.connectionLost(reason: "keepalive"), random: 0)
        // -20 % jitter, but never under the 1 s floor: no retry comes sooner than once a second.
        #expect(lost == [.report(.disconnected(reason: "keepalive")), .wait(.seconds(1))])
        #expect(machine.phase == .waiting)
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v5)])
    }

    @Test("failures back off 1, 2, 4, 8, 16 s, then stay at the 30 s cap; a connect resets the count")
    func backoff() {
        var machine = MQTTConnectionMachine(requested: .v5)
        _ = machine.handle(.start, random: 0.5)
        var waits: [Duration] = []
        for _ in 0..<7 {
            let actions = machine.handle(.connectFailed(reason: "Connection refused"), random: 0.5)
            #expect(actions.first == .report(.unreachable(reason: "Connection refused")))
            if case .wait(let wait) = actions.last { waits.append(wait) }
            #expect(machine.handle(.waited, random: 0.5) == [.connect(.v5)])
        }
        #expect(waits == [1, 2, 4, 8, 16, 30, 30].map { Duration.seconds($0) })
        _ = machine.handle(.accepted(sessionPresent: false), random: 0.5)
        #expect(machine.failures == 0)
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

    @Test("auto: a broker that refuses MQTT 5 is tried again at once with 3.1.1, which is then kept")
    func fallback() {
        var machine = MQTTConnectionMachine(requested: .auto)
        _ = machine.handle(.start, random: 0.5)
        let refused = machine.handle(.refused(code: MQTTConnectionMachine.unsupportedProtocolVersion,
                                              reason: "Unsupported protocol version"), random: 0.5)
        #expect(refused == [.report(.fellBack(to: .v311)), .wait(.zero)])
        // libmosquitto reports the dropped connection after the refusal: late news, ignored.
        #expect(machine.handle(.connectionLost(reason: "refused"), random: 0.5) == [])
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v311)])
        #expect(machine.failures == 0)
        _ = machine.handle(.accepted(sessionPresent: false), random: 0.5)
        _ = machine.handle(.connectionLost(reason: "broker restart"), random: 0.5)
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v311)])
    }

    @Test("auto: a connection closed before any CONNACK tries 3.1.1 at once; if that fails too, back to 5 after a wait")
    func silentBroker() {
        var machine = MQTTConnectionMachine(requested: .auto)
        _ = machine.handle(.start, random: 0.5)
        #expect(machine.handle(.connectionLost(reason: "closed"), random: 0.5) == [.report(.fellBack(to: .v311)), .wait(.zero)])
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v311)])
        #expect(machine.handle(.connectionLost(reason: "closed"), random: 0.5)
            == [.report(.unreachable(reason: "closed")), .wait(.seconds(1))])
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v5)])
        // Once a version is accepted it is kept: a later drop before CONNACK is the network, not the version.
        _ = machine.handle(.accepted(sessionPresent: false), random: 0.5)
        _ = machine.handle(.connectionLost(reason: "restart"), random: 0.5)
        _ = machine.handle(.waited, random: 0.5)
        #expect(machine.handle(.connectionLost(reason: "closed"), random: 0.5)
            == [.report(.unreachable(reason: "closed")), .wait(.seconds(2))])
        #expect(machine.handle(.waited, random: 0.5) == [.connect(.v5)])
    }

    @Test("a pinned version never falls back; other refusals back off and are reported", arguments: [
        (MQTTBroker.ProtocolVersion.v5, MQTTConnectionMachine.unsupportedProtocolVersion),
        (MQTTBroker.ProtocolVersion.auto, 0x87),
    ])
    func noFallback(requested: MQTTBroker.ProtocolVersion, code: Int) {
        var machine = MQTTConnectionMachine(requested: requested)
        _ = machine.handle(.start, random: 0.5)
        let actions = machine.handle(.refused(code: code, reason: "no"), random: 0.5)
        #expect(actions == [.report(.refused(reason: "no")), .wait(.seconds(1))])
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
