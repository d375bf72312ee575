import Foundation
import OutpostTestSupport
import Testing

/// A Python helper from the test venv (`.build/otlp-python`, made by Scripts/test), run to completion.
func runPython(_ script: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let python = repositoryRoot.appendingPathComponent(".build/otlp-python/bin/python").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [repositoryRoot.appendingPathComponent("Tests/OutpostSystemTests/\(script)").path] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// GET through curl: status code and body.
func httpGet(_ url: String) throws -> (status: Int, body: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-sk", "-m", "10", "-w", "\n%{http_code}", url]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
}

/// The names of a process's threads.
func threadNames(pid: Int32) -> [String] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.compactMap { try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8) }
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// The OpAMP test server (Tests/OutpostSystemTests/opamp_server.py), built from the official opamp.proto messages.
/// `@unchecked Sendable`: its properties are set once in `init`; `Process` guards its own state.
final class OpAMPServer: @unchecked Sendable {
    let process: Process
    let port: Int
    let scheme: String

    /// Over https when given a certificate and key.
    init(port: Int = 0, certificate: String? = nil, key: String? = nil) throws {
        let python = repositoryRoot.appendingPathComponent(".build/otlp-python/bin/python").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [repositoryRoot.appendingPathComponent("Tests/OutpostSystemTests/opamp_server.py").path,
                             String(port)] + [certificate, key].compactMap { $0 }
        scheme = certificate == nil ? "http" : "https"
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        guard let chosen = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ServerError(message: "the OpAMP test server did not start: `\(line)`")
        }
        self.port = chosen
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var endpoint: String { "\(scheme)://127.0.0.1:\(port)/v1/opamp" }

    /// Pushes a whole configuration; its hash (hex).
    func push(_ text: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sk", "--data-binary", "@-", "\(scheme)://127.0.0.1:\(port)/config"]
        let input = Pipe(), out = Pipe()
        process.standardInput = input
        process.standardOutput = out
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["hash"] as? String ?? ""
    }

    /// What the one agent reported last.
    func agent() throws -> [String: Any] {
        let (_, body) = try httpGet("\(scheme)://127.0.0.1:\(port)/agents")
        let agents = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: [String: Any]] ?? [:]
        return agents.values.first ?? [:]
    }
}

@Suite("Fleet: the local endpoint and OpAMP", .serialized)
struct FleetTests {
    func config(state: String, port: Int, uplinkPort: Int?, http: Bool = true) -> String {
        var text = """
            [gateway]
            id = "fleet-1"
            state_dir = "\(state)"
            [batch]
            max_age = "500ms"
            [log]
            readings_interval = "0s"
            [status]
            interval = "1s"
            self_metrics_interval = "0s"
            [[input.simulated]]
            name = "greenhouse.temperature"
            unit = "Cel"
            interval = "200ms"
            attributes = { "sensor.id" = "t-1" }

            """
        if http { text += "[http]\nlisten = \"127.0.0.1:\(port)\"\n" }
        if let uplinkPort {
            text += """
                [[uplink.otlp_http]]
                name = "collector"
                endpoint = "http://127.0.0.1:\(uplinkPort)"
                initial_backoff = "100ms"
                max_backoff = "200ms"

                """
        }
        return text
    }

    @Test("the endpoint is off unless [http] listen is set: no socket, no thread")
    func offByDefault() async throws {
        let state = try temporaryStateDirectory()
        let port = freeLoopbackPort()
        let outpost = try ObservedOutpost(config: writeTemporary("off.toml", config(state: state, port: port,
                                                                                  uplinkPort: nil, http: false)))
        try await outpost.waitFor("input started")
        #expect(!threadNames(pid: outpost.process.processIdentifier).contains("outpost-http"))
        #expect(try httpGet("http://127.0.0.1:\(port)/health").status == 0, "nothing listens")
        #expect(outpost.stop() == 0)
    }

