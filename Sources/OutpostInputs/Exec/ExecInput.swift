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
        let (values, problems) = parse(result.standardOutput)
        if values.isEmpty {
            return fault(problems.first ?? "no numbers in the output", now: now)
        }
        faults.clear()
        var refused: [String] = []
        var readings = values.flatMap { field, value in
            reading(field: field, value: value, now: now, refused: &refused)
        }
        if let problem = series.refusal(configuration.identity.name, keys: refused) {
            readings.append(.problem(problem))
        }
        return readings + problems.map { .problem("\(configuration.identity.name): \($0)") } + series.takeForgotten()
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

    /// Parses the output into (field, value) pairs; field is nil for the `number` format.
    package func parse(_ output: String) -> ([(String?, Double)], [String]) {
        let extraction = configuration.extraction
        switch configuration.format {
        case .number:
            guard let value = extraction.extract(from: output) else {
                return ([], ["no number in `\(output.trimmingSpaces().prefix(60))`"])
            }
            return ([(nil, value)], [])
        case .keyValue:
            var values: [(String?, Double)] = []
            for line in output.split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                let key = String(line[..<equals]).trimmingSpaces()
                guard configuration.fields.isEmpty || configuration.fields.contains(key),
                    let number = Double(line[line.index(after: equals)...].trimmingSpacesSubstring())
                else { continue }
                values.append((key, number * extraction.scale + extraction.offset))
            }
            return (values, values.isEmpty ? ["no `key=number` lines in the output"] : [])
        case .json:
            return parseJSON(output)
        }
    }

    private func parseJSON(_ output: String) -> ([(String?, Double)], [String]) {
        let document: JSONValue
        do {
            document = try JSONValue.parse(output)
        } catch {
            return ([], [error.description])
        }
        var paths = configuration.fields
        if paths.isEmpty, case .object(let members) = document {
            paths = members.filter { $0.1.numericValue != nil }.map(\.0)
        }
        var values: [(String?, Double)] = []
        var problems: [String] = []
        for path in paths {
            guard let number = document.value(atPath: path)?.numericValue else {
                problems.append("field `\(path)` is missing or not a number")
                continue
            }
            values.append((path, number * configuration.extraction.scale + configuration.extraction.offset))
        }
        return (values, problems)
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
