import Synchronization
import Foundation
import OutpostTestSupport
import Testing
@testable import OutpostMQTT

@Suite("MQTT client against a real mosquitto broker", .serialized)
struct MQTTClientTests {
    func connected(_ broker: MosquittoBroker, id: String = "outpost-test",
                   will: MQTTBroker.Will? = nil) async throws -> MQTTClient {
        var settings = MQTTBroker(host: "127.0.0.1", port: broker.port, clientID: id)
        settings.will = will
        let client = try MQTTClient(broker: settings)
        client.start()
        for await event in client.events {
            if case .connected = event { break }
        }
        return client
    }

    @Test("a QoS 1 publish completes on PUBACK, and a subscriber receives it")
    func publish() async throws {
        let broker = try MosquittoBroker()
        let client = try await connected(broker)
        defer { client.stop() }
        let outcome = await client.publish(topic: "outpost/test/alerts", payload: Array("{\"a\":1}".utf8), retain: true,
                                           contentType: "application/json")
        #expect(outcome == .acknowledged)
        #expect(try broker.receive(topic: "outpost/test/alerts") == ["{\"a\":1}"])
    }

    @Test("publishing while the broker is unreachable fails at once, and the client reconnects when it returns")
    func reconnects() async throws {
        let port = freeLoopbackPort()
        var broker = try MosquittoBroker(port: port)
        let client = try await connected(broker)
        defer { client.stop() }
        broker.stop()
        for await event in client.events {
            if case .disconnected = event { break }
        }
        let offline = await client.publish(topic: "t", payload: [1], timeout: .seconds(60))
        #expect(offline == .failed("not connected to 127.0.0.1:\(port)"))
        broker = try MosquittoBroker(port: port)
        for await event in client.events {
            if case .connected = event { break }
        }
        #expect(await client.publish(topic: "t", payload: [2]) == .acknowledged)
        _ = broker
    }

    @Test("the last will is published when the client vanishes")
    func lastWill() async throws {
        let broker = try MosquittoBroker()
        let will = MQTTBroker.Will(topic: "outpost/gw/status", payload: Array("offline".utf8), retain: true)
        let client = try await connected(broker, id: "will-test", will: will)
        #expect(await client.publish(topic: "outpost/gw/status", payload: Array("online".utf8), retain: true)
            == .acknowledged)
        #expect(try broker.receive(topic: "outpost/gw/status") == ["online"])
        client.stopWithoutGoodbyeForTesting()
        #expect(try broker.receive(topic: "outpost/gw/status", timeout: 90) == ["offline"])
    }

    @Test("broker URLs", arguments: [
        ("mqtt://broker.local", "broker.local", 1883, false), ("mqtts://10.0.0.2:8884", "10.0.0.2", 8884, true),
        ("mqtt://127.0.0.1:1883/", "127.0.0.1", 1883, false),
    ])
    func urls(url: String, host: String, port: Int, tls: Bool) throws {
        let broker = try #require(MQTTBroker.parse(url: url, clientID: "x"))
        #expect(broker.host == host && broker.port == port && broker.tls == tls)
    }

    @Test("bad broker URLs are refused", arguments: ["http://x", "mqtt://", "mqtt://h:0", "mqtt://h:x", "broker:1883"])
    func badURLs(url: String) {
        #expect(MQTTBroker.parse(url: url, clientID: "x") == nil)
    }
}

@Suite("MQTT over TLS with a CA made by the test", .serialized)
struct MQTTTLSTests {
    /// The first connection outcome the client reports: connected, or why not.
    func firstOutcome(port: Int, caFile: String) async -> (MQTTClient, MQTTConnectionEvent?) {
        var settings = MQTTBroker(host: "127.0.0.1", port: port, tls: true, clientID: "tls-\(caFile.hashValue)")
        settings.caFile = caFile
        let client = try! MQTTClient(broker: settings)
        client.start()
        for await event in client.events {
            return (client, event)
        }
        return (client, nil)
    }

    @Test("a TLS listener: the wrong CA is named as a TLS failure (never a protocol problem); the test's CA connects")
    func tls() async throws {
        let files = try TestCertificates()
        let broker = try MosquittoBroker(extraConfig: """
            cafile \(files.ca)
            certfile \(files.serverCertificate)
            keyfile \(files.serverKey)
            """)
        let (wrong, refusal) = await firstOutcome(port: broker.port, caFile: files.otherCA)
        #expect(!wrong.isConnected)
        guard case .unreachable(let reason, _) = refusal else {
            Issue.record("expected a TLS failure, got \(String(describing: refusal))")
            return
        }
        // OpenSSL's own verdict on the certificate, not libmosquitto's "A TLS error occurred".
        #expect(reason.contains("TLS with 127.0.0.1:\(broker.port) failed: self-signed certificate in certificate chain"),
                "\(reason)")
        wrong.stop()
        let (client, outcome) = await firstOutcome(port: broker.port, caFile: files.ca)
        defer { client.stop() }
        #expect(outcome == .connected(sessionPresent: false, version: .v5))
        #expect(await client.publish(topic: "outpost/tls", payload: Array("hello".utf8)) == .acknowledged)
    }
}