    @Test("/metrics parses with Prometheus' own parser (prometheus_client), series values included; /health turns 503 with the reason when the uplink fails, and 200 again when it recovers")
    func endpoint() async throws {
        let state = try temporaryStateDirectory()
        let port = freeLoopbackPort()
        let server = try OTLPServer()
        let outpost = try ObservedOutpost(config: writeTemporary("http.toml", config(state: state, port: port,
                                                                                   uplinkPort: server.port)))
        try await outpost.waitFor("http endpoint listening on 127.0.0.1:\(port)")
        #expect(threadNames(pid: outpost.process.processIdentifier).contains("outpost-http"))
        try await settle("a delivery") { try !server.received().isEmpty }

        let (status, output) = try await offPool {
            try runPython("prometheus_scrape.py", ["http://127.0.0.1:\(port)/metrics?series=1"])
        }
        #expect(status == 0, "prometheus_client parses it: \(output)")
        let scraped = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
        #expect((scraped["content_type"] as? String)?.hasPrefix("text/plain; version=0.0.4") == true)
        let families = scraped["families"] as? [String: [String: Any]] ?? [:]
        func samples(_ family: String) -> [[Any]] { families[family]?["samples"] as? [[Any]] ?? [] }
        // prometheus_client names a counter family without its `_total`.
        #expect(families["outpost_samples_ingested"]?["type"] as? String == "counter")
        #expect((samples("outpost_samples_ingested").first?[2] as? Double ?? 0) > 0)
        #expect(samples("outpost_uplink_up").contains { ($0[1] as? [String: String])?["uplink"] == "collector" })
        #expect(families["outpost_uplink_delivery_latency_seconds"]?["type"] as? String == "summary")
        #expect(samples("outpost_spool_batches").count == 3, "one per lane")
        let series = samples("outpost_series_value").first { ($0[1] as? [String: String])?["series"] == "greenhouse.temperature" }
        #expect((series?[1] as? [String: String])?["sensor_id"] == "t-1")
        #expect((series?[1] as? [String: String])?["unit"] == "Cel")

        let healthy = try httpGet("http://127.0.0.1:\(port)/health")
        #expect(healthy.status == 200, "\(healthy.body)")
        let statusPage = try httpGet("http://127.0.0.1:\(port)/status")
        #expect(statusPage.status == 200 && statusPage.body.contains("\"schema\":\"outpost.status.v1\""))
        #expect(try httpGet("http://127.0.0.1:\(port)/nothing").status == 404)

        server.stop()
        try await settle("/health says 503") { try httpGet("http://127.0.0.1:\(port)/health").status == 503 }
        let failing = try httpGet("http://127.0.0.1:\(port)/health")
        let document = try JSONSerialization.jsonObject(with: Data(failing.body.utf8)) as? [String: Any] ?? [:]
        #expect(document["healthy"] as? Bool == false)
        #expect(document["status"] as? String == "StatusRecoverableError")
        #expect((document["error"] as? String)?.hasPrefix("uplink:collector: ") == true, "\(failing.body)")
        let components = document["components"] as? [String: [String: Any]] ?? [:]
        #expect(components["uplink:collector"]?["healthy"] as? Bool == false)
        #expect(components["input:simulated greenhouse.temperature"]?["healthy"] as? Bool == true)

        let back = try OTLPServer(port: server.port)
        try await settle("/health says 200 again") { try httpGet("http://127.0.0.1:\(port)/health").status == 200 }
        _ = back
        #expect(outpost.stop() == 0)
    }

    func managed(state: String, opamp: OpAMPServer, accept: Bool = true, caFile: String? = nil) -> String {
        """
        [gateway]
        id = "fleet-2"
        state_dir = "\(state)"
        [log]
        readings_interval = "0s"
        [status]
        interval = "1s"
        self_metrics_interval = "0s"
        [[input.simulated]]
        name = "local.only"
        interval = "500ms"
        [opamp]
        endpoint = "\(opamp.endpoint)"
        polling_interval = "200ms"
        accept_remote_config = \(accept)
        \(caFile.map { "ca_file = \"\($0)\"" } ?? "")

        """
    }

    /// A remote configuration: the status path stays the local one's so the test can read it.
    func remote(state: String, input: String) -> String {
        """
        [gateway]
        id = "fleet-2"
        state_dir = "\(state)"
        [status]
        interval = "1s"
        self_metrics_interval = "0s"
        [[input.simulated]]
        name = "\(input)"
        interval = "500ms"

        """
    }

