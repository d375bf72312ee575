import OutpostInputs

/// What tells this gateway apart from one cloned from the same SD card image, for the default MQTT client id.
///
/// A broker allows one session per client id and disconnects the older connection when a second one uses it
/// (MQTT 5 reason 0x8E, "session taken over"): two gateways with one client id kick each other off for ever. Cloned
/// images keep their host name (so the default gateway id), and often `/etc/machine-id` too; a Raspberry Pi's board
/// serial number never repeats. The suffix is a short hash of both, so the client id says nothing about either.
package enum MachineIdentity {
    /// Where the machine id and the board serial live (systemd's, D-Bus's, the device tree's).
    static let files = ["/etc/machine-id", "/var/lib/dbus/machine-id", "/sys/firmware/devicetree/base/serial-number",
                        "/proc/device-tree/serial-number"]

    /// Eight hex digits from the machine id and the board serial, or nil where neither can be read.
    package static func suffix(files: [String] = files) -> String? {
        let parts = files.compactMap { path -> String? in
            guard let text = try? SystemFiles.read(path, limit: 256) else { return nil }
            let trimmed = text.filter { $0 != "\0" }.trimmingSpaces()
            return trimmed.isEmpty ? nil : trimmed
        }
        guard !parts.isEmpty else { return nil }
        var hash: UInt32 = 2_166_136_261
        for byte in parts.joined(separator: "\n").utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Host names fresh images ship with: a gateway id left at one of them is probably shared with other gateways.
    package static let defaultHostNames: Set<String> = [
        "raspberrypi", "localhost", "debian", "ubuntu", "dietpi", "orangepi", "armbian", "rockpi", "pi", "alarm",
        "kali", "beaglebone", "nanopi", "rock64", "odroid",
    ]
}
