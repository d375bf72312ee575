/// The `key1=value1,key2=value2` lists of the OpenTelemetry environment (`OTEL_RESOURCE_ATTRIBUTES`,
/// `OTEL_EXPORTER_OTLP_HEADERS`): W3C Baggage format, values percent-encoded, blanks trimmed, malformed pairs skipped.
package enum KeyValueList {
    package static func parse(_ text: String) -> [(key: String, value: String)] {
        text.split(separator: ",").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            let key = String(parts[0]).trimmingSpaces()
            guard !key.isEmpty else { return nil }
            return (key, percentDecoded(String(parts[1]).trimmingSpaces()))
        }
    }

    package static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
