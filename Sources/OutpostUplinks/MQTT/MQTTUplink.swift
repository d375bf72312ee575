import OutpostCore
import OutpostDelivery
import OutpostMQTT
import OutpostWire

/// `[[uplink.mqtt]]`: spooled OTLP batches published to an MQTT broker, QoS 1, deleted from the spool on PUBACK.
///
/// Topics: `<prefix>/<gateway>/metrics` and `<prefix>/<gateway>/events`. The payload is the batch as spooled: an
/// OTLP `ExportMetricsServiceRequest` / `ExportLogsServiceRequest`, protobuf (or OTLP/JSON) per `[batch] encoding`,
/// gzip per `[batch] gzip_level` (the pieces of a batch split to fit the broker's packet limit too). MQTT 5 carries
/// the content type (`application/x-protobuf`) and a `content-encoding` user property (`gzip`); with MQTT 3.1.1,
/// which has no properties, the convention is the config: consumers read the `[batch]` settings (protobuf + gzip
/// unless changed) and the topic suffix.
package struct MQTTUplink: WireCounting, UplinkKind, ReconnectNotifying {
    package static let kind = "mqtt"
    package let name: String
    /// OTLP requests; alert documents go to the alert publisher.
    package let accepts = Signal.otlp
    private let client: MQTTClient
    private let metricsTopic: String
    private let eventsTopic: String

    /// `max_packet_size`, when configured.
    private let maxPacketSize: Int?
    /// `[batch] gzip_level`, for the pieces of a split batch.
    private let gzipLevel: Int32

    init(name: String, client: MQTTClient, metricsTopic: String, eventsTopic: String, maxPacketSize: Int?,
         gzipLevel: Int32) {
        self.name = name
        self.client = client
        self.metricsTopic = metricsTopic
        self.eventsTopic = eventsTopic
        self.maxPacketSize = maxPacketSize
        self.gzipLevel = gzipLevel
    }

    /// Publishes the batch, in pieces when it is larger than the broker's maximum packet size (from its MQTT 5
    /// CONNACK, or `max_packet_size`); delivered once every piece is acknowledged. A piece that fails sends the
    /// whole batch again later: consumers may see a piece twice (at least once), `outpost-batch-id` tells them.
    /// A data point or log record that cannot fit the limit even alone is left out and reported (named, with its
    /// size and the limit); the rest of the batch goes as usual.
    package func deliver(_ batch: Batch) async -> DeliveryResult {
        await deliverCounting(batch).result
    }

    /// `deliver`, counting the PUBLISH and PUBACK bytes of every piece for byte budgets.
    package func deliverCounting(_ batch: Batch) async -> CountedDelivery {
        guard let topic = topic(for: batch.signal) else {
            return CountedDelivery(.rejected(reason: "batch \(batch.id) is an alert document, not OTLP"), wireBytes: 0)
        }
        let limit = payloadLimit(topic: topic, batch: batch)
        let split: OTLPSplit
        do {
            split = try Self.pieces(of: batch, limit: limit, gzipLevel: gzipLevel)
        } catch {
            return CountedDelivery(.rejected(reason: "cannot read the batch back to split it for the broker's "
                                                 + "packet limit: \(error)"), wireBytes: 0)
        }
        var wireBytes = 0
        for piece in split.pieces {
            let properties = [("content-encoding", batch.contentEncoding.rawValue),
                              ("outpost-batch-id", piece.batchID)]
            let (outcome, bytes) = await client.publishCounting(topic: topic, payload: piece.bytes,
                                                                contentType: batch.contentType,
                                                                userProperties: properties)
            wireBytes += bytes
            switch outcome {
            case .acknowledged: continue
            case .failed(let reason): return CountedDelivery(.retry(after: nil, reason: reason), wireBytes: wireBytes)
            // The limit changed under us (a reconnect to a broker with a smaller one): split again next time.
            case .refused(let reason): return CountedDelivery(.retry(after: nil, reason: reason), wireBytes: wireBytes)
            }
        }
        guard let reason = split.droppedReason(limit: limit, what: "the broker's maximum packet size (less topic "
                                                  + "and properties)") else {
            return CountedDelivery(.delivered, wireBytes: wireBytes)
        }
        return CountedDelivery(.partiallyDelivered(droppedItems: split.dropped.count,
                                                   droppedBytes: split.dropped.reduce(0) { $0 + $1.bytes },
                                                   reason: reason), wireBytes: wireBytes)
    }

    private func topic(for signal: Signal) -> String? {
        switch signal {
        case .metrics: metricsTopic
        case .logs: eventsTopic
        case .alert: nil
        }
    }

    /// The payloads to publish: the batch as spooled when it fits `limit`, else its pieces (`OTLPPayload.pieces`) in
    /// the batch's own encoding and compression, so that its content type and `content-encoding` describe every
    /// piece. Pieces are gzipped at `gzipLevel` (`[batch] gzip_level`) like the batches themselves; one spooled
    /// compressed while `gzip_level` is now 0 stays gzip, at zlib's default level; zstd pieces use zstd's default
    /// level.
    static func pieces(of batch: Batch, limit: Int, gzipLevel: Int32) throws -> OTLPSplit {
        guard batch.payload.count > limit else {
            return OTLPSplit(pieces: [OTLPPiece(batchID: batch.id, bytes: batch.payload)])
        }
        guard let encoding = batch.format.otlpEncoding else { throw OTLPPayloadError.notOTLP(batch.signal) }
        return try OTLPPayload(batch).pieces(limit: limit, as: encoding,
                                             compression: .matching(batch.contentEncoding, gzipLevel: gzipLevel),
                                             batchID: batch.id)
    }

    /// The shared client reconnected: a backing-off delivery loop tries at once.
    package func onReconnect(_ handler: @escaping @Sendable () -> Void) {
        client.onConnected(handler)
    }

    /// A piece's batch id adds `#<first>-<end>` (two item numbers of up to 10 digits) to the batch's.
    private let pieceSuffixBytes = 22

    /// The largest payload that fits a packet: the packet limit less the PUBLISH header, topic and properties
    /// (a generous 64 bytes of fixed parts, lengths and property ids).
    private func payloadLimit(topic: String, batch: Batch) -> Int {
        let packet = [client.maximumPacketSize, maxPacketSize].compactMap { $0 }.min() ?? Int.max
        guard packet != Int.max else { return .max }
        let overhead = 64 + topic.utf8.count + batch.contentType.utf8.count + batch.contentEncoding.rawValue.utf8.count
            + batch.id.utf8.count + "content-encoding".utf8.count + "outpost-batch-id".utf8.count
            + pieceSuffixBytes
        return max(packet - overhead, 1)
    }

    /// Keys: `name` (default `"mqtt"`), `broker` (required: a `[mqtt.brokers.<name>]`), `topic` (default
    /// `"{prefix}/{gateway}/{signal}"`, `{signal}` being `metrics` or `events`), `max_packet_size` (default none: the
    /// broker's limit; batches are split to fit), and the delivery keys of every uplink.
    package static func read(_ reader: ConfigReader, context: UplinkContext) -> (any UplinkSettings)? {
        let name = reader.string("name", default: "mqtt")
        let brokerName = reader.requiredString("broker", hint: "name a [mqtt.brokers.<name>], e.g. broker = \"cloud\"")
        let template = reader.string("topic", default: "{prefix}/{gateway}/{signal}")
        let unusable = { (scalar: Unicode.Scalar) in
            scalar == "+" || scalar == "#" || scalar.properties.generalCategory == .control
        }
        if template.unicodeScalars.contains(where: unusable) {
            reader.invalid("topic",
                           "must not contain `+`, `#` or control characters, which MQTT topic names cannot hold")
        }
        var maxPacket: Int?
        if reader.contains("max_packet_size") {
            maxPacket = Int(reader.size("max_packet_size", default: 0))
            if (maxPacket ?? 0) < 1024 { reader.invalid("max_packet_size", "must be at least 1KiB") }
        }
        let delivery = OTLPHTTPUplinkConfiguration.readDelivery(reader)
        defer { reader.finish() }
        guard let brokerName else { return nil }
        guard let broker = context.mqttBrokers[brokerName] else {
            reader.invalid("broker", "no [mqtt.brokers.\(brokerName)] is configured")
            return nil
        }
        let topic = { (signal: String) in
            template.replacing("{prefix}", with: context.mqttTopicPrefix).replacing("{gateway}", with: context.gateway)
                .replacing("{signal}", with: signal)
        }
        return MQTTUplinkSettings(name: name, broker: brokerName, metricsTopic: topic("metrics"),
                                  eventsTopic: topic("events"), maxPacketSize: maxPacket,
                                  gzipLevel: context.batchGzipLevel, delivery: delivery,
                                  endpoint: "\(broker.tls ? "mqtts" : "mqtt")://\(broker.host):\(broker.port)/\(topic("…"))")
    }
}

/// `[[uplink.mqtt]]` as plain values.
package struct MQTTUplinkSettings: UplinkSettings {
    package let name: String
    /// The `[mqtt.brokers.<name>]` it publishes to.
    package let broker: String
    package let metricsTopic: String
    package let eventsTopic: String
    /// `max_packet_size`, when configured.
    package let maxPacketSize: Int?
    package let gzipLevel: Int32
    package let delivery: DeliverySettings
    package let endpoint: String

    package var accepts: Set<Signal> { Signal.otlp }
    package var maxBatchBytes: Int? { maxPacketSize.map { $0 - 1024 } }
    package var startupWarnings: [String] { [] }

    /// Takes the broker's shared client, created by the runtime at start.
    package func makeUplink(_ resources: UplinkResources) throws -> any Uplink {
        guard let client = try resources.mqtt?.client(named: broker) else {
            throw StartupError("uplink \(name): no [mqtt.brokers.\(broker)] is configured")
        }
        return MQTTUplink(name: name, client: client, metricsTopic: metricsTopic, eventsTopic: eventsTopic,
                          maxPacketSize: maxPacketSize, gzipLevel: gzipLevel)
    }
}
