import Testing
@testable import OutpostMQTT

@Suite("QoS 1 publishes waiting for their PUBACK (no broker)")
struct MQTTInFlightPublishesTests {
    typealias Completion = MQTTInFlightPublishes<String>.Completion

    let sent = ContinuousClock.now

    func done(_ waiter: String, _ outcome: MQTTPublishOutcome = .acknowledged) -> Completion {
        Completion(waiter: waiter, outcome: outcome)
    }

    @Test("a PUBACK completes its own publish once; a repeat completes nothing")
    func acknowledge() {
        var inFlight = MQTTInFlightPublishes<String>()
        #expect(inFlight.register(1, "first", timeout: .seconds(10), sentAt: sent) == nil)
        #expect(inFlight.register(2, "second", timeout: .seconds(10), sentAt: sent) == nil)
        #expect(inFlight.acknowledge(2) == done("second"))
        #expect(inFlight.acknowledge(2) == nil)
        #expect(inFlight.count == 1)
        #expect(inFlight.acknowledge(1) == done("first"))
        #expect(inFlight.count == 0)
    }

    @Test("an MQTT 5 PUBACK reason of 0x80 or more fails the publish (for good when it refuses the message itself)",
          arguments: [(0x00, .acknowledged), (0x10, .acknowledged),
                      (0x80, .failed("the broker refused the message: Unspecified error (PUBACK reason 0x80)")),
                      (0x97, .failed("the broker refused the message: Quota exceeded (PUBACK reason 0x97)")),
                      (0x87, .refused("the broker refused the message: Not authorized (PUBACK reason 0x87)")),
                      (0x90, .refused("the broker refused the message: Topic Name invalid (PUBACK reason 0x90)"))]
              as [(Int32, MQTTPublishOutcome)])
    func reasonCodes(reasonCode: Int32, outcome: MQTTPublishOutcome) {
        var inFlight = MQTTInFlightPublishes<String>()
        _ = inFlight.register(5, "alert", timeout: .seconds(10), sentAt: sent)
        #expect(inFlight.acknowledge(5, reasonCode: reasonCode) == done("alert", outcome))
    }

    @Test("a PUBACK for an unknown id completes nothing, and counts for that id's publisher when it registers late")
    func unknownID() {
        var inFlight = MQTTInFlightPublishes<String>()
        #expect(inFlight.acknowledge(7) == nil)
        #expect(inFlight.count == 0)
        // On a loopback broker the PUBACK can beat the publisher to the lock.
        #expect(inFlight.register(7, "fast", timeout: .seconds(10), sentAt: sent) == done("fast"))
        #expect(inFlight.count == 0)
        // Remembered once only.
        #expect(inFlight.register(7, "next", timeout: .seconds(10), sentAt: sent) == nil)
    }

    @Test("a PUBACK for a publish that already expired completes nothing, and does not count for the id's next publish")
    func lateAcknowledgement() {
        var inFlight = MQTTInFlightPublishes<String>()
        _ = inFlight.register(3, "slow", timeout: .seconds(1), sentAt: sent)
        #expect(inFlight.expire(now: sent + .seconds(1)) == [done("slow", .failed("no PUBACK within 1.0 seconds"))])
        #expect(inFlight.acknowledge(3) == nil)
        #expect(inFlight.register(3, "reused", timeout: .seconds(1), sentAt: sent + .seconds(2)) == nil)
        #expect(inFlight.acknowledge(3) == done("reused"))
    }

    @Test("expiry fails only the overdue publishes, earliest deadline first, each once")
    func expiryOrder() {
        var inFlight = MQTTInFlightPublishes<String>()
        _ = inFlight.register(1, "30 s", timeout: .seconds(30), sentAt: sent)
        _ = inFlight.register(2, "10 s", timeout: .seconds(10), sentAt: sent)
        _ = inFlight.register(3, "5 s later, 10 s", timeout: .seconds(10), sentAt: sent + .seconds(5))
        _ = inFlight.register(4, "20 s", timeout: .seconds(20), sentAt: sent)
        #expect(inFlight.expire(now: sent + .seconds(9)) == [])
        // A deadline equal to now has passed.
        #expect(inFlight.expire(now: sent + .seconds(20)) == [
            done("10 s", .failed("no PUBACK within 10.0 seconds")),
            done("5 s later, 10 s", .failed("no PUBACK within 10.0 seconds")),
            done("20 s", .failed("no PUBACK within 20.0 seconds")),
        ])
        #expect(inFlight.expire(now: sent + .seconds(20)) == [])
        #expect(inFlight.count == 1)
        #expect(inFlight.acknowledge(1) == done("30 s"))
    }

    @Test("a lost connection fails every publish in flight exactly once; their late PUBACKs complete nothing")
    func failAll() {
        var inFlight = MQTTInFlightPublishes<String>()
        _ = inFlight.register(1, "a", timeout: .seconds(10), sentAt: sent)
        _ = inFlight.register(2, "b", timeout: .seconds(10), sentAt: sent + .seconds(1))
        _ = inFlight.register(3, "c", timeout: .seconds(10), sentAt: sent + .seconds(2))
        #expect(inFlight.acknowledge(2) == done("b"))
        let dropped = MQTTPublishOutcome.failed("the connection to the broker dropped")
        let failed = inFlight.failAll(reason: "the connection to the broker dropped")
        #expect(failed == [done("a", dropped), done("c", dropped)])
        #expect(inFlight.count == 0)
        #expect(inFlight.failAll(reason: "the client stopped") == [])
        #expect(inFlight.expire(now: sent + .seconds(60)) == [])
        #expect(inFlight.acknowledge(1) == nil)
        #expect(inFlight.acknowledge(3) == nil)
        // The late PUBACKs were for the abandoned publishes, not early ones for the ids' next publishes.
        #expect(inFlight.register(1, "retry", timeout: .seconds(10), sentAt: sent + .seconds(30)) == nil)
        #expect(inFlight.count == 1)
    }
}
