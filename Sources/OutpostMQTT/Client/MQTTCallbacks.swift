import CMosquitto

// libmosquitto's callbacks: C functions at file scope, in library code, that reach their `MQTTClientContext`
// through the `void *` user data. Never closures formed in `main.swift` or a main-actor type: libmosquitto calls
// them on its network thread, where a main-actor closure would crash.

extension MQTTClientContext {
    /// Points libmosquitto's user data at this context and sets the callbacks. Unretained: the handle never
    /// outlives the context, whose `deinit` destroys it.
    func installCallbacks() {
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())
        mosquitto_connect_v5_callback_set(handle, mqttConnected)
        mosquitto_disconnect_v5_callback_set(handle, mqttDisconnected)
        mosquitto_publish_v5_callback_set(handle, mqttPublished)
        mosquitto_message_v5_callback_set(handle, mqttMessage)
        mosquitto_log_callback_set(handle, mqttLog)
    }
}

private func context(_ pointer: UnsafeMutableRawPointer?) -> MQTTClientContext? {
    pointer.map { Unmanaged<MQTTClientContext>.fromOpaque($0).takeUnretainedValue() }
}

private let mqttConnected: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, Int32, OpaquePointer?)
    -> Void = { _, user, code, flags, properties in
        context(user)?.connackReceived(code: code, flags: flags, properties: properties)
    }

private let mqttDisconnected: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, OpaquePointer?)
    -> Void = { _, user, code, _ in
        context(user)?.disconnected(code: code)
    }

private let mqttPublished: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, Int32, OpaquePointer?)
    -> Void = { _, user, messageID, reasonCode, _ in
        context(user)?.acknowledged(messageID, reasonCode: reasonCode)
    }

private let mqttMessage: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?,
                                         UnsafePointer<mosquitto_message>?, OpaquePointer?)
    -> Void = { _, user, message, _ in
        guard let message, let topic = message.pointee.topic else { return }
        let count = Int(message.pointee.payloadlen)
        let payload = count > 0 && message.pointee.payload != nil
            ? Array(UnsafeRawBufferPointer(start: message.pointee.payload, count: count)) : []
        context(user)?.received(topic: String(cString: topic), payload: payload)
    }

private let mqttLog: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32, UnsafePointer<CChar>?)
    -> Void = { _, user, level, message in
        guard let message else { return }
        context(user)?.logged(level: level, message: String(cString: message))
    }

/// `mosquitto_lib_init` must run once, before any client, and is not thread-safe.
enum MQTTLibrary {
    private static let initialized: Bool = {
        mosquitto_lib_init()
        return true
    }()

    static func initialize() {
        _ = initialized
    }
}
