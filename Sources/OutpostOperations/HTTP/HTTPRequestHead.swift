/// A request's head as the local endpoint reads it (RFC 9112 §2-§5): the request line and the header fields, from
/// bytes that anyone on the listening address may send. Only what the endpoint needs is kept: the method, the
/// path and the query. Everything is bounded, and every malformed head is an answer (a 4xx or 5xx), never a crash.
package struct HTTPRequestHead: Sendable, Equatable {
    /// A head beyond this is refused with 431 (RFC 6585 §5); the endpoint's requests are one line and a few fields.
    package static let maximumBytes = 8192
    package static let maximumFields = 64

    package var method: String
    /// The path of the origin-form target (`/metrics`), without its query.
    package var path: String
    /// `name=value` pairs of the query (`series=1`), undecoded: the endpoint's own names and values are plain.
    package var query: [String: String]

    package init(method: String, path: String, query: [String: String]) {
        self.method = method
        self.path = path
        self.query = query
    }

    package enum Parse: Sendable, Equatable {
        /// Not the whole head yet: read more.
        case incomplete
        case request(HTTPRequestHead)
        /// Answer `status` with `reason` and close.
        case invalid(status: Int, reason: String)
    }

    package static func parse(_ bytes: [UInt8]) -> Parse {
        guard let end = endOfHead(bytes) else {
            return bytes.count >= maximumBytes
                ? .invalid(status: 431, reason: "request header fields too large") : .incomplete
        }
        guard end <= maximumBytes else { return .invalid(status: 431, reason: "request header fields too large") }
        var lines = bytes[..<end].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { $0.last == UInt8(ascii: "\r") ? $0.dropLast() : $0 }
        // RFC 9112 §2.2: a server should ignore at least one empty line before the request line.
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        guard let requestLine = lines.first else { return .invalid(status: 400, reason: "no request line") }
        let fields = lines.dropFirst().filter { !$0.isEmpty }
        guard fields.count <= maximumFields else { return .invalid(status: 431, reason: "too many header fields") }
        for field in fields {
            if let problem = fieldProblem(field) { return .invalid(status: 400, reason: problem) }
        }
        return parseRequestLine(Array(requestLine))
    }

    /// Where the head ends (after its blank line), or nil while it has not ended.
    private static func endOfHead(_ bytes: [UInt8]) -> Int? {
        var index = 0
        var sawRequestLine = false
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "\n") else {
                index += 1
                continue
            }
            // A line feed ends a line; the line before it was empty when it is the start, or "\r" only.
            let lineStart = bytes[..<index].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            let line = bytes[lineStart..<index]
            let empty = line.isEmpty || line.elementsEqual([UInt8(ascii: "\r")])
            if empty && sawRequestLine { return index + 1 }
            if !empty { sawRequestLine = true }
            index += 1
        }
        return nil
    }

    /// RFC 9112 §3: method SP request-target SP HTTP-version.
    private static func parseRequestLine(_ line: [UInt8]) -> Parse {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .invalid(status: 400, reason: "malformed request line") }
        let method = parts[0], target = parts[1], version = parts[2]
        guard !method.isEmpty, method.count <= 16, method.allSatisfy(isTokenCharacter) else {
            return .invalid(status: 400, reason: "malformed method")
        }
        guard version.elementsEqual("HTTP/1.1".utf8) || version.elementsEqual("HTTP/1.0".utf8) else {
            return .invalid(status: 505, reason: "HTTP version not supported")
        }
        // Origin form only (§3.2.1): the endpoint is not a proxy.
        guard target.first == UInt8(ascii: "/"), target.count <= 2048,
            target.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else {
            return .invalid(status: 400, reason: "malformed request target")
        }
        let text = String(decoding: target, as: UTF8.self)
        let pieces = text.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if pieces.count == 2 {
            for pair in pieces[1].split(separator: "&").prefix(32) {
                let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[String(keyValue[0])] = keyValue.count == 2 ? String(keyValue[1]) : ""
            }
        }
        return .request(HTTPRequestHead(method: String(decoding: method, as: UTF8.self),
                                        path: String(pieces[0]), query: query))
    }

    /// RFC 9112 §5: `field-name ":" OWS field-value OWS`; no space before the colon (§5.1), no line folding (§5.2).
    private static func fieldProblem(_ field: ArraySlice<UInt8>) -> String? {
        if field.first == UInt8(ascii: " ") || field.first == UInt8(ascii: "\t") { return "obsolete line folding" }
        guard let colon = field.firstIndex(of: UInt8(ascii: ":")), colon > field.startIndex else {
            return "malformed header field"
        }
        guard field[..<colon].allSatisfy(isTokenCharacter) else { return "malformed header field name" }
        guard field[(colon + 1)...].allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            return "malformed header field value"
        }
        return nil
    }

    /// RFC 9110 §5.6.2 tchar.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}
