import OutpostCore

/// Values of a Modbus device's registers, read every `interval` over TCP or an RS-485 line (libmodbus).
///
/// Each poll sends the device's requests through its lane (`ModbusLane`: one request at a time per serial bus or TCP
/// server) under one deadline for the whole poll. What the device answers becomes samples, plus two health series
/// (`<name>.modbus.response_time`, `<name>.modbus.errors`); what it refuses becomes `outpost.sensor.fault` naming the
/// registers and the exception; a device that stops answering is `outpost.device.stale` once, and
/// `outpost.device.recovered` when it answers again. One failing device or register never stops the others.
package struct ModbusInput: Input, InputKind {
    package static let kind = "modbus"
    package let configuration: ModbusInputConfiguration
    private let clock: any Clock<Duration>
    private let wallClock: any WallClock

    package var name: String { configuration.name }
    package var interval: Duration? { configuration.interval }

    package static func read(_ reader: ConfigReader, context: InputContext) -> (any InputSettings)? {
        ModbusInputConfiguration.read(reader, context: context)
    }

    package init(configuration: ModbusInputConfiguration, clock: any Clock<Duration>, wallClock: any WallClock) {
        self.configuration = configuration
        self.clock = clock
        self.wallClock = wallClock
    }

    package func run(into sink: any ReadingSink) async throws {
        let lane = ModbusLanes.lane(for: configuration.endpoint)
        lane.attach()
        defer { lane.detach() }
        try await Self.loop(clock: clock, configuration: configuration, lane: lane, wallClock: wallClock, sink: sink)
    }

    private static func loop<C: Clock<Duration>>(clock: C, configuration: ModbusInputConfiguration, lane: ModbusLane,
                                                 wallClock: any WallClock, sink: any ReadingSink) async throws {
        var reader = ModbusReader(configuration: configuration)
        var schedule = TickSchedule<C>(startingAt: clock.now, every: configuration.interval)
        let endpoint = configuration.endpoint, unit = configuration.unitID, timeout = configuration.timeout
        while !Task.isCancelled {
            let now = wallClock.nowNanos()
            let requests = reader.requests
            let outcome = await lane.run(endpoint: endpoint, label: reader.label, deadline: reader.deadline) {
                ModbusReader.poll(requests, unit: unit, timeout: timeout, on: $0)
            }
            if case .cancelled = outcome { return }
            let readings = reader.readings(for: outcome, now: now)
            if !readings.isEmpty { await sink.accept(readings) }
            try await clock.sleep(until: schedule.advance(now: clock.now), tolerance: nil)
        }
    }
}

/// What one read of a poll returned, and how long it took.
package struct ModbusReadResult: Sendable {
    package let result: Result<ModbusPayload, ModbusFailure>
    /// From sending the request to the end of the answer (or of the wait), in nanoseconds.
    package let nanos: Int64

    package init(_ result: Result<ModbusPayload, ModbusFailure>, nanos: Int64) {
        self.result = result
        self.nanos = nanos
    }
}

