import OutpostCore
import OutpostInputs
import OutpostUplinks

/// What a reload changes: which parts of the running pipeline restart, which keep running, and the short diff the
/// log shows. Computed from two checked configurations, before anything is touched.
///
/// Parts and what changing them restarts:
/// - an input (`[[input.<kind>]]`, matched by kind and name): that input only; the others keep running, polled ones
///   on their tick. An MQTT input also restarts when its broker's settings change.
/// - an uplink (matched by name, same kind): that uplink's delivery loop and client; the spool and its backlog stay.
/// - a broker (`[mqtt.brokers.<name>]`): its connection, and the inputs and uplinks that use it.
/// - `[detect]`, an input's `detect` table, `[log] readings_interval`/`problem_interval`: nothing restarts; each
///   series keeps its state unless the settings resolved for it changed (`DetectionEngine.reconfigure`).
/// - `[log] level`: nothing restarts.
/// - `[http]`, `[opamp]`: the endpoint or the OpAMP client.
/// - the pipeline's core (`[gateway]`, `[spool]`, `[batch]`, `[resource]`, `[status]`, `[alerts]`,
///   `[mqtt] topic_prefix`, `[report]` and the inputs' `report` tables, an uplink's budgets, sync windows, `metered`
///   and `aggregate`, and adding, removing or renaming an uplink, which changes what the spool keeps batches
///   for): the whole pipeline stops gracefully (the open batch is flushed into the spool) and starts again on the
///   same spool, with the detection state carried over. Nothing is lost, but every input and uplink restarts.
struct ReloadPlan: Sendable {
    /// Why the whole pipeline must restart; empty when the change can be applied in place.
    var pipelineRestart: [String] = []
    var addedInputs: [String] = []
    var removedInputs: [String] = []
    var changedInputs: [String] = []
    var changedUplinks: [String] = []
    var changedBrokers: [String] = []
    var detectionChanged = false
    var logLevelChanged = false
    var httpChanged = false
    var opampChanged = false

    var restartsPipeline: Bool { !pipelineRestart.isEmpty }

    var isEmpty: Bool {
        pipelineRestart.isEmpty && addedInputs.isEmpty && removedInputs.isEmpty && changedInputs.isEmpty
            && changedUplinks.isEmpty && changedBrokers.isEmpty && !detectionChanged && !logLevelChanged
            && !httpChanged && !opampChanged
    }

    init(from old: OutpostConfiguration, to new: OutpostConfiguration) {
        pipelineRestart = Self.coreChanges(old, new)
        let oldInputs = Self.inputsByKey(old), newInputs = Self.inputsByKey(new)
        addedInputs = newInputs.keys.filter { oldInputs[$0] == nil }.sorted()
        removedInputs = oldInputs.keys.filter { newInputs[$0] == nil }.sorted()
        changedInputs = newInputs.keys.filter { key in
            guard let before = oldInputs[key], let after = newInputs[key] else { return false }
            return Self.fingerprint(before, in: old) != Self.fingerprint(after, in: new)
        }.sorted()
        changedBrokers = Set(old.mqtt.brokers.keys).union(new.mqtt.brokers.keys).filter { name in
            old.mqtt.brokers[name].map(SettingsFingerprint.of) != new.mqtt.brokers[name].map(SettingsFingerprint.of)
        }.sorted()
        let oldUplinks = Dictionary(Runtime.uplinks(of: old).map { ($0.name, $0) }) { first, _ in first }
        changedUplinks = Runtime.uplinks(of: new).filter { uplink in
            guard let before = oldUplinks[uplink.name] else { return false }
            return Self.fingerprint(before, in: old) != Self.fingerprint(uplink, in: new)
        }.map(\.name)
        detectionChanged = Self.detectionFingerprint(old) != Self.detectionFingerprint(new)
            || newInputs.contains { key, input in
                oldInputs[key].map { SettingsFingerprint.of(($0.source.patch, $0.source.interval)) }
                    .map { $0 != SettingsFingerprint.of((input.source.patch, input.source.interval)) } ?? false
            }
        logLevelChanged = old.log.level != new.log.level
        httpChanged = SettingsFingerprint.of(old.http) != SettingsFingerprint.of(new.http)
        opampChanged = SettingsFingerprint.of(old.opamp) != SettingsFingerprint.of(new.opamp)
    }

    /// The short diff for the log: one clause per kind of change.
    var summary: String {
        var parts: [String] = []
        if restartsPipeline { parts.append("pipeline restarted (\(pipelineRestart.joined(separator: ", ")))") }
        if !addedInputs.isEmpty { parts.append("inputs added: \(addedInputs.joined(separator: ", "))") }
        if !removedInputs.isEmpty { parts.append("inputs removed: \(removedInputs.joined(separator: ", "))") }
        if !changedInputs.isEmpty { parts.append("inputs restarted: \(changedInputs.joined(separator: ", "))") }
        if !changedUplinks.isEmpty { parts.append("uplinks restarted: \(changedUplinks.joined(separator: ", "))") }
        if !changedBrokers.isEmpty { parts.append("brokers changed: \(changedBrokers.joined(separator: ", "))") }
        if detectionChanged { parts.append("detection settings changed") }
        if logLevelChanged { parts.append("log level changed") }
        if httpChanged { parts.append("[http] changed") }
        if opampChanged { parts.append("[opamp] changed") }
        return parts.isEmpty ? "no change" : parts.joined(separator: "; ")
    }

