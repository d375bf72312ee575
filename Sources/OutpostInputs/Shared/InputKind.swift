import OutpostCore
import OutpostMQTT
import Synchronization

/// What an input kind may consult while its table is read (nothing live: no clocks, no clients).
package struct InputContext: Sendable {
    /// The state directory, whose filesystem the host input reports on.
    package let stateDirectory: String
    /// The folder of the config file, against which relative paths in it resolve.
    package let configDirectory: String
    /// The names of the configured `[mqtt.brokers.<name>]`, for the MQTT input to check its `broker`.
    package let brokers: Set<String>
    /// The `gateway.board`'s health locations, defaults of `[input.host]`.
    package let hostDefaults: HostBoardDefaults
    /// The `gateway.board`'s RS-485 serial device, the default `device` of `[[input.modbus]]`.
    package let rs485Device: String?
    /// What the tables read so far claimed, for checks across tables of one config.
    package let claims = InputClaims()

    package init(stateDirectory: String, configDirectory: String, brokers: Set<String> = [],
                 hostDefaults: HostBoardDefaults = HostBoardDefaults(), rs485Device: String? = nil) {
        self.stateDirectory = stateDirectory
        self.configDirectory = configDirectory
        self.brokers = brokers
        self.hostDefaults = hostDefaults
        self.rs485Device = rs485Device
    }

    /// `path` as written in the config, made absolute against the config's folder.
    package func resolve(_ path: String) -> String {
        ConfigFolder.resolve(path, in: configDirectory)
    }
}

/// Claims made by the input tables of one config, for what must agree across tables: every Modbus device on one
/// serial line names the same line settings.
package final class InputClaims: Sendable {
    private let claims = Mutex<[String: (value: String, location: ConfigLocation?)]>([:])

    package init() {}

    /// Records `value` for `key` when it is the first claim; otherwise returns the first claim (to compare).
    package func claim(_ key: String, value: String, at location: ConfigLocation?)
        -> (value: String, location: ConfigLocation?)?
    {
        claims.withLock { claims in
            if let first = claims[key] { return first }
            claims[key] = (value, location)
            return nil
        }
    }
}

/// What the runtime hands an input at start, when it builds the live input from its settings.
package struct InputResources: Sendable {
    /// Drives polling; tests pass a manual clock.
    package let clock: any Clock<Duration>
    /// Stamps samples: the runtime's sync-aware clock, whose provisional stamps the sample gate holds.
    package let wallClock: any WallClock
    /// One client per broker, created at start.
    package let mqtt: MQTTConnections?

    package init(clock: any Clock<Duration> = ContinuousClock(), wallClock: any WallClock = SystemWallClock(),
                 mqtt: MQTTConnections? = nil) {
        self.clock = clock
        self.wallClock = wallClock
        self.mqtt = mqtt
    }
}

/// One input's configuration as plain values, checked once when the config is read. `makeInput` builds the live
/// input (its clients, its reader state) when the runtime starts, never while the config is only read.
package protocol InputSettings: Sendable {
    /// The operator's name for the input, used in logs and status.
    var name: String { get }
    /// How often it produces a sample per series, when it is periodic; staleness rules use it.
    var expectedInterval: Duration? { get }
    /// How the input reports silence itself, once per device rather than once per series (`3 polls without an
    /// answer`), for `outpost check`; nil (the default) when detection watches each series (`stale_after`).
    var deviceSilence: String? { get }
    func makeInput(_ resources: InputResources) throws -> any Input
}

extension InputSettings {
    package var deviceSilence: String? { nil }
}

/// One input kind: its config table name (`[[input.<kind>]]`) and how to read its settings from that table.
///
/// The runtime keeps one list of these; adding an input kind adds one line there.
package protocol InputKind {
    static var kind: String { get }
    /// Reads and validates the table, reporting problems to the reader's diagnostics; nil when unusable.
    static func read(_ reader: ConfigReader, context: InputContext) -> (any InputSettings)?
}
