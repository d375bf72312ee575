/// A canonical text of a settings value, so a reload can tell which parts of the configuration changed.
///
/// Settings are plain values (`InputSettings`, `UplinkSettings`, the sections' structs), held as existentials the
/// runtime cannot compare with `==`. Their reflection can: every stored property, nested values and dictionaries
/// (sorted, so two equal dictionaries read the same whatever their insertion order). A new input or uplink kind
/// needs nothing to take part. Two settings with the same fingerprint build the same live part; a part whose
/// fingerprint changed is restarted.
enum SettingsFingerprint {
    static func of(_ value: Any) -> String {
        var text = ""
        write(value, into: &text, depth: 0)
        return text
    }

    /// Deep enough for any settings struct; a guard against a cycle through a class, never reached in practice.
    private static let maximumDepth = 32

    private static func write(_ value: Any, into text: inout String, depth: Int) {
        let mirror = Mirror(reflecting: value)
        guard depth < maximumDepth, !mirror.children.isEmpty else {
            text += String(reflecting: value)
            return
        }
        switch mirror.displayStyle {
        case .dictionary, .set:
            let entries = mirror.children.map { child -> String in
                var entry = ""
                write(child.value, into: &entry, depth: depth + 1)
                return entry
            }.sorted()
            text += "[" + entries.joined(separator: ",") + "]"
        default:
            text += "\(mirror.subjectType)("
            for child in mirror.children {
                text += (child.label ?? "_") + ":"
                write(child.value, into: &text, depth: depth + 1)
                text += ","
            }
            text += ")"
        }
    }
}