    /// What an input is known by across reloads: its kind and name, and its place among inputs of that kind and
    /// name when several share them.
    static func inputKeys(_ configuration: OutpostConfiguration) -> [String] {
        var seen: [String: Int] = [:]
        return configuration.inputs.map { input in
            let base = "\(input.kind) \(input.settings.name)"
            seen[base, default: 0] += 1
            return seen[base]! == 1 ? base : "\(base) #\(seen[base]!)"
        }
    }

    private static func inputsByKey(_ configuration: OutpostConfiguration) -> [String: ConfiguredInput] {
        Dictionary(zip(inputKeys(configuration), configuration.inputs)) { first, _ in first }
    }

    /// An input's settings, and its broker's when it reads from one.
    static func fingerprint(_ input: ConfiguredInput, in configuration: OutpostConfiguration) -> String {
        SettingsFingerprint.of(input.settings) + brokerFingerprint(of: input.settings, in: configuration)
    }

    static func fingerprint(_ uplink: ConfiguredUplink, in configuration: OutpostConfiguration) -> String {
        uplink.kind + SettingsFingerprint.of(uplink.settings)
            + brokerFingerprint(of: uplink.settings, in: configuration)
    }

    private static func brokerFingerprint(of settings: Any, in configuration: OutpostConfiguration) -> String {
        guard let broker = (settings as? any BrokerUser)?.broker else { return "" }
        return configuration.mqtt.brokers[broker].map(SettingsFingerprint.of) ?? "none"
    }

    /// `[detect]` and the log intervals detection keeps; an input's own `detect` table is compared per input.
    private static func detectionFingerprint(_ configuration: OutpostConfiguration) -> String {
        SettingsFingerprint.of(configuration.detection)
            + SettingsFingerprint.of((configuration.log.readingsInterval, configuration.log.problemInterval))
    }

    /// The sections the pipeline's core is built from, and the uplinks the spool keeps batches for.
    /// Why a reload must not apply `new` at all, or nil. A reload never moves the spool (its backlog would be left
    /// behind in the old file, undelivered) or the status file (`outpost status` and `outpost check` find the running
    /// Outpost through it): both need a stop, a move of the files, and a start.
    static func refusal(from old: OutpostConfiguration, to new: OutpostConfiguration) -> String? {
        if old.spool.path != new.spool.path {
            return "it moves the spool from \(old.spool.path) to \(new.spool.path) ([gateway] state_dir or [spool] "
                + "path), which would leave the backlog in the old file undelivered; to move it, stop Outpost, move "
                + "the spool file (with its -wal file) to the new path, and start Outpost again"
        }
        if old.status.path != new.status.path {
            return "it moves the status file from \(old.status.path) to \(new.status.path) ([gateway] state_dir or "
                + "[status] path), by which `outpost status` and `outpost check` find the running Outpost; restart "
                + "Outpost to move it"
        }
        return nil
    }

    private static func coreChanges(_ old: OutpostConfiguration, _ new: OutpostConfiguration) -> [String] {
        let sections: [(String, (OutpostConfiguration) -> Any)] = [
            ("[gateway]", { ($0.gateway.id, $0.gateway.stateDirectory, $0.gateway.board?.name) }),
            ("[spool]", { $0.spool }),
            ("[batch]", { $0.batch }),
            ("[resource]", { $0.resource }),
            ("[status]", { $0.status }),
            ("[alerts]", { $0.alerts }),
            ("[mqtt] topic_prefix", { $0.mqtt.topicPrefix }),
            ("the set of uplinks", { Runtime.uplinks(of: $0).map { "\($0.kind) \($0.name)" } }),
            // Read by the spool's policy and the batcher, which the pipeline builds once.
            ("[report] or an input's report table", { configuration in
                let tables = zip(inputKeys(configuration), configuration.inputs).compactMap { key, input in
                    input.report.map { (key, $0) }
                }
                return (configuration.report, tables)
            }),
        ]
        let changed = sections.compactMap { name, section in
            SettingsFingerprint.of(section(old)) == SettingsFingerprint.of(section(new)) ? nil : name
        }
        return changed + (holdingChanged(old, new) ? ["an uplink's budgets, sync windows, metered or aggregate"] : [])
    }

    /// Whether an uplink kept across the reload holds back differently (read once by the spool's policy and the
    /// batcher); a new or removed uplink is already "the set of uplinks".
    private static func holdingChanged(_ old: OutpostConfiguration, _ new: OutpostConfiguration) -> Bool {
        func holding(_ configuration: OutpostConfiguration) -> [String: String] {
            Dictionary(Runtime.uplinks(of: configuration).map { uplink in
                (uplink.name, SettingsFingerprint.of((uplink.settings.delivery.holding,
                                                      uplink.settings.delivery.aggregate)))
            }) { first, _ in first }
        }
        let before = holding(old)
        return holding(new).contains { name, after in before[name].map { $0 != after } ?? false }
    }
}

/// Settings of a part that talks through a `[mqtt.brokers.<name>]`: it restarts when that broker's settings change.
protocol BrokerUser {
    var broker: String { get }
}

extension MQTTInputConfiguration: BrokerUser {}
extension MQTTUplinkSettings: BrokerUser {}
extension MQTTAlertPublisherSettings: BrokerUser {}
