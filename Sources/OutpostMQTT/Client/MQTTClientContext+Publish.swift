import CMosquitto

/// QoS 1 publishes that complete on PUBACK; `MQTTInFlightPublishes` decides which waiter each PUBACK, deadline or
/// lost connection completes, and the waiters are resumed here, outside the lock.
extension MQTTClientContext {
    /// Publishes and waits for the PUBACK; also says how many bytes of MQTT packets the attempt put on the wire (the
    /// PUBLISH once handed to libmosquitto, the PUBACK once it came).
    func publish(topic: String, payload: [UInt8], retain: Bool, contentType: String?,
                 userProperties: [(String, String)], timeout: Duration) async -> (MQTTPublishOutcome, wireBytes: Int)
    {
        let (connected, version) = state.withLock { ($0.connected, $0.machine.version) }
        // Not handed to libmosquitto while offline: it would queue the message and send it on reconnect, after the
        // caller (the spool) had already counted it as failed and kept it.
        guard connected else { return (.failed("not connected to \(broker.host):\(broker.port)"), 0) }
        var properties: OpaquePointer?
        defer { mosquitto_property_free_all(&properties) }
        if version == .v5 {
            if let contentType {
                mosquitto_property_add_string(&properties, Int32(MQTT_PROP_CONTENT_TYPE.rawValue), contentType)
            }
            for (key, value) in userProperties {
                mosquitto_property_add_string_pair(&properties, Int32(MQTT_PROP_USER_PROPERTY.rawValue), key, value)
            }
        }
        var messageID: Int32 = 0
        let status = handleAccess.withLock { _ in
            payload.withUnsafeBytes { bytes in
                mosquitto_publish_v5(handle, &messageID, topic, Int32(bytes.count), bytes.baseAddress, 1, retain,
                                     properties)
            }
        }
        guard status == MOSQ_ERR_SUCCESS.rawValue else {
            if status == MOSQ_ERR_OVERSIZE_PACKET.rawValue || status == MOSQ_ERR_PAYLOAD_SIZE.rawValue {
                return (.refused(MQTTError(status, "publish of \(payload.count) bytes to \(topic)").message
                    + (maximumPacketSize.map { " (the broker's maximum packet size is \($0) bytes)" } ?? "")), 0)
            }
            return (.failed(MQTTError(status, "publish to \(topic)").message), 0)
        }
        let sent = MQTTPacketSize.publish(topic: topic, payload: payload.count, contentType: contentType,
                                          userProperties: userProperties, version: version)
        state.withLock { $0.publishSizes[messageID] = sent }
        let sentAt = ContinuousClock.now
        let deadline = sentAt + timeout
        // The PUBACK did not come in time: the caller keeps the message (the spool sends it again: at least once).
        let timer = Task { [weak self] in
            // Cancelled when the publish completes first.
            guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
            // At least this timer's deadline, should the clock read a hair early.
            self?.expireInFlight(now: max(.now, deadline))
        }
        defer { timer.cancel() }
        let outcome = await withCheckedContinuation { continuation in
            let early = state.withLock { state in
                state.inFlight.register(messageID, continuation, timeout: timeout, sentAt: sentAt)
            }
            early?.resume()
        }
        return (outcome, sent + (outcome == .acknowledged ? MQTTPacketSize.puback : 0))
    }

    /// A PUBACK, from the network thread.
    func acknowledged(_ messageID: Int32, reasonCode: Int32) {
        state.withLock { state in
            if let size = state.publishSizes.removeValue(forKey: messageID), reasonCode < 0x80 {
                state.largestAcknowledged = max(state.largestAcknowledged, size)
            }
            return state.inFlight.acknowledge(messageID, reasonCode: reasonCode)
        }?.resume()
    }

    private func expireInFlight(now: ContinuousClock.Instant) {
        state.withLock { $0.inFlight.expire(now: now) }.forEach { $0.resume() }
    }

    /// Fails every publish still waiting for its PUBACK at once, rather than at its timeout: a batch waiting behind
    /// a dead connection goes back to the spool now.
    func failInFlight(reason: String) {
        state.withLock { $0.inFlight.failAll(reason: reason) }.forEach { $0.resume() }
    }
}

extension MQTTInFlightPublishes.Completion where Waiter == CheckedContinuation<MQTTPublishOutcome, Never> {
    fileprivate func resume() {
        waiter.resume(returning: outcome)
    }
}
