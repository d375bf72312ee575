import OutpostCore
import OutpostUplinks

/// `[opamp]`: remote management over OpAMP (the OpenTelemetry project's Open Agent Management Protocol), HTTP
/// transport with polling. Off unless `endpoint` is set. Always read from the local config file: a remote
/// configuration cannot change how the gateway is managed.
package struct OpAMPConfiguration: Sendable {
    /// `endpoint`, default `""` (off): the server's OpAMP URL, `https://opamp.example.com/v1/opamp`.
    package var endpoint: String?
    /// `polling_interval`, default `"30s"`: how often the client asks the server for news when it has none to tell.
    package var pollingInterval: Duration = .seconds(30)
    /// `accept_remote_config`, default `false`: apply configurations the server pushes (through the same path as
    /// SIGHUP). Only over https with a verified certificate, or plain http to a loopback address.
    package var acceptRemoteConfig = false
    /// `headers`, default `{}`: sent with every request (`Authorization`); keep secrets in the environment.
    package var headers: [(String, String)] = []
    /// `ca_file`, `client_certificate`, `client_key`, `insecure_skip_verify` (default false; when true, remote
    /// configuration is refused whatever `accept_remote_config` says).
    package var tls = TLSSettings()
    /// `timeout`, default `"10s"`: per request.
    package var timeout: Duration = .seconds(10)
    /// `instance_uid`, default: one made up once (UUID v7) and kept in `<state_dir>/opamp/instance_uid`. 32 hex
    /// digits, or a UUID with dashes.
    package var instanceUID: [UInt8]?

    package init() {}

    /// Whether a pushed configuration may be applied: allowed, and from a server whose identity is verified (or on
    /// this machine, where nobody can sit in between).
    package var remoteConfigAllowed: Bool {
        acceptRemoteConfig && !tls.insecureSkipVerify && (endpoint.map(Self.isTrustworthy) ?? false)
    }

    /// https (libcurl verifies the certificate and the host name), or http to a loopback address.
    static func isTrustworthy(_ url: String) -> Bool {
        let lowered = url.lowercased()
        if lowered.hasPrefix("https://") { return true }
        guard lowered.hasPrefix("http://") else { return false }
        let authority = lowered.dropFirst("http://".count).prefix { $0 != "/" }
        let host = authority.hasPrefix("[") ? String(authority.prefix { $0 != "]" }.dropFirst())
            : String(authority.prefix { $0 != ":" })
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    package static func read(_ reader: ConfigReader?, resolve: (String) -> String) -> OpAMPConfiguration {
        var configuration = OpAMPConfiguration()
        guard let reader else { return configuration }
        let endpoint = reader.string("endpoint", default: "")
        if !endpoint.isEmpty {
            let lowered = endpoint.lowercased()
            if lowered.hasPrefix("https://") || lowered.hasPrefix("http://") {
                configuration.endpoint = endpoint
            } else {
                reader.invalid("endpoint", "`\(endpoint)` is not an http(s) URL; write https://host/v1/opamp")
            }
        }
        configuration.pollingInterval = reader.positiveDuration("polling_interval", default: .seconds(30))
        configuration.acceptRemoteConfig = reader.bool("accept_remote_config", default: false)
        configuration.headers = reader.stringMap("headers").map { ($0.key, $0.value) }
        configuration.tls = TLSSettings(caFile: reader.string("ca_file").map(resolve),
                                        clientCertificate: reader.string("client_certificate").map(resolve),
                                        clientKey: reader.string("client_key").map(resolve),
                                        insecureSkipVerify: reader.bool("insecure_skip_verify", default: false))
        configuration.timeout = reader.positiveDuration("timeout", default: .seconds(10))
        if let text = reader.string("instance_uid") {
            configuration.instanceUID = InstanceUID.parse(text)
            if configuration.instanceUID == nil {
                reader.invalid("instance_uid", "`\(text)` is not 16 bytes as 32 hex digits or a UUID")
            }
        }
        if configuration.acceptRemoteConfig, configuration.tls.insecureSkipVerify {
            reader.invalid("accept_remote_config", "remote configuration is only taken from a server whose "
                + "certificate verifies; insecure_skip_verify = true turns that off")
        } else if configuration.acceptRemoteConfig, let url = configuration.endpoint, !isTrustworthy(url) {
            reader.invalid("accept_remote_config", "remote configuration needs an https endpoint (or http to a "
                + "loopback address): over plain http anyone on the way could rewrite this gateway's configuration")
        }
        reader.finish()
        return configuration
    }
}

/// The agent's instance UID (OpAMP §5.2.1 `instance_uid`: 16 bytes, a UUID v7 recommended).
package enum InstanceUID {
    package static func parse(_ text: String) -> [UInt8]? {
        let hex = text.filter { $0 != "-" }
        guard hex.count == 32 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }

    package static func text(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// A UUID v7 (RFC 9562 §5.7): 48 bits of unix milliseconds, then random bits, with the version and variant set.
    package static func make(unixMillis: Int64) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: unixMillis >> (8 * (5 - index))) }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return bytes
    }
}
