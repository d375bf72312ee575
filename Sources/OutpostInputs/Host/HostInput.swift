import OutpostCore

/// Gateway health: CPU, load, memory, disk, temperatures, uptime, network, Wi-Fi signal and Pi throttling.
///
/// Names follow the OpenTelemetry system and hardware semantic conventions where one exists
/// (`system.cpu.utilization`, `system.memory.usage`, `hw.temperature`, ...); Pi-specific flags are `outpost.rpi.*`.
package enum HostInput: InputKind {
    package static let kind = "host"

    package static func read(_ reader: ConfigReader, context: InputContext) -> (any InputSettings)? {
        HostInputConfiguration.read(reader, context: context)
    }
}

/// Reads the host once per poll. Missing files (no thermal zone, no Wi-Fi) are skipped silently; they are
/// normal on many boards, and a problem is only reported for a file that exists but cannot be parsed.
package struct HostReader: PollingReader {
    package let configuration: HostInputConfiguration
    private var previousCPU: (busy: Double, total: Double)?
    private var series: [String: Series] = [:]

    package init(configuration: HostInputConfiguration) {
        self.configuration = configuration
    }

    package var readDeadline: Duration { configuration.timeout }
    package var readActivity: String { "reading \(configuration.procPath) and \(configuration.sysPath)" }

    package mutating func read(now: Int64) -> [Reading] {
        var readings: [Reading] = []
        let groups = configuration.collect
        if groups.contains(.cpu) { readCPU(now, into: &readings) }
        if groups.contains(.load) { readLoad(now, into: &readings) }
        if groups.contains(.memory) { readMemory(now, into: &readings) }
        if groups.contains(.disk) { readDisk(now, into: &readings) }
        if groups.contains(.temperature) { readTemperatures(now, into: &readings) }
        if groups.contains(.uptime) { readUptime(now, into: &readings) }
        if groups.contains(.network) { readNetwork(now, into: &readings) }
        if groups.contains(.wifi) { readWifi(now, into: &readings) }
        if groups.contains(.throttling) { readThrottling(now, into: &readings) }
        return readings
    }

    // MARK: collectors

    private mutating func readCPU(_ now: Int64, into readings: inout [Reading]) {
        guard let text = optionalFile(configuration.procPath + "/stat", &readings) else { return }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else {
            return readings.append(.problem("\(configuration.procPath)/stat has no aggregate `cpu` line"))
        }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 4 else {
            return readings.append(.problem("\(configuration.procPath)/stat: cannot parse `\(line)`"))
        }
        // user nice system idle iowait irq softirq steal: idle time is idle + iowait.
        let total = fields.prefix(8).reduce(0, +)
        let idle = fields[3] + (fields.count > 4 ? fields[4] : 0)
        defer { previousCPU = (total - idle, total) }
        guard let previous = previousCPU, total > previous.total else { return }
        let utilization = ((total - idle) - previous.busy) / (total - previous.total)
        emit("system.cpu.utilization", unit: "1", value: min(1, max(0, utilization)), now, into: &readings)
    }

    private mutating func readLoad(_ now: Int64, into readings: inout [Reading]) {
        guard let text = optionalFile(configuration.procPath + "/loadavg", &readings) else { return }
        let fields = text.split(separator: " ").prefix(3).compactMap { Double($0) }
        guard fields.count == 3 else {
            return readings.append(.problem("\(configuration.procPath)/loadavg: cannot parse `\(text.trimmingSpaces())`"))
        }
        for (window, value) in zip(["1m", "5m", "15m"], fields) {
            emit("system.cpu.load_average.\(window)", unit: "1", value: value, now, into: &readings)
        }
    }

    private mutating func readMemory(_ now: Int64, into readings: inout [Reading]) {
        guard let text = optionalFile(configuration.procPath + "/meminfo", &readings) else { return }
        var kilobytes: [Substring: Double] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let value = Double(parts[1]) { kilobytes[parts[0].dropLast()] = value }
        }
        guard let total = kilobytes["MemTotal"], let available = kilobytes["MemAvailable"] else {
            return readings.append(.problem("\(configuration.procPath)/meminfo lacks MemTotal or MemAvailable"))
        }
        emit("system.memory.usage", unit: "By", value: (total - available) * 1024, now, into: &readings,
             extra: ["system.memory.state": .string("used")])
        emit("system.linux.memory.available", unit: "By", value: available * 1024, now, into: &readings)
        emit("system.memory.utilization", unit: "1", value: total > 0 ? (total - available) / total : 0, now,
             into: &readings)
    }

    private mutating func readDisk(_ now: Int64, into readings: inout [Reading]) {
        let path = Self.nearestExisting(configuration.diskPath)
        do {
            let space = try SystemFiles.filesystemSpace(path)
            let mount: Attributes = ["system.filesystem.mountpoint": .string(path)]
            var used = mount, free = mount
            used["system.filesystem.state"] = .string("used")
            free["system.filesystem.state"] = .string("free")
            emit("system.filesystem.usage", unit: "By", value: space.total - space.free, now, into: &readings,
                 extra: used)
            emit("system.filesystem.usage", unit: "By", value: space.free, now, into: &readings, extra: free)
            emit("system.filesystem.utilization", unit: "1",
                 value: space.total > 0 ? (space.total - space.free) / space.total : 0, now, into: &readings,
                 extra: mount)
        } catch {
            readings.append(.problem("disk usage: \(error)"))
        }
    }

    private mutating func readTemperatures(_ now: Int64, into readings: inout [Reading]) {
        let thermal = configuration.sysPath + "/class/thermal"
        for zone in SystemFiles.list(thermal)
        where zone.hasPrefix("thermal_zone") && configuration.thermalZones.contains(where: { $0.matches(zone) }) {
            guard let text = optionalFile("\(thermal)/\(zone)/temp", &readings) else { continue }
            guard let millidegrees = Double(text.trimmingSpaces()) else {
                readings.append(.problem("\(thermal)/\(zone)/temp: `\(text.trimmingSpaces())` is not a number"))
                continue
            }
            let type = (try? SystemFiles.read("\(thermal)/\(zone)/type"))?.trimmingSpaces() ?? zone
            emit("hw.temperature", unit: "Cel", value: millidegrees / 1000, now, into: &readings,
                 extra: ["hw.id": .string(zone), "hw.type": .string(type)],
                 source: "\(zone) (\(type), \(thermal)/\(zone)/temp)")
        }
    }

    private mutating func readUptime(_ now: Int64, into readings: inout [Reading]) {
        guard let text = optionalFile(configuration.procPath + "/uptime", &readings) else { return }
        guard let seconds = text.split(separator: " ").first.flatMap({ Double($0) }) else {
            return readings.append(.problem("\(configuration.procPath)/uptime: cannot parse `\(text.trimmingSpaces())`"))
        }
        emit("system.uptime", unit: "s", value: seconds, now, into: &readings)
    }

    private mutating func readNetwork(_ now: Int64, into readings: inout [Reading]) {
        guard let text = optionalFile(configuration.procPath + "/net/dev", &readings) else { return }
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let interface = String(line[..<colon]).trimmingSpaces()
            guard interface != "lo", configuration.interfaces.contains(where: { $0.matches(interface) }) else { continue }
            let fields = line[line.index(after: colon)...].split(separator: " ").compactMap { Double($0) }
            guard fields.count >= 9 else {
                readings.append(.problem("\(configuration.procPath)/net/dev: cannot parse the line for \(interface)"))
                continue
            }
            for (direction, value) in [("receive", fields[0]), ("transmit", fields[8])] {
                emit("system.network.io", unit: "By", kind: .counter, value: value, now, into: &readings,
                     extra: ["network.interface.name": .string(interface), "network.io.direction": .string(direction)])
            }
        }
    }

    private mutating func readWifi(_ now: Int64, into readings: inout [Reading]) {
        guard let text = optionalFile(configuration.procPath + "/net/wireless", &readings) else { return }
        // Two header lines, then `wlan0: 0000   70.  -40.  -256 ...`: status, link quality, level (dBm), noise.
        for line in text.split(separator: "\n").dropFirst(2) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let interface = String(line[..<colon]).trimmingSpaces()
            guard configuration.wifiInterfaces.contains(where: { $0.matches(interface) }) else { continue }
            let fields = line[line.index(after: colon)...].split(separator: " ")
            guard fields.count >= 3, let level = Double(fields[2].filter { $0 != "." }) else {
                readings.append(.problem("\(configuration.procPath)/net/wireless: cannot parse the line for \(interface)"))
                continue
            }
            emit("outpost.wifi.signal", unit: "dBm", value: level, now, into: &readings,
                 extra: ["network.interface.name": .string(interface)])
        }
    }

    private mutating func readThrottling(_ now: Int64, into readings: inout [Reading]) {
        guard !configuration.throttledPath.isEmpty else { return }
        guard let text = optionalFile(configuration.throttledPath, &readings) else { return }
        let digits = text.trimmingSpaces().replacingPrefix("0x")
        guard let flags = Int(digits, radix: 16) else {
            return readings.append(.problem("\(configuration.throttledPath): `\(text.trimmingSpaces())` is not hex"))
        }
        // Raspberry Pi firmware bits: 0 under-voltage, 1 ARM frequency capped, 2 throttled, 3 soft temperature
        // limit; bits 16-19 say the same happened since boot.
        let bits = [("under_voltage", 0), ("frequency_capped", 1), ("throttled", 2), ("soft_temp_limit", 3)]
        for (name, bit) in bits {
            emit("outpost.rpi.\(name)", unit: "1", value: Double((flags >> bit) & 1), now, into: &readings)
            emit("outpost.rpi.\(name).since_boot", unit: "1", value: Double((flags >> (bit + 16)) & 1), now,
                 into: &readings)
        }
    }

    // MARK: helpers

    /// The path itself or its nearest existing ancestor: before the first start creates the state directory, the
    /// filesystem it will live on is still the one to watch.
    static func nearestExisting(_ path: String) -> String {
        var candidate = path
        while !SystemFiles.exists(candidate), let slash = candidate.lastIndex(of: "/") {
            candidate = slash == candidate.startIndex ? "/" : String(candidate[..<slash])
        }
        return candidate.isEmpty ? "/" : candidate
    }

    /// The file's text, or nil when it does not exist (skipped silently) or cannot be read (reported).
    private func optionalFile(_ path: String, _ readings: inout [Reading]) -> String? {
        do {
            return try SystemFiles.read(path)
        } catch {
            if SystemFiles.exists(path) { readings.append(.problem(error.description)) }
            return nil
        }
    }

    /// `source` names where the value came from, for a problem about it (`thermal_zone0 (cpu-thermal, /sys/...)`).
    private mutating func emit(_ name: String, unit: String, kind: SeriesKind = .gauge, value: Double,
                               _ now: Int64, into readings: inout [Reading], extra: Attributes = Attributes(),
                               source: String? = nil) {
        // A kernel file can hold nonsense too (a thermal zone reading -274 °C): never a sample.
        if let problem = Plausibility.problem(with: value, unit: unit) {
            return readings.append(.problem("\(name)\(source.map { " of \($0)" } ?? ""): \(problem); skipped"))
        }
        let key = name + "|" + extra.entries.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let series = self.series[key] ?? {
            var attributes = configuration.attributes
            for (attributeKey, attributeValue) in extra.entries { attributes[attributeKey] = attributeValue }
            let made = Series(name: name, unit: unit, kind: kind, attributes: attributes)
            self.series[key] = made
            return made
        }()
        readings.append(.sample(Sample(series: series, time: now, value: value)))
    }
}

extension String {
    func replacingPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}

extension HostInputConfiguration: InputSettings {
    package var name: String { "host" }
    package var expectedInterval: Duration? { interval }

    package func makeInput(_ resources: InputResources) -> any Input {
        PolledInput(name: name, interval: interval, reader: HostReader(configuration: self), clock: resources.clock,
                    wallClock: resources.wallClock)
    }
}
