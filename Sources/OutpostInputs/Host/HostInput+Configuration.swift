import OutpostCore

/// `[input.host]`: the gateway's own health from `/proc` and `/sys`.
package struct HostInputConfiguration: Sendable {
    package enum Group: String, Sendable, CaseIterable {
        case cpu, load, memory, disk, temperature, uptime, network, wifi, throttling
    }

    /// `interval`, default `"10s"`.
    package var interval: Duration = .seconds(10)
    /// `timeout`, default `"5s"`: one read of every host file; a read that takes longer (a sysfs file of a hung
    /// device) is given up on and reported as a fault, and the input is skipped until it returns.
    package var timeout: Duration = .seconds(5)
    /// `proc_path`, default `"/proc"`: where procfs is mounted (tests point it at a fake tree).
    package var procPath = "/proc"
    /// `sys_path`, default `"/sys"`.
    package var sysPath = "/sys"
    /// `disk_path`, default: the state directory. Disk usage is reported for the filesystem holding it (or, before
    /// it exists, its nearest existing parent).
    package var diskPath = ""
    /// `collect`, default all: any of cpu, load, memory, disk, temperature, uptime, network, wifi, throttling.
    package var collect = Set(Group.allCases)
    /// `interfaces`, default `["*"]`: globs of network interfaces to report; `lo` is always left out.
    package var interfaces = [Glob("*")]
    /// `thermal_zones`, default the board's (`["thermal_zone0"]` on a Pi), else `["*"]`: globs of the
    /// `<sys_path>/class/thermal` zones to report.
    package var thermalZones = [Glob("*")]
    /// `wifi_interfaces`, default the board's (`["wlan0"]` on a Pi), else `["*"]`: globs of the interfaces in
    /// `<proc_path>/net/wireless` to report.
    package var wifiInterfaces = [Glob("*")]
    /// `throttled_path`, default `"<sys_path>/<the board's throttled_file>"`, without a board
    /// `"<sys_path>/devices/platform/soc/soc:firmware/get_throttled"`: the Raspberry Pi firmware's throttling flags;
    /// skipped silently where the file does not exist, and not read at all when empty.
    package var throttledPath = ""
    /// `device`, `location`, `attributes`: added to every host series.
    package var attributes = Attributes()

    package init() {}

    static func read(_ reader: ConfigReader, context: InputContext) -> HostInputConfiguration {
        var configuration = HostInputConfiguration()
        configuration.interval = reader.positiveDuration("interval", default: configuration.interval)
        configuration.timeout = reader.positiveDuration("timeout", default: configuration.timeout)
        configuration.procPath = context.resolve(reader.string("proc_path", default: configuration.procPath))
        configuration.sysPath = context.resolve(reader.string("sys_path", default: configuration.sysPath))
        configuration.diskPath = context.resolve(reader.string("disk_path", default: context.stateDirectory))
        if let groups = reader.strings("collect") {
            configuration.collect = Set(groups.compactMap(Group.init(rawValue:)))
            for group in groups where Group(rawValue: group) == nil {
                let allowed = Group.allCases.map(\.rawValue).joined(separator: ", ")
                reader.invalid("collect", "`\(group)` is not a host group; choose from \(allowed)")
            }
        }
        configuration.interfaces = reader.strings("interfaces")?.map(Glob.init) ?? configuration.interfaces
        let board = context.hostDefaults
        configuration.thermalZones = (reader.strings("thermal_zones") ?? board.thermalZones)?.map(Glob.init)
            ?? configuration.thermalZones
        configuration.wifiInterfaces = (reader.strings("wifi_interfaces") ?? board.wifiInterfaces)?.map(Glob.init)
            ?? configuration.wifiInterfaces
        let throttledFile = board.throttledFile ?? "devices/platform/soc/soc:firmware/get_throttled"
        let throttled = reader.string("throttled_path",
                                      default: throttledFile.isEmpty ? "" : configuration.sysPath + "/" + throttledFile)
        configuration.throttledPath = throttled.isEmpty ? "" : context.resolve(throttled)
        configuration.attributes.set("device", ifPresent: reader.string("device"))
        configuration.attributes.set("location", ifPresent: reader.string("location"))
        for (key, value) in reader.stringMap("attributes") { configuration.attributes[key] = .string(value) }
        reader.finish()
        return configuration
    }
}

/// What a board file's `[health]` says about where its health data lives: defaults of `[input.host]`.
package struct HostBoardDefaults: Sendable, Equatable {
    package var thermalZones: [String]?
    /// Relative to `sys_path`; empty: the board has no throttling flags.
    package var throttledFile: String?
    package var wifiInterfaces: [String]?

    package init(thermalZones: [String]? = nil, throttledFile: String? = nil, wifiInterfaces: [String]? = nil) {
        self.thermalZones = thermalZones
        self.throttledFile = throttledFile
        self.wifiInterfaces = wifiInterfaces
    }
}
