/// One metric family for the local endpoint's `/metrics`: a name, help, type and samples with labels.
package struct MetricFamily: Sendable, Equatable {
    package enum Kind: String, Sendable {
        case counter, gauge, summary
    }

    package struct Sample: Sendable, Equatable {
        /// Appended to the family's name (`_sum`, `_count` for a summary), else empty.
        package var suffix: String
        package var labels: [Label]
        package var value: Double

        package init(suffix: String = "", labels: [Label] = [], value: Double) {
            self.suffix = suffix
            self.labels = labels
            self.value = value
        }
    }

    package struct Label: Sendable, Equatable {
        package var name: String
        package var value: String

        package init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    package var name: String
    package var help: String
    package var kind: Kind
    package var samples: [Sample]

    package init(_ name: String, _ kind: Kind, help: String, samples: [Sample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
    }
}

/// Writes metric families in the Prometheus text exposition format, version 0.0.4 (Prometheus docs, "Exposition
/// formats": `# HELP`, `# TYPE`, one `name{label="value"} number` line per sample; in HELP `\` and newline are
/// escaped, in label values `\`, `"` and newline).
package enum PrometheusText {
    package static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    package static func render(_ families: [MetricFamily]) -> String {
        var text = ""
        for family in families where !family.samples.isEmpty {
            let name = metricName(family.name)
            text += "# HELP \(name) \(escapeHelp(family.help))\n"
            text += "# TYPE \(name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                text += name + sample.suffix
                if !sample.labels.isEmpty {
                    text += "{" + sample.labels.map { "\(labelName($0.name))=\"\(escapeLabel($0.value))\"" }
                        .joined(separator: ",") + "}"
                }
                text += " " + number(sample.value) + "\n"
            }
        }
        return text
    }

    /// A metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`; anything else becomes `_`.
    package static func metricName(_ name: String) -> String {
        sanitized(name, allowingColon: true)
    }

    /// A label name: `[a-zA-Z_][a-zA-Z0-9_]*` (`sensor.id` becomes `sensor_id`).
    package static func labelName(_ name: String) -> String {
        sanitized(name, allowingColon: false)
    }

    private static func sanitized(_ name: String, allowingColon: Bool) -> String {
        var result = ""
        for (index, scalar) in name.unicodeScalars.enumerated() {
            let letter = ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
                || (allowingColon && scalar == ":")
            let digit = ("0"..."9").contains(scalar)
            result.unicodeScalars.append(letter || (digit && index > 0) ? scalar : "_")
        }
        return result.isEmpty ? "_" : result
    }

    private static func escapeHelp(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
    }

    private static func escapeLabel(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
    }

    /// Go's `strconv.ParseFloat` forms, which the format names: `+Inf`, `-Inf`, `NaN`, else the shortest decimal.
    private static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
