/// The status line and header fields of an HTTP response, read line by line as libcurl hands them over.
///
/// Bounded, because the bytes come from whoever answers (a receiver, a proxy, a captive portal): at most
/// `maximumFields` fields are kept, each line at most `maximumLineBytes`; what is beyond is dropped, never an error.
/// Names are lower-cased (RFC 9110 §5.1: field names are case-insensitive); values trimmed of spaces and tabs.
package struct HTTPResponseHead: Sendable {
    package static let maximumFields = 100
    package static let maximumLineBytes = 8192

    /// From the last status line (`HTTP/1.1 503 Service Unavailable`; RFC 9112 §4), nil before one.
    package private(set) var status: Int?
    package private(set) var fields: [(name: String, value: String)] = []

    package init() {}

    /// Reads one line (with or without its CR LF). A status line starts a new response: after a `100 Continue` or a
    /// redirect, only the final response's fields count.
    package mutating func consume(line bytes: some Collection<UInt8>) {
        let line = Array(bytes.prefix(Self.maximumLineBytes))
        if line.starts(with: Array("HTTP/".utf8)) {
            status = Self.statusCode(line)
            fields = []
            return
        }
        guard fields.count < Self.maximumFields, let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
            return
        }
        let name = String(decoding: line[..<colon], as: UTF8.self).trimmingSpaces().lowercased()
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces()
        fields.append((name, value))
    }

    /// The first field named `name` (lower case).
    package func field(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// The three digits after `HTTP/x.y `, or nil.
    private static func statusCode(_ line: [UInt8]) -> Int? {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        let digits = line[(space + 1)...].prefix(3)
        guard digits.count == 3, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }
}
