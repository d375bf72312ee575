import OutpostCore

/// `[input.host]`: the gateway's own health from `/proc` and `/sys`.
public struct HostInputConfiguration: Sendable {
    public enum Group: String, Sendable, CaseIterable {
        case cpu, load, memory, disk, temperature, uptime, network, wifi, throttling
    }

    /// `interval`, default `"10s"`.
    public var interval: Duration = .seconds(10)
    /// `proc_path`, default `"/proc"`: where procfs is mounted (tests point it at a fake tree).
    public var procPath = "/proc"
    /// `sys_path`, default `"/sys"`.
    public var sysPath = "/sys"
    /// `disk_path`, default: the state directory. Disk usage is reported for the filesystem holding it (or, before
    /// it exists, its nearest existing parent).
    public var diskPath = ""
    /// `collect`, default all: any of cpu, load, memory, disk, temperature, uptime, network, wifi, throttling.
    public var collect = Set(Group.allCases)
    /// `interfaces`, default `["*"]`: globs of network interfaces to report; `lo` is always left out.
    public var interfaces = [Glob("*")]
    /// `throttled_path`, default `"<sys_path>/devices/platform/soc/soc:firmware/get_throttled"`: the Raspberry Pi
    /// firmware's throttling flags; skipped silently where the file does not exist.
    public var throttledPath = ""
    /// `device`, `location`, `attributes`: added to every host series.
    public var attributes = Attributes()

    public init() {}

    static func read(_ reader: ConfigReader, context: InputContext) -> HostInputConfiguration {
        var configuration = HostInputConfiguration()
        configuration.interval = reader.positiveDuration("interval", default: configuration.interval)
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
        configuration.throttledPath = context.resolve(reader.string(
            "throttled_path", default: configuration.sysPath + "/devices/platform/soc/soc:firmware/get_throttled"))
        configuration.attributes.set("device", ifPresent: reader.string("device"))
        configuration.attributes.set("location", ifPresent: reader.string("location"))
        for (key, value) in reader.stringMap("attributes") { configuration.attributes[key] = .string(value) }
        reader.finish()
        return configuration
    }
}
