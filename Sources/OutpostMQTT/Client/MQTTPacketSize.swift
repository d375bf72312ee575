/// The sizes of the MQTT packets a QoS 1 publish exchanges, as they go on the wire: what byte budgets count, and
/// whether a packet fits a broker's maximum packet size.
///
/// PUBLISH (MQTT 3.1.1 §3.3, MQTT 5.0 §3.3): a fixed header (one byte and the remaining length as a variable byte
/// integer), the topic name (a two-byte length and its UTF-8), the packet identifier (two bytes, QoS 1), with MQTT 5
/// the properties (their length as a variable byte integer, then the content type, 0x03, and each user property,
/// 0x26, as length-prefixed strings), then the payload. PUBACK: four bytes (§3.4; MQTT 5 omits the reason code and
/// properties on success).
package enum MQTTPacketSize {
    package static let puback = 4

    package static func publish(topic: String, payload: Int, contentType: String?,
                                userProperties: [(String, String)], version: MQTTBroker.ProtocolVersion) -> Int {
        var variable = 2 + topic.utf8.count + 2
        if version == .v5 {
            var properties = contentType.map { 1 + 2 + $0.utf8.count } ?? 0
            for (key, value) in userProperties { properties += 1 + 2 + key.utf8.count + 2 + value.utf8.count }
            variable += variableByteIntegerSize(properties) + properties
        }
        let remaining = variable + payload
        return 1 + variableByteIntegerSize(remaining) + remaining
    }

    /// Bytes a variable byte integer takes (§1.5.5 / §2.2.3): seven bits each.
    static func variableByteIntegerSize(_ value: Int) -> Int {
        switch value {
        case ..<128: 1
        case ..<16_384: 2
        case ..<2_097_152: 3
        default: 4
        }
    }
}