@Suite("MQTT TLS files rotated on disk", .serialized)
struct MQTTRotatedCertificatesTests {
    /// Copies `source` over `target` the way renewal tools do: a new file renamed over the old one.
    func install(_ source: String, at target: String) throws {
        let staged = target + ".new"
        try? FileManager.default.removeItem(atPath: staged)
        try FileManager.default.copyItem(atPath: source, toPath: staged)
        #expect(rename(staged, target) == 0)
    }

    func broker(port: Int, _ files: TestCertificates) throws -> MosquittoBroker {
        try MosquittoBroker(port: port, extraConfig: """
            cafile \(files.ca)
            certfile \(files.serverCertificate)
            keyfile \(files.serverKey)
            require_certificate true
            """)
    }

    @Test("a new CA, client certificate and key on disk are used at the next connection, without a restart")
    func rotated() async throws {
        let old = try TestCertificates(), new = try TestCertificates()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rotating-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let (ca, certificate, key) = (folder + "/ca.pem", folder + "/client.pem", folder + "/client.key")
        for (source, target) in [(old.ca, ca), (old.clientCertificate, certificate), (old.clientKey, key)] {
            try install(source, at: target)
        }
        var first: MosquittoBroker? = try broker(port: freeLoopbackPort(), old)
        let port = first!.port
        var settings = MQTTBroker(host: "127.0.0.1", port: port, tls: true, clientID: "rotating")
        settings.caFile = ca
        settings.clientCertificate = certificate
        settings.clientKey = key
        let client = try MQTTClient(broker: settings)
        defer { client.stop() }
        client.start()
        var events = client.events.makeAsyncIterator()
        guard case .connected? = await events.next() else {
            Issue.record("the first certificates must connect")
            return
        }
        // The fleet CA is replaced: the broker restarts with it, and the gateway's files are renewed on disk.
        first?.stop()
        first = nil
        for (source, target) in [(new.ca, ca), (new.clientCertificate, certificate), (new.clientKey, key)] {
            try install(source, at: target)
        }
        let second = try broker(port: port, new)
        defer { second.stop() }
        while let event = await events.next() {
            if case .connected = event { break }
        }
        #expect(client.isConnected)
        #expect(await client.publish(topic: "outpost/rotated", payload: Array("ok".utf8)) == .acknowledged)
    }
}

@Suite("One closed connection does not pin MQTT 3.1.1", .serialized)
struct MQTTProbeGlitchTests {
    @Test("a close before CONNACK, a 3.1.1 connection dropped for a too large publish, then MQTT 5 and its limit")
    func glitchThenFive() async throws {
        let broker = try MosquittoBroker(extraConfig: "max_packet_size 2048")
        let proxy = Process()
        proxy.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        proxy.arguments = [repositoryRoot.appendingPathComponent("Tests/OutpostMQTTTests/flaky_proxy.py").path,
                           String(broker.port), "1"]
        let out = Pipe()
        proxy.standardOutput = out
        try proxy.run()
        // SIGKILL: a child started from a test process may inherit a signal mask that blocks SIGTERM.
        defer { kill(proxy.processIdentifier, SIGKILL) }
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let port = try #require(Int(line.trimmingCharacters(in: .whitespacesAndNewlines)))
        let client = try MQTTClient(broker: MQTTBroker(host: "127.0.0.1", port: port, clientID: "glitch"))
        defer { client.stop() }
        client.start()
        var events = client.events.makeAsyncIterator()
        var seen: [MQTTConnectionEvent] = []
        while let event = await events.next() {
            seen.append(event)
            if case .connected = event { break }
        }
        #expect(seen.last == .connected(sessionPresent: false, version: .v311), "\(seen)")
        #expect(!seen.contains { if case .fellBack = $0 { true } else { false } }, "one close settles nothing")
        // Over 3.1.1 the broker's limit is unknown: a 5000-byte publish makes it drop the connection. libmosquitto
        // keeps that publish for the persistent session and would send it again after the next CONNACK.
        let big = Array(repeating: UInt8(ascii: "x"), count: 5000)
        guard case .failed = await client.publish(topic: "outpost/glitch/metrics", payload: big) else {
            Issue.record("the broker must refuse a packet over its limit")
            return
        }
        while let event = await events.next() {
            if case .connected(_, let version) = event {
                #expect(version == .v5, "MQTT 5 again on the next connect")
                break
            }
        }
        #expect(client.maximumPacketSize == 2048, "the limit MQTT 5 announces")
        #expect(await client.publish(topic: "outpost/glitch/metrics", payload: Array("ok".utf8)) == .acknowledged)
        guard case .refused = await client.publish(topic: "outpost/glitch/metrics", payload: big) else {
            Issue.record("a publish over the announced limit is refused for good, before it is sent")
            return
        }
    }
}

