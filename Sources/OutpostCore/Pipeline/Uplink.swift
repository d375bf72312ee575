/// What an uplink says about one batch. Uplinks only deliver; the framework retries, backs off and drops.
package enum DeliveryResult: Sendable, Equatable {
    /// The receiver has the batch: it may leave the spool.
    case delivered
    /// The receiver has the batch except `droppedItems` data points or log records it can never take (each alone
    /// larger than its limit): the batch leaves the spool, and the dropped items are counted and reported.
    case partiallyDelivered(droppedItems: Int, droppedBytes: Int, reason: String)
    /// Not now (the receiver is down, overloaded or slow): try again, after `after` when the receiver said when.
    case retry(after: Duration?, reason: String)
    /// Never (the receiver refused the batch itself): drop it for this uplink, count it, report it.
    case rejected(reason: String)
}

/// Something that delivers spooled batches upstream: OTLP/HTTP, MQTT.
package protocol Uplink: Sendable {
    /// The operator's name for it (`[[uplink.otlp_http]] name`), used in the spool's delivery rows and status.
    var name: String { get }
    /// The signals it delivers, declared by its kind (an OTLP receiver: metrics and logs; an alert publisher: alert
    /// documents). The spool keeps a batch for exactly the uplinks that accept its signal.
    var accepts: Set<Signal> { get }
    /// Sends one batch and says how it went. May block only its own thread, never the cooperative pool.
    func deliver(_ batch: Batch) async -> DeliveryResult
}

/// An uplink that counts what each attempt put on the wire, for byte budgets: request and response headers and
/// bodies (OTLP/HTTP), PUBLISH and PUBACK packets (MQTT), whether the batch was delivered or not. An uplink that
/// does not count is charged its payload's size.
package protocol WireCounting: Uplink {
    func deliverCounting(_ batch: Batch) async -> CountedDelivery
}

/// One attempt's outcome and the bytes it put on the wire (both directions).
package struct CountedDelivery: Sendable, Equatable {
    package let result: DeliveryResult
    package let wireBytes: Int

    package init(_ result: DeliveryResult, wireBytes: Int) {
        self.result = result
        self.wireBytes = wireBytes
    }
}

extension Uplink {
    /// Delivers `batch` and says what it cost on the wire (`WireCounting`), or the payload's size when the uplink
    /// does not count.
    package func deliverCountingBytes(_ batch: Batch) async -> CountedDelivery {
        if let counting = self as? any WireCounting { return await counting.deliverCounting(batch) }
        return CountedDelivery(await deliver(batch), wireBytes: batch.payload.count)
    }
}

/// An uplink that hears when its way to the receiver opens again (its MQTT client reconnected), so that a delivery
/// loop waiting out a backoff tries at once instead of sleeping on.
package protocol ReconnectNotifying: Uplink {
    /// Calls `handler` (on any thread, quickly) each time the connection comes back.
    func onReconnect(_ handler: @escaping @Sendable () -> Void)
}