/// One device's reading state: its requests, its series, its health and fault latches. The blocking part
/// (`poll`) runs on the lane; turning its results into readings (`readings(for:now:)`) is pure, so it is tested
/// (and fuzzed) with any results at all.
package struct ModbusReader: Sendable {
    package let configuration: ModbusInputConfiguration
    /// The reads of one poll; a bridged read the device refuses with exception 0x02 is replaced by one per value.
    package private(set) var requests: [ModbusRequest]
    /// `meter (tcp 10.0.0.5:502 unit 1)`, naming the device in every message.
    package let label: String
    /// Requests that failed since the start (the `errors` series).
    package private(set) var errors = 0
    private let valueSeries: [Series]
    private let responseTime: Series
    private let errorCount: Series
    /// The device itself, for device-level events (`outpost.device.stale`): series `<name>`, never sampled.
    private let deviceSeries: Series
    private var health: ModbusDeviceHealth
    private var faults = FaultLatches()

    package init(configuration: ModbusInputConfiguration) {
        self.configuration = configuration
        requests = ModbusRequestPlanner.plan(configuration.registers, maxGap: configuration.maxGap,
                                             maxRegisters: configuration.maxRegisters)
        label = "\(configuration.name) (\(configuration.endpoint) unit \(configuration.unitID))"
        valueSeries = configuration.registers.map { register in
            var attributes = configuration.attributes
            for (key, value) in register.attributes.entries { attributes[key] = value }
            return Series(name: "\(configuration.name).\(register.name)", unit: register.unit, kind: register.kind,
                          attributes: attributes)
        }
        responseTime = Series(name: "\(configuration.name).modbus.response_time", unit: "s",
                              attributes: configuration.attributes)
        errorCount = Series(name: "\(configuration.name).modbus.errors", unit: "{error}", kind: .counter,
                            attributes: configuration.attributes)
        deviceSeries = Series(name: configuration.name, unit: "", attributes: configuration.attributes)
        health = ModbusDeviceHealth(staleAfter: configuration.staleAfter)
    }

    /// The poll's deadline for the whole operation: `timeout` per request, plus one for connecting.
    package var deadline: Duration { configuration.timeout * (requests.count + 1) }

    /// Sends `requests` one after the other (blocking, on the lane). A device that does not answer one is not asked
    /// the rest: a silent device costs one timeout per poll, not one per request.
    package static func poll(_ requests: [ModbusRequest], unit: Int, timeout: Duration,
                             on connection: ModbusConnection) -> [ModbusReadResult] {
        var results: [ModbusReadResult] = []
        for request in requests {
            let started = ModbusMonotonic.nanos()
            let result = connection.read(request, unit: unit, timeout: timeout)
            results.append(ModbusReadResult(result, nanos: ModbusMonotonic.nanos() - started))
            if case .failure(let failure) = result, failure.endsPoll { break }
        }
        return results
    }

    /// The samples, problems and events of one poll at `now`.
    package mutating func readings(for outcome: ModbusLane.Outcome<[ModbusReadResult]>, now: Int64) -> [Reading] {
        let results: [ModbusReadResult]
        switch outcome {
        case .done(let done): results = done
        case .deadlinePassed: return pollFailed(.deadline(deadline), now: now)
        case .busy(let holder): return pollFailed(.busy(holder), now: now)
        case .cancelled: return []
        }
        var readings: [Reading] = []
        var answered = false
        var times: [Int64] = []
        var refusedBridges: [Int] = []
        for (index, read) in zip(requests.indices, results) {
            let request = requests[index]
            switch read.result {
            case .success(let payload):
                answered = true
                times.append(read.nanos)
                faults.clear(Self.key(request))
                readings += values(of: request, payload: payload, now: now)
            case .failure(let failure):
                errors += 1
                if failure.deviceAnswered {
                    answered = true
                    times.append(read.nanos)
                }
                if failure.exceptionCode == 0x02, request.values.count > 1 {
                    refusedBridges.append(index)
                    readings.append(.problem("\(label): \(request.place) refused as one read (\(failure)); reading its "
                        + "\(request.values.count) values one by one from now on"))
                } else if failure.exceptionCode != nil {
                    // A gateway's 0x0A and 0x0B are faults too; they also count as the device not answering.
                    readings += refused(request, failure: failure, now: now)
                } else {
                    readings.append(.problem("\(label): \(request.place): \(failure)"))
                }
            }
        }
        splitRequests(at: refusedBridges)
        readings += healthReadings(answered: answered, times: times, failure: Self.silence(in: results), now: now)
        return readings
    }

    /// The whole poll failed before any answer (deadline, busy line).
    private mutating func pollFailed(_ failure: ModbusFailure, now: Int64) -> [Reading] {
        errors += 1
        return [.problem("\(label): \(failure)")]
            + healthReadings(answered: false, times: [], failure: failure, now: now)
    }

    private static func silence(in results: [ModbusReadResult]) -> ModbusFailure? {
        for read in results {
            if case .failure(let failure) = read.result, !failure.deviceAnswered { return failure }
        }
        return nil
    }

    /// Samples of the values one answered read carries; a value that cannot be true is a problem and a fault.
    private mutating func values(of request: ModbusRequest, payload: ModbusPayload, now: Int64) -> [Reading] {
        var readings: [Reading] = []
        for index in request.values {
            let register = configuration.registers[index]
            let offset = register.address - request.start
            let value: Double
            switch payload {
            case .words(let words):
                let end = offset + register.type.registerCount
                guard offset >= 0, end <= words.count else { continue }
                value = ModbusDecoder.value(register, words: words[offset..<end])
            case .bits(let bits):
                guard offset >= 0, offset < bits.count else { continue }
                value = ModbusDecoder.value(register, bit: bits[offset])
            }
            let key = "value \(index)"
            guard let problem = Plausibility.problem(with: value, unit: register.unit) else {
                faults.clear(key)
                readings.append(.sample(Sample(series: valueSeries[index], time: now, value: value)))
                continue
            }
            let reason = "\(register.place) (`\(register.name)`): \(problem)"
            readings.append(.problem("\(label): \(reason); skipped"))
            if faults.shouldReport(problem, for: key) {
                readings.append(.event(fault(reason, series: valueSeries[index], request: request, failure: nil,
                                             now: now)))
            }
        }
        return readings
    }

    /// An exception response: one `outpost.sensor.fault` per run of the same exception on the same read, naming
    /// the registers and the code.
    private mutating func refused(_ request: ModbusRequest, failure: ModbusFailure, now: Int64) -> [Reading] {
        let names = request.values.map { "`\(configuration.registers[$0].name)`" }.joined(separator: ", ")
        let reason = "\(request.place) (\(names)): \(failure)"
        guard faults.shouldReport(reason, for: Self.key(request)) else { return [.problem("\(label): \(reason)")] }
        let series = request.values.first.map { valueSeries[$0] }
        return [.event(fault(reason, series: series, request: request, failure: failure, now: now))]
    }

    private mutating func splitRequests(at indices: [Int]) {
        guard !indices.isEmpty else { return }
        var split: [ModbusRequest] = []
        for (index, request) in requests.enumerated() {
            guard indices.contains(index) else {
                split.append(request)
                continue
            }
            split += ModbusRequestPlanner.single(configuration.registers, indices: request.values)
        }
        requests = split
    }

    /// The health series of the poll, and the device's stale or recovered event when it changed.
    private mutating func healthReadings(answered: Bool, times: [Int64], failure: ModbusFailure?, now: Int64)
        -> [Reading]
    {
        var readings: [Reading] = [.sample(Sample(series: errorCount, time: now, value: Double(errors)))]
        if !times.isEmpty {
            let mean = Double(times.reduce(0, +)) / Double(times.count) / 1e9
            readings.append(.sample(Sample(series: responseTime, time: now, value: mean)))
        }
        switch health.polled(answered: answered, now: now) {
        case .stale(let polls):
            let reason = failure.map { "\($0)" } ?? "no answer"
            var attributes = deviceAttributes
            attributes["outpost.fault"] = .string(reason)
            attributes["outpost.polls_unanswered"] = .int(Int64(polls))
            if let lastAnswer = health.lastAnswer { attributes["outpost.last_seen"] = .int(lastAnswer) }
            readings.append(.event(Event(name: .deviceStale, severity: .warn, time: now, series: deviceSeries,
                                         message: "\(label) stopped answering: \(reason) (\(polls) polls in a row)",
                                         attributes: attributes)))
        case .recovered(let silence):
            var attributes = deviceAttributes
            let seconds = silence.map { UnixNanos.seconds($0) }
            if let seconds { attributes["outpost.silence_s"] = .double(seconds) }
            let after = seconds.map { " after \(Int($0.rounded())) s" } ?? ""
            readings.append(.event(Event(name: .deviceRecovered, severity: .info, time: now, series: deviceSeries,
                                         message: "\(label) answers again\(after)", attributes: attributes)))
        case nil: break
        }
        return readings
    }

    private var deviceAttributes: Attributes {
        var attributes = Attributes()
        attributes["outpost.input"] = .string(ModbusInput.kind)
        attributes["outpost.series"] = .string(configuration.name)
        attributes["modbus.endpoint"] = .string(configuration.endpoint.description)
        attributes["modbus.unit_id"] = .int(Int64(configuration.unitID))
        return attributes
    }

    private func fault(_ reason: String, series: Series?, request: ModbusRequest, failure: ModbusFailure?,
                       now: Int64) -> Event {
        var attributes = deviceAttributes
        attributes["outpost.fault"] = .string(reason)
        attributes["modbus.table"] = .string(request.table.rawValue)
        attributes["modbus.function_code"] = .int(Int64(request.table.functionCode))
        attributes["modbus.address"] = .int(Int64(request.start))
        attributes["modbus.count"] = .int(Int64(request.count))
        if let code = failure?.exceptionCode { attributes["modbus.exception_code"] = .int(Int64(code)) }
        return Event(name: .sensorFault, severity: .warn, time: now, series: series, message: "\(label): \(reason)",
                     attributes: attributes)
    }

    private static func key(_ request: ModbusRequest) -> String {
        "\(request.table.rawValue) \(request.start) \(request.count)"
    }
}

extension ModbusFailure {
    /// Whether the rest of a poll's requests are pointless: the device (or the line) is not there.
    var endsPoll: Bool {
        switch self {
        case .exception: !deviceAnswered
        case .noAnswer, .unreachable, .deadline, .busy: true
        case .malformed, .broken: false
        }
    }
}

extension ModbusInputConfiguration: InputSettings {
    package var expectedInterval: Duration? { interval }
    /// Silence is reported once per device (`stale_after`), not once per register.
    package var deviceSilence: String? {
        staleAfter == 0 ? "never (stale_after = 0)" : "\(staleAfter) polls without an answer, per device"
    }

    package func makeInput(_ resources: InputResources) -> any Input {
        ModbusInput(configuration: self, clock: resources.clock, wallClock: resources.wallClock)
    }
}
