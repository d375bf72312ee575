import OutpostCore
import OutpostWire

/// The health of a component and of its parts, in the model OpAMP's `ComponentHealth` message uses (opamp-spec
/// §5.2.3.2) and the OpenTelemetry Collector's health check (healthcheckv2) shows: a component is healthy when all
/// of its parts are.
package struct ComponentHealth: Sendable, Equatable {
    /// The Collector's status names (`componentstatus`): what `status` says.
    package enum Status: String, Sendable {
        case starting = "StatusStarting"
        case ok = "StatusOK"
        case recoverableError = "StatusRecoverableError"
        case permanentError = "StatusPermanentError"
    }

    package var healthy: Bool
    package var status: Status
    /// Empty when healthy.
    package var lastError: String
    /// Unix nanoseconds: when the component started, and when its status was assessed.
    package var startTime: Int64
    package var statusTime: Int64
    /// Parts by name (`uplink:collector`, `input:simulated h.s1`, `spool`), sorted by name.
    package var components: [(name: String, health: ComponentHealth)]

    package init(healthy: Bool, status: Status, lastError: String = "", startTime: Int64, statusTime: Int64,
                 components: [(name: String, health: ComponentHealth)] = []) {
        self.healthy = healthy
        self.status = status
        self.lastError = lastError
        self.startTime = startTime
        self.statusTime = statusTime
        self.components = components
    }

    /// The whole from its parts: healthy when every part is; the error names the unhealthy parts.
    package static func aggregate(_ parts: [(name: String, health: ComponentHealth)], startTime: Int64,
                                  now: Int64) -> ComponentHealth {
        let failing = parts.filter { !$0.health.healthy }
        let error = failing.map { "\($0.name): \($0.health.lastError)" }.joined(separator: "; ")
        return ComponentHealth(healthy: failing.isEmpty, status: failing.isEmpty ? .ok : .recoverableError,
                               lastError: error, startTime: startTime, statusTime: now,
                               components: parts.sorted { $0.name < $1.name })
    }

    package static func == (lhs: ComponentHealth, rhs: ComponentHealth) -> Bool {
        lhs.healthy == rhs.healthy && lhs.status == rhs.status && lhs.lastError == rhs.lastError
            && lhs.startTime == rhs.startTime && lhs.statusTime == rhs.statusTime
            && lhs.components.elementsEqual(rhs.components) { $0.name == $1.name && $0.health == $1.health }
    }

    /// The health check's JSON (the Collector's healthcheckv2 with `verbose`): `start_time`, `healthy`, `status`,
    /// `error` (when unhealthy), `status_time`, and `components` by name.
    package var json: String {
        var writer = JSONWriter()
        write(into: &writer, key: nil)
        return writer.text
    }

    private func write(into writer: inout JSONWriter, key: String?) {
        writer.beginObject(key)
        writer.string("start_time", RFC3339.format(startTime))
        writer.bool("healthy", healthy)
        writer.string("status", status.rawValue)
        if !lastError.isEmpty { writer.string("error", lastError) }
        writer.string("status_time", RFC3339.format(statusTime))
        if !components.isEmpty {
            writer.beginObject("components")
            for (name, health) in components { health.write(into: &writer, key: name) }
            writer.endObject()
        }
        writer.endObject()
    }
}
