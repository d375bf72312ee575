import CMosquitto

/// Subscriptions, sent again after every connect, and the received messages routed to the streams whose filters
/// match their topic.
extension MQTTClientContext {
    func addSubscription(filters: [String], continuation: AsyncStream<MQTTMessage>.Continuation,
                         dropped: MQTTDropCounter) {
        let (id, connected) = state.withLock { state -> (Int, Bool) in
            state.lastSubscription += 1
            state.subscriptions.append((state.lastSubscription, filters, continuation, dropped))
            return (state.lastSubscription, state.connected)
        }
        // A consumer that stops (an MQTT input a reload restarts or removes) takes its filters with it: the broker
        // stops sending what nobody reads any more.
        continuation.onTermination = { [weak self] _ in self?.removeSubscription(id) }
        if connected { subscribe(filters) }
    }

    private func removeSubscription(_ id: Int) {
        let (unused, connected) = state.withLock { state -> ([String], Bool) in
            guard let index = state.subscriptions.firstIndex(where: { $0.id == id }) else { return ([], false) }
            let filters = state.subscriptions.remove(at: index).filters
            let stillUsed = Set(state.subscriptions.flatMap(\.filters))
            return (filters.filter { !stillUsed.contains($0) }, state.connected)
        }
        guard connected else { return }
        handleAccess.withLock { _ in
            for filter in unused { mosquitto_unsubscribe_v5(handle, nil, filter, nil) }
        }
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
        for (_, filters, continuation, dropped) in subscriptions where filters.contains(where: { matches($0, topic) }) {
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