    func inputNames(_ state: String) throws -> [String] {
        (statusOrEmpty(state + "/status.json")["inputs"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    @Test("an OpAMP server pushes a good config (APPLIED), a bad one (FAILED with its error, the good one kept), and goes away: the gateway runs on, and after a restart runs the last good config")
    func opamp() async throws {
        let state = try temporaryStateDirectory()
        let server = try OpAMPServer()
        let local = try writeTemporary("managed.toml", managed(state: state, opamp: server))
        var outpost = try ObservedOutpost(config: local)
        try await settle("the agent described itself") { try server.agent()["description"] != nil }
        let agent = try server.agent()
        let description = agent["description"] as? [String: String] ?? [:]
        #expect(description["service.instance.id"] == "fleet-2")
        #expect(description["service.name"] == "outpost")
        #expect(description["os.type"] == "linux")
        #expect(description["outpost.self_metrics.interval"] != nil, "its own telemetry settings")
        #expect((agent["capability_names"] as? [String] ?? []).contains("AgentCapabilities_AcceptsRemoteConfig"))
        #expect((agent["effective_config"] as? [String: String])?["outpost.toml"]?.contains("local.only") == true)
        #expect(agent["health"] != nil)

        // A good configuration: applied through the reload path, reported APPLIED with its hash.
        let good = try server.push(remote(state: state, input: "remote.good"))
        try await settle("APPLIED") {
            let status = try server.agent()["remote_config_status"] as? [String: String]
            return status?["status"] == "RemoteConfigStatuses_APPLIED" && status?["hash"] == good
        }
        try await settle("the pushed input runs") { try inputNames(state) == ["remote.good"] }
        try await settle("the effective config is the pushed one") {
            ((try server.agent()["effective_config"] as? [String: String])?["outpost.toml"] ?? "").contains("remote.good")
        }

        // A bad one: FAILED with the error; the good one keeps running.
        let bad = try server.push(remote(state: state, input: "remote.bad") + "[[input.simulated]]\nintervall = 1\n")
        try await settle("FAILED") {
            let status = try server.agent()["remote_config_status"] as? [String: String]
            return status?["status"] == "RemoteConfigStatuses_FAILED" && status?["hash"] == bad
        }
        let failed = try server.agent()["remote_config_status"] as? [String: String] ?? [:]
        #expect(failed["error_message"]?.contains("error[unknown-key]") == true, "\(failed)")
        #expect(failed["error_message"]?.contains("intervall") == true)
        #expect(try inputNames(state) == ["remote.good"])

        // The server goes away: the gateway runs on its last good configuration.
        server.stop()
        try await outpost.waitFor("opamp: \(server.endpoint)")
        let before = try statusJSON(state + "/status.json")["samples_ingested"] as? Int ?? 0
        try await settle("samples still flowing") {
            (statusOrEmpty(state + "/status.json")["samples_ingested"] as? Int ?? 0) > before
        }
        #expect(outpost.stop() == 0)

        // Restarted, it runs the last configuration that applied, not the local file's inputs.
        outpost = try ObservedOutpost(config: local)
        try await outpost.waitFor("running the configuration an OpAMP server sent")
        let pid = Int(outpost.process.processIdentifier)
        try await settle("the last good remote config runs again") {
            let status = statusOrEmpty(state + "/status.json")
            return try status["pid"] as? Int == pid && status["state"] as? String == "running"
                && (try inputNames(state)) == ["remote.good"]
        }
        #expect(outpost.stop() == 0)
    }

    @Test("a gateway whose local file does not accept remote configuration reports FAILED and keeps its own")
    func refusedWhenNotAllowed() async throws {
        let state = try temporaryStateDirectory()
        let server = try OpAMPServer()
        let outpost = try ObservedOutpost(config: writeTemporary("closed.toml", managed(state: state, opamp: server,
                                                                                         accept: false)))
        try await settle("the agent reported") { try server.agent()["description"] != nil }
        #expect(!((try server.agent()["capability_names"] as? [String]) ?? []).contains("AgentCapabilities_AcceptsRemoteConfig"))
        _ = try server.push(remote(state: state, input: "remote.never"))
        try await settle("FAILED") {
            (try server.agent()["remote_config_status"] as? [String: String])?["status"] == "RemoteConfigStatuses_FAILED"
        }
        let status = try server.agent()["remote_config_status"] as? [String: String] ?? [:]
        #expect(status["error_message"]?.contains("accept_remote_config") == true)
        #expect(try inputNames(state) == ["local.only"])
        #expect(outpost.stop() == 0)
    }

    @Test("over https, a server whose certificate verifies configures the gateway; one that does not verify is never even talked to")
    func tls() async throws {
        let certificates = try TestCertificates()
        let server = try OpAMPServer(certificate: certificates.serverCertificate, key: certificates.serverKey)
        let trusted = try temporaryStateDirectory(), stranger = try temporaryStateDirectory()
        let good = try ObservedOutpost(config: writeTemporary("trusted.toml", managed(state: trusted, opamp: server,
                                                                                     caFile: certificates.ca)))
        let bad = try ObservedOutpost(config: writeTemporary("stranger.toml", managed(state: stranger, opamp: server,
                                                                                     caFile: certificates.otherCA)))
        _ = try server.push(remote(state: trusted, input: "over.tls"))
        try await settle("the trusting gateway applies it") { try inputNames(trusted) == ["over.tls"] }
        try await bad.waitFor("opamp: \(server.endpoint): ")
        #expect(try inputNames(stranger) == ["local.only"])
        let (_, body) = try httpGet("https://127.0.0.1:\(server.port)/agents")
        let agents = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] ?? [:]
        #expect(agents.count == 1, "only the gateway that verified the server reached it")
        #expect(good.stop() == 0 && bad.stop() == 0)
    }

    @Test("accept_remote_config needs a verified server: plain http to another host, or insecure_skip_verify, is a config error")
    func remoteConfigNeedsVerifiedServer() throws {
        for opamp in ["endpoint = \"http://10.0.0.1/v1/opamp\"\naccept_remote_config = true",
                      "endpoint = \"https://fleet.example/v1/opamp\"\naccept_remote_config = true\ninsecure_skip_verify = true"] {
            let config = try writeTemporary("c.toml", "[[input.simulated]]\nname = \"a\"\n[opamp]\n\(opamp)\n")
            let (status, _, err) = try OutpostProcess.run(["check", "--config", config.path])
            #expect(status != 0)
            #expect(err.contains("opamp.accept_remote_config"), "\(err)")
        }
    }
}
