import CMosquitto

/// The QoS 1 publishes still waiting for their PUBACK, by message id: which waiter a PUBACK, a deadline or a lost
/// connection completes, and with what outcome.
///
/// A plain value with no lock of its own, tested without a broker: `MQTTClientContext` keeps it in its `Mutex` and
/// resumes the returned waiters after unlocking. `Waiter` is a continuation there, a token in tests. Each waiter is
/// returned once, by whichever comes first; later news about its message id completes nothing.
///
/// MQTT 5 §4.3.2 / 3.1.1 §4.3.2: a QoS 1 PUBLISH is the sender's until the PUBACK with the same Packet Identifier.
/// One given up on here stays in libmosquitto's session and may still be acknowledged: the caller keeps the message
/// and sends it again later (at least once).
package struct MQTTInFlightPublishes<Waiter> {
    /// A waiter to resume, with its publish's outcome.
    package struct Completion {
        package let waiter: Waiter
        package let outcome: MQTTPublishOutcome
    }

    fileprivate struct Entry {
        let waiter: Waiter
        let timeout: Duration
        let deadline: ContinuousClock.Instant
    }

    private var waiting: [Int32: Entry] = [:]
    /// PUBACKs that arrived before their publisher registered (loopback brokers are that fast).
    private var acknowledgedEarly: Set<Int32> = []
    /// Publishes given up on (expired, or failed with the connection): a late PUBACK for one must not count for
    /// anyone else.
    private var abandoned: Set<Int32> = []

    package init() {}

    /// How many publishes are waiting.
    package var count: Int { waiting.count }

    /// Waits for `messageID`'s PUBACK until `timeout` after `sentAt`. Returns the waiter's completion at once when
    /// its PUBACK came first.
    package mutating func register(_ messageID: Int32, _ waiter: Waiter, timeout: Duration,
                                   sentAt: ContinuousClock.Instant) -> Completion?
    {
        if acknowledgedEarly.remove(messageID) != nil { return Completion(waiter: waiter, outcome: .acknowledged) }
        waiting[messageID] = Entry(waiter: waiter, timeout: timeout, deadline: sentAt + timeout)
        return nil
    }

    /// A PUBACK for `messageID`. MQTT 5 §3.4.2.1: a reason code of 0x80 or more is a failure; 3.1.1 has no reason
    /// code (libmosquitto reports 0). Not authorised (0x87), an invalid topic name (0x90), a packet too large
    /// (0x95) or an invalid payload format (0x99) refuse the message itself, for good; the others (unspecified,
    /// quota exceeded, ...) may pass later.
    package mutating func acknowledge(_ messageID: Int32, reasonCode: Int32 = 0) -> Completion? {
        let outcome = Self.outcome(ofPUBACK: reasonCode)
        guard let entry = waiting.removeValue(forKey: messageID) else {
            if abandoned.remove(messageID) == nil, outcome == .acknowledged { acknowledgedEarly.insert(messageID) }
            return nil
        }
        return Completion(waiter: entry.waiter, outcome: outcome)
    }

    static func outcome(ofPUBACK reasonCode: Int32) -> MQTTPublishOutcome {
        guard reasonCode >= 0x80 else { return .acknowledged }
        let reason = "the broker refused the message: \(String(cString: mosquitto_reason_string(reasonCode))) "
            + "(PUBACK reason 0x\(String(reasonCode, radix: 16)))"
        return [0x87, 0x90, 0x95, 0x99].contains(reasonCode) ? .refused(reason) : .failed(reason)
    }

    /// Fails the publishes whose deadline is `now` or earlier, earliest deadline first.
    package mutating func expire(now: ContinuousClock.Instant) -> [Completion] {
        let overdue = waiting.filter { $0.value.deadline <= now }
        return giveUp(on: overdue) { .failed("no PUBACK within \($0.timeout)") }
    }

    /// Fails every publish still waiting, earliest deadline first: after a lost connection no PUBACK is coming for
    /// them, and their callers should not wait out their timeouts.
    package mutating func failAll(reason: String) -> [Completion] {
        giveUp(on: waiting) { _ in .failed(reason) }
    }

    private mutating func giveUp(on entries: [Int32: Entry], _ outcome: (Entry) -> MQTTPublishOutcome)
        -> [Completion]
    {
        for messageID in entries.keys {
            waiting[messageID] = nil
            abandoned.insert(messageID)
        }
        return entries.sorted { ($0.value.deadline, $0.key) < ($1.value.deadline, $1.key) }
            .map { Completion(waiter: $0.value.waiter, outcome: outcome($0.value)) }
    }
}

extension MQTTInFlightPublishes: Sendable where Waiter: Sendable {}
extension MQTTInFlightPublishes.Entry: Sendable where Waiter: Sendable {}
extension MQTTInFlightPublishes.Completion: Sendable where Waiter: Sendable {}
extension MQTTInFlightPublishes.Completion: Equatable where Waiter: Equatable {}
