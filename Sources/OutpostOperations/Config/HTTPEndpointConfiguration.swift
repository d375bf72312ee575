import OutpostCore

/// `[http]`: the local HTTP endpoint (`/health`, `/metrics`, `/status`). Off unless `listen` is set.
package struct HTTPEndpointConfiguration: Sendable, Equatable {
    /// `listen`, default `""` (off: no socket, no thread): `"127.0.0.1:9464"` (9464 is the port the OpenTelemetry
    /// Prometheus exporters use), `"[::1]:9464"`, or a non-loopback address such as `"0.0.0.0:9464"`, which lets
    /// anyone who can reach the gateway read its status (a warning is logged).
    package var listen: (host: String, port: Int)?
    /// `series_metrics`, default `false`: `/metrics` also carries the latest value of every series
    /// (`outpost_series_value`); `/metrics?series=1` asks for it either way.
    package var seriesMetrics = false

    package init() {}

    package static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.listen?.host == rhs.listen?.host && lhs.listen?.port == rhs.listen?.port
            && lhs.seriesMetrics == rhs.seriesMetrics
    }

    /// Whether the address is this machine's loopback.
    package var isLoopback: Bool {
        guard let host = listen?.host else { return true }
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    package static func read(_ reader: ConfigReader?) -> HTTPEndpointConfiguration {
        var configuration = HTTPEndpointConfiguration()
        guard let reader else { return configuration }
        let listen = reader.string("listen", default: "")
        if !listen.isEmpty {
            configuration.listen = parse(listen)
            if configuration.listen == nil {
                reader.invalid("listen", "`\(listen)` is not host:port; write \"127.0.0.1:9464\" or \"[::1]:9464\"")
            }
        }
        configuration.seriesMetrics = reader.bool("series_metrics", default: false)
        reader.finish()
        return configuration
    }

    /// `host:port`, `[v6]:port`; the host an IP address or `localhost`, the port 0 (any free one) to 65535.
    static func parse(_ text: String) -> (host: String, port: Int)? {
        let host: Substring, port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let number = Int(port), (0...65535).contains(number) else { return nil }
        return (String(host), number)
    }
}
