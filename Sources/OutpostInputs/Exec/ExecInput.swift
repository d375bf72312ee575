import OutpostCore

/// Numbers from a command's output: a plain number, `key=value` lines, or JSON fields.
package enum ExecInput: InputKind {
    package static let kind = "exec"

    package static func read(_ reader: ConfigReader, context: InputContext) -> (any InputSettings)? {
        ExecInputConfiguration.read(reader)
    }
}

/// Runs the command once per poll, through the `CommandSupervisor` (no reader thread waits for it; the timeout covers
/// the whole run). A failure (cannot start, non-zero exit, timeout, nothing parsable) raises one
/// `outpost.sensor.fault` per run of identical failures; fields that are present still produce samples. A value
/// that cannot be true (NaN, ±Inf, outside its unit's physical range) is a skipped `problem` and one
/// `outpost.sensor.fault` per field and run, never a sample; keys beyond `max_series` are refused and counted.
package struct ExecReader: AsyncPollingReader {
    package let configuration: ExecInputConfiguration
    private var series: SeriesTable
    private var faults = FaultLatch()
    private var valueFaults = FaultLatches()

    package init(configuration: ExecInputConfiguration) {
        self.configuration = configuration
        self.series = configuration.seriesTable
    }

    package mutating func read(now: Int64) async -> [Reading] {
        let result = await CommandSupervisor.shared.run(configuration.command, timeout: configuration.timeout,
                                                        maxOutput: configuration.maxOutput)
        // Outpost is stopping: the command was killed, and there is nothing to say about it.
        if result.cancelled { return [] }
        if let failure = Self.failure(of: result, timeout: configuration.timeout) {
            return fault(failure, now: now)
        }
        let parsed = parse(result.standardOutput)
        if parsed.values.isEmpty && parsed.invalid.isEmpty {
            return fault(parsed.problems.first ?? "no numbers in the output", now: now)
        }
        faults.clear()
        var refused: [String] = []
        var readings = parsed.values.flatMap { field, value in
            reading(field: field, value: value, now: now, refused: &refused)
        }
        for (field, reason) in parsed.invalid {
            readings += invalid(field: field, reason: reason, now: now, refused: &refused)
        }
        if let problem = series.refusal(configuration.identity.name, keys: refused) {
            readings.append(.problem(problem))
        }
        return readings + parsed.problems.map { .problem("\(configuration.identity.name): \($0)") }
            + series.takeForgotten()
    }

    /// A field whose text cannot be a number (`nan`, `1e999`): a skipped problem and a latched fault.
    private mutating func invalid(field: String, reason: String, now: Int64, refused: inout [String]) -> [Reading] {
        let configuration = configuration
        guard let series = series.series(for: field, now: now, make: {
            Self.makeSeries(field, configuration: configuration)
        }) else {
            refused.append(field)
            return []
        }
        let skipped = Reading.problem("\(configuration.identity.name): \(field): \(reason); skipped")
        guard valueFaults.shouldReport(reason, for: field) else { return [skipped] }
        return [skipped, .event(faultEvent("\(field): \(reason)", series: series, now: now))]
    }

    /// A sample; a problem and a latched fault when the value cannot be true; nothing (noted in `refused`) past
    /// `max_series`.
    private mutating func reading(field: String?, value: Double, now: Int64, refused: inout [String]) -> [Reading] {
        let name = configuration.identity.name
        let configuration = configuration
        guard let series = series.series(for: field ?? "", now: now, make: {
            Self.makeSeries(field, configuration: configuration)
        }) else {
            refused.append(field ?? name)
            return []
        }
        let key = field ?? ""
        guard let problem = Plausibility.problem(with: value, unit: series.unit) else {
            valueFaults.clear(key)
            return [.sample(Sample(series: series, time: now, value: value))]
        }
        let reason = (field.map { "\($0): " } ?? "") + problem
        let skipped = Reading.problem("\(name): \(reason); skipped")
        guard valueFaults.shouldReport(problem, for: key) else { return [skipped] }
        return [skipped, .event(faultEvent(reason, series: series, now: now))]
    }

    /// What one run printed, parsed: readings (field nil for the `number` format), fields whose text cannot be a
    /// number (`nan`, `1e999`: problems and faults), and other problems.
    package struct ParsedOutput: Sendable {
        package var values: [(String?, Double)] = []
        package var invalid: [(field: String, reason: String)] = []
        package var problems: [String] = []
    }

    package func parse(_ output: String) -> ParsedOutput {
        let extraction = configuration.extraction
        var parsed = ParsedOutput()
        switch configuration.format {
        case .number:
            guard let value = extraction.extract(from: output) else {
                parsed.problems = ["no number in `\(output.trimmingSpaces().prefix(60))`"]
                return parsed
            }
            parsed.values = [(nil, value)]
        case .keyValue:
            for line in output.split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                let raw = String(line[..<equals]).trimmingSpaces()
                let text = String(line[line.index(after: equals)...].trimmingSpacesSubstring())
                guard configuration.fields.isEmpty || configuration.fields.contains(raw) else { continue }
                let field = MetricName.field(raw)
                // The number syntax of JSON (`JSONReadingRule`): never hexadecimal; `nan` and `inf` are faults.
                if JSONReadingRule.isNonFiniteWord(text) {
                    parsed.invalid.append((field, "`\(text)` is not a number"))
                } else if JSONReadingRule.isStrictDecimal(text), let number = Double(text) {
                    if number.isFinite {
                        parsed.values.append((field, number * extraction.scale + extraction.offset))
                    } else {
                        parsed.invalid.append((field, "`\(text.prefix(40))` is beyond a double's range"))
                    }
                }
            }
            if parsed.values.isEmpty && parsed.invalid.isEmpty {
                parsed.problems = ["no `key=number` lines in the output"]
            }
        case .json:
            parsed = parseJSON(output)
        }
        return parsed
    }

    /// JSON under the one rule every JSON input follows (`JSONReadingRule`): the same document makes the same series
    /// here as through MQTT.
    private func parseJSON(_ output: String) -> ParsedOutput {
        var parsed = ParsedOutput()
        let document: JSONValue
        do {
            document = try JSONValue.parse(output)
        } catch {
            parsed.problems = [error.description]
            return parsed
        }
        let found = configuration.json.values(of: document, fields: configuration.fields)
        let extraction = configuration.extraction
        parsed.values = found.readings.map { (Optional($0.field), $0.value * extraction.scale + extraction.offset) }
        parsed.invalid = found.problems
        parsed.problems = found.missing.map { "field `\($0)` is missing or not a number" }
        return parsed
    }

    private static func failure(of result: CommandResult, timeout: Duration) -> String? {
        if let launchError = result.launchError { return launchError }
        if result.timedOut { return "timed out after \(timeout) and was killed" }
        if let status = result.exitStatus, status != 0 {
            let detail = result.standardError.trimmingSpaces().prefix(200)
            return "exited with status \(status)" + (detail.isEmpty ? "" : ": \(detail)")
        }
        return nil
    }

    private mutating func fault(_ reason: String, now: Int64) -> [Reading] {
        guard faults.shouldReport(reason) else { return [] }
        return [.event(faultEvent("command failed: \(reason)", series: nil, now: now))]
    }

    private func faultEvent(_ reason: String, series: Series?, now: Int64) -> Event {
        var attributes = Attributes()
        attributes["outpost.series"] = .string(configuration.identity.name)
        attributes["outpost.input"] = .string("exec")
        attributes["outpost.command"] = .string(configuration.command.joined(separator: " "))
        attributes["outpost.fault"] = .string(reason)
        return Event(name: .sensorFault, severity: .warn, time: now, series: series,
                     message: "\(configuration.identity.name): \(reason)", attributes: attributes)
    }

    private static func makeSeries(_ field: String?, configuration: ExecInputConfiguration) -> Series {
        let unit = field.flatMap { configuration.units[$0] } ?? configuration.identity.unit
        return configuration.identity.series(suffix: field, unit: unit)
    }
}

extension ExecInputConfiguration: InputSettings {
    package var name: String { identity.name }
    package var expectedInterval: Duration? { interval }

    package func makeInput(_ resources: InputResources) -> any Input {
        AsyncPolledInput(name: name, interval: interval, reader: ExecReader(configuration: self),
                         clock: resources.clock, wallClock: resources.wallClock)
    }
}
