import CMosquitto

/// Subscriptions, sent again after every connect, and the received messages routed to the streams whose filters
/// match their topic.
extension MQTTClientContext {
    func addSubscription(filters: [String], continuation: AsyncStream<MQTTMessage>.Continuation,
                         dropped: MQTTDropCounter) {
        let connected = state.withLock { state -> Bool in
            state.subscriptions.append((filters, continuation, dropped))
            return state.connected
        }
        if connected { subscribe(filters) }
    }

    /// MQTT 3.1.1 §3.1.2.4 / MQTT 5 §3.1.2.4: even with a persistent session, a broker may have lost it (a restart
    /// without persistence), so subscriptions are sent again after every connect.
    func resubscribe() {
        subscribe(state.withLock { $0.subscriptions.flatMap(\.filters) })
    }

    /// Ends every subscription's stream, once the client stops.
    func finishSubscriptions() {
        state.withLock { $0.subscriptions }.forEach { $0.continuation.finish() }
    }

    /// A PUBLISH from the broker, from the network thread.
    func received(topic: String, payload: [UInt8]) {
        let subscriptions = state.withLock { $0.subscriptions }
        let message = MQTTMessage(topic: topic, payload: payload)
        for (filters, continuation, dropped) in subscriptions where filters.contains(where: { matches($0, topic) }) {
            if case .dropped = continuation.yield(message) { dropped.add() }
        }
    }

    private func subscribe(_ filters: [String]) {
        handleAccess.withLock { _ in
            for filter in filters { mosquitto_subscribe_v5(handle, nil, filter, 1, 0, nil) }
        }
    }

    private func matches(_ filter: String, _ topic: String) -> Bool {
        var result = false
        mosquitto_topic_matches_sub(filter, topic, &result)
        return result
    }
}