@Suite("MQTT 5 → 3.1.1 fallback against a real 3.1.1-only broker (amqtt)")
struct MQTTFallbackTests {
    @Test("protocol auto: a 3.1.1-only broker (amqtt) closes on an MQTT 5 CONNECT; the client falls back to 3.1.1 and publishes")
    func fallback() async throws {
        let broker = try AMQTTBroker()
        var settings = MQTTBroker(host: "127.0.0.1", port: broker.port, clientID: "fallback")
        settings.connackTimeout = .seconds(2)
        let client = try MQTTClient(broker: settings)
        defer { client.stop() }
        client.start()
        var seen: [MQTTConnectionEvent] = []
        for await event in client.events {
            seen.append(event)
            if case .connected = event { break }
        }
        #expect(seen.count == 2)
        guard case .probingOlderProtocol = seen.first else {
            Issue.record("expected the 3.1.1 attempt, got \(seen)")
            return
        }
        #expect(seen.last == .connected(sessionPresent: false, version: .v311))
        // Properties are MQTT 5 only: they are left out, not an error.
        #expect(await client.publish(topic: "outpost/gw/alerts", payload: Array("{}".utf8),
                                     contentType: "application/json") == .acknowledged)
    }

    @Test("protocol 5 pinned against a 3.1.1-only broker: reported, never connected, never downgraded")
    func pinned() async throws {
        let broker = try AMQTTBroker()
        var settings = MQTTBroker(host: "127.0.0.1", port: broker.port, clientID: "pinned")
        settings.protocolVersion = .v5
        settings.connackTimeout = .seconds(2)
        let client = try MQTTClient(broker: settings)
        defer { client.stop() }
        client.start()
        // amqtt cannot parse an MQTT 5 CONNECT and closes the connection without a CONNACK.
        for await event in client.events {
            guard case .unreachable = event else {
                Issue.record("unexpected \(event)")
                break
            }
            break
        }
        #expect(!client.isConnected)
    }
}

@Suite("A subscription's buffer")
struct MQTTSubscriptionBufferTests {
    @Test("messages beyond the buffer (a backlog arriving at once) are counted, never dropped silently")
    func overflowCounted() async throws {
        let broker = try MosquittoBroker()
        let client = try MQTTClient(broker: MQTTBroker(host: "127.0.0.1", port: broker.port, clientID: "slow"))
        defer { client.stop() }
        client.start()
        for await event in client.events {
            if case .connected = event { break }
        }
        let backlog = client.subscribe(["backlog/#"], buffer: 5)
        // Subscribed after the backlog filter on the same connection: once a probe arrives, both are in place.
        let probes = client.subscribe(["probe"])
        let probed = Task { for await _ in probes.messages { return true }; return false }
        let publisher = try MQTTClient(broker: MQTTBroker(host: "127.0.0.1", port: broker.port, clientID: "fast"))
        defer { publisher.stop() }
        publisher.start()
        for await event in publisher.events {
            if case .connected = event { break }
        }
        let arrived = Mutex(false)
        Task { let value = await probed.value; arrived.withLock { $0 = value } }
        try await poll("the subscriptions to take effect") {
            Task { _ = await publisher.publish(topic: "probe", payload: [1]) }
            return arrived.withLock { $0 }
        }
        for index in 0..<50 {
            #expect(await publisher.publish(topic: "backlog/\(index)", payload: Array("\(index)".utf8)) == .acknowledged)
        }
        var dropped = 0
        try await poll("the overflow counted") {
            dropped += backlog.dropped.take()
            return dropped >= 45
        }
        var iterator = backlog.messages.makeAsyncIterator()
        var kept: [String] = []
        for _ in 0..<5 {
            if let message = await iterator.next() { kept.append(String(decoding: message.payload, as: UTF8.self)) }
        }
        #expect(kept == ["45", "46", "47", "48", "49"], "the newest are kept")
        #expect(dropped + backlog.dropped.take() == 45, "every one of the others counted")
    }
}
