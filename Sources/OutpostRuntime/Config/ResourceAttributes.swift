#if canImport(Glibc)
import Glibc
#endif
import OutpostCore

/// The OTLP resource every export carries: who is speaking.
///
/// Precedence, lowest first: Outpost's defaults (`service.name` = outpost, `service.version`, `host.name`,
/// `host.arch`, `os.type`, `outpost.gateway.id`), the config's `[resource]` table, `OTEL_RESOURCE_ATTRIBUTES`,
/// then `OTEL_SERVICE_NAME`, as the OpenTelemetry SDK environment specification orders them.
enum ResourceAttributes {
    static func build(gatewayID: String, configured: [(key: String, value: String)],
                      environment: [String: String]) -> Attributes {
        var attributes: Attributes = [
            "service.name": .string("outpost"),
            "service.version": .string(OutpostVersion.current),
            "host.name": .string(OutpostConfiguration.hostName()),
            "host.arch": .string(hostArchitecture()),
            "os.type": .string("linux"),
            "outpost.gateway.id": .string(gatewayID),
        ]
        for (key, value) in configured { attributes[key] = .string(value) }
        for (key, value) in KeyValueList.parse(environment["OTEL_RESOURCE_ATTRIBUTES"] ?? "") {
            attributes[key] = .string(value)
        }
        if let name = environment["OTEL_SERVICE_NAME"], !name.isEmpty { attributes["service.name"] = .string(name) }
        return attributes
    }

    /// OpenTelemetry's `host.arch` values for the machines Outpost runs on.
    static func hostArchitecture() -> String {
        var info = utsname()
        uname(&info)
        let machine = withUnsafeBytes(of: info.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch machine {
        case "x86_64": return "amd64"
        case "aarch64", "arm64": return "arm64"
        case let arm where arm.hasPrefix("armv"): return "arm32"
        default: return machine
        }
    }
}
