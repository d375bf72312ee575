#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A hwmon chip found by what it is, not by where the kernel numbered it.
///
/// `/sys/class/hwmon/hwmonN` numbers chips in the order their drivers loaded: after a reboot, a module loaded in
/// another order, or a sensor that dropped off its bus and came back, `hwmon2` may be another chip, and a path
/// written with the index would splice two sensors into one series. The chip's `name` file and its `device` link
/// (the bus address, `1-0048`) do not move: `hwmon = "lm75"` (or `"lm75@1-0048"` when two chips share a name)
/// finds the folder again on every read where the numbering changed.
package struct HwmonChip: Sendable, Equatable {
    /// The chip's `name`.
    package let name: String
    /// The basename of its `device` link, when given.
    package let device: String?
    /// `<sys_path>/class/hwmon`.
    package let root: String

    /// `lm75` or `lm75@1-0048`.
    package init?(_ spec: String, sysPath: String) {
        let parts = spec.split(separator: "@", maxSplits: 1).map(String.init)
        guard let name = parts.first, !name.isEmpty, parts.count < 2 || !parts[1].isEmpty else { return nil }
        self.name = name
        self.device = parts.count == 2 ? parts[1] : nil
        self.root = sysPath + "/class/hwmon"
    }

    package var description: String { device.map { "\(name)@\($0)" } ?? name }

    /// The chip's folder now, or why it cannot be told.
    package func locate() -> Result<String, SystemFileError> {
        var found: [(folder: String, device: String)] = []
        var others: [String] = []
        for entry in SystemFiles.list(root) {
            let folder = root + "/" + entry
            let chip = (try? SystemFiles.read(folder + "/name", limit: 256))?.trimmingSpaces() ?? ""
            let bus = Self.deviceName(folder)
            guard chip == name, device == nil || device == bus else {
                if !chip.isEmpty { others.append(bus.isEmpty ? chip : "\(chip)@\(bus)") }
                continue
            }
            found.append((folder, bus))
        }
        if found.count == 1 { return .success(found[0].folder) }
        if found.isEmpty {
            return .failure(SystemFileError(path: root, reason: "no hwmon chip `\(description)` (there are: "
                + (others.isEmpty ? "none" : others.sorted().joined(separator: ", ")) + ")"))
        }
        return .failure(SystemFileError(path: root, reason: "\(found.count) hwmon chips are named `\(name)` ("
            + found.map(\.device).sorted().joined(separator: ", ") + "): write hwmon = \"\(name)@<device>\""))
    }

    /// Whether `folder` still is this chip (the cheap check before each read of a remembered folder).
    package func isStill(_ folder: String) -> Bool {
        let chip = (try? SystemFiles.read(folder + "/name", limit: 256))?.trimmingSpaces()
        return chip == name && (device == nil || device == Self.deviceName(folder))
    }

    /// The last part of where `<folder>/device` points (`../../../1-0048`), or "" for a chip without one.
    static func deviceName(_ folder: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(folder + "/device", &buffer, buffer.count - 1)
        guard count > 0 else { return "" }
        let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.split(separator: "/").last.map(String.init) ?? ""
    }
}
