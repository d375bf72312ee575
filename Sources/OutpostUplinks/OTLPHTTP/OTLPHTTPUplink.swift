import FoundationEssentials
import OutpostCore
import OutpostWire
import SwiftProtobuf
import Synchronization

/// Delivers batches to an OTLP/HTTP receiver, answering exactly as the OTLP specification says.
package struct OTLPHTTPUplink: WireCounting {
    package let configuration: OTLPHTTPUplinkConfiguration
    private let client: CurlHTTPClient
    /// Where warnings that do not fail a batch go (a 200 with `partial_success`, an unusable `Retry-After`).
    private let warn: @Sendable (String) -> Void
    /// The last unusable `Retry-After` warned about: a receiver that keeps sending it is named once, not per retry.
    private let lastUnusableRetryAfter = LastValue()
    /// Below the smallest request size the receiver refused as too large (413), once one was.
    private let learnedLimit = LearnedLimit()

    package var name: String { configuration.name }
    /// OTLP requests; alert documents go to the alert publisher.
    package let accepts = Signal.otlp

    package init(configuration: OTLPHTTPUplinkConfiguration, warn: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.client = CurlHTTPClient(label: configuration.name, tls: configuration.tls)
        self.warn = warn
    }

    package func deliver(_ batch: Batch) async -> DeliveryResult {
        await deliverCounting(batch).result
    }

    /// Sends the batch and counts the request's and the response's HTTP bytes (headers included) for budgets.
    package func deliverCounting(_ batch: Batch) async -> CountedDelivery {
        guard let url = url(for: batch.signal) else {
            return CountedDelivery(.rejected(reason: "batch \(batch.id) is an alert document, not OTLP"), wireBytes: 0)
        }
        let body: [UInt8]
        do {
            body = try self.body(of: batch)
        } catch {
            return CountedDelivery(.rejected(reason: "cannot re-encode batch \(batch.id): \(error)"), wireBytes: 0)
        }
        // Above a size the receiver refused before, split first; a single item is always tried as it is.
        var wireBytes = 0
        if let limit = learnedLimit.value, body.count > limit, batch.items > 1, let payload = try? OTLPPayload(batch) {
            let result = await deliverInParts(payload, batchID: batch.id, url: url, signal: batch.signal,
                                              size: body.count, wireBytes: &wireBytes)
            return CountedDelivery(result, wireBytes: wireBytes)
        }
        let outcome = await send(body, to: url, wireBytes: &wireBytes)
        if case .response(413, _, _) = outcome, let payload = try? OTLPPayload(batch) {
            noteTooLarge(body.count)
            let result = await deliverInParts(payload, batchID: batch.id, url: url, signal: batch.signal,
                                              size: body.count, wireBytes: &wireBytes)
            return CountedDelivery(result, wireBytes: wireBytes)
        }
        return CountedDelivery(classify(outcome, signal: batch.signal), wireBytes: wireBytes)
    }

    /// Sends one request; `wireBytes` grows by its HTTP bytes both ways.
    private func send(_ body: [UInt8], to url: String, wireBytes: inout Int) async -> HTTPOutcome {
        var headers = [("Content-Type", configuration.encoding.contentType)]
        let encoding = configuration.compression.contentEncoding
        if encoding != .identity { headers.append(("Content-Encoding", encoding.rawValue)) }
        headers += configuration.headers
        let (outcome, bytes) = await client.sendCounting(HTTPRequest(url: url, headers: headers, body: body,
                                                                     timeout: configuration.timeout))
        wireBytes += bytes
        return outcome
    }

    // RFC 9110 §15.5.14: 413 Content Too Large. The receiver's limit (a Collector's `max_request_body_size`, a proxy's
    // `client_max_body_size`) is not told; halving finds it. Nothing is dropped while halves can still fit: the batch
    // goes in pieces (each a complete request with `<batch id>#<first>-<end>` as its id, as over MQTT), a piece
    // refused again is halved again, and only a single data point or log record refused alone is left out (and
    // reported). Later batches larger than a refused size are split before they are sent.
    private func deliverInParts(_ payload: OTLPPayload, batchID: String, url: String, signal: Signal, size: Int,
                                wireBytes: inout Int) async -> DeliveryResult
    {
        var dropped: [OTLPDroppedItem] = []
        let result = await deliverHalves(of: payload, batchID: batchID, offset: 0, url: url, signal: signal,
                                         refusedBytes: size, dropped: &dropped, wireBytes: &wireBytes)
        guard result == .delivered, let first = dropped.first else { return result }
        let others = dropped.count > 1 ? " and \(dropped.count - 1) more" : ""
        return .partiallyDelivered(
            droppedItems: dropped.count, droppedBytes: dropped.reduce(0) { $0 + $1.bytes },
            reason: "\(configuration.name) refused \(first.what) as too large even alone (HTTP 413 for a "
                + "\(first.bytes)-byte request)\(others): the receiver's request limit is below one item; dropped, the "
                + "rest of the batch delivered")
    }

    private func deliverHalves(of payload: OTLPPayload, batchID: String, offset: Int, url: String, signal: Signal,
                               refusedBytes: Int, dropped: inout [OTLPDroppedItem], wireBytes: inout Int)
        async -> DeliveryResult
    {
        let count = payload.itemCount
        guard count > 1 else {
            dropped.append(OTLPDroppedItem(index: offset, what: payload.itemDescription, bytes: refusedBytes))
            return .delivered
        }
        for half in [0..<count / 2, count / 2..<count] {
            let part = payload.items(half)
            let id = "\(batchID)#\(offset + half.lowerBound)-\(offset + half.upperBound)"
            let body: [UInt8]
            do {
                body = try part.labelled(batchID: id).encoded(as: configuration.encoding,
                                                             compression: configuration.compression)
            } catch {
                return .rejected(reason: "cannot encode a piece of batch \(batchID): \(error)")
            }
            var refused = half.count > 1 && body.count > (learnedLimit.value ?? .max)
            if !refused {
                let outcome = await send(body, to: url, wireBytes: &wireBytes)
                if case .response(413, _, _) = outcome {
                    noteTooLarge(body.count)
                    refused = true
                } else {
                    let result = classify(outcome, signal: signal)
                    guard result == .delivered else { return result }
                }
            }
            if refused {
                let result = await deliverHalves(of: part, batchID: batchID, offset: offset + half.lowerBound,
                                                 url: url, signal: signal, refusedBytes: body.count, dropped: &dropped,
                                                 wireBytes: &wireBytes)
                guard result == .delivered else { return result }
            }
        }
        return .delivered
    }

    /// A request of `size` bytes was refused as too large: later batches above it are split before sending, and the
    /// operator is told (once: the halving goes on quietly) which setting makes batches fit at the source.
    private func noteTooLarge(_ size: Int) {
        let first = learnedLimit.value == nil
        guard let limit = learnedLimit.lower(to: size - 1), first else { return }
        warn("\(configuration.name) refused a \(size)-byte request as too large (HTTP 413): batches over \(limit) "
            + "bytes are now sent in halves; lower [batch] max_bytes (or this uplink's max_batch_bytes) so batches "
            + "are made small enough for the receiver (a gzip request is several times smaller than max_bytes)")
    }

    private func url(for signal: Signal) -> String? {
        switch signal {
        case .metrics: configuration.metricsURL
        case .logs: configuration.logsURL
        case .alert: nil
        }
    }

    /// The batch as this receiver is configured to take it: as spooled when the encoding and compression already
    /// match (the usual case, no work), else decoded once and encoded again.
    private func body(of batch: Batch) throws -> [UInt8] {
        let compression = configuration.compression
        if batch.format == configuration.encoding.format, batch.contentEncoding == compression.contentEncoding {
            return batch.payload
        }
        return try OTLPPayload(batch).encoded(as: configuration.encoding, compression: compression)
    }

    // OTLP/HTTP, "Failures" (opentelemetry-proto docs/specification.md, OTLP/HTTP Response):
    // - 2xx is success; a 200 may carry `partial_success`, which "MUST NOT" be retried: log it.
    // - 429, 502, 503 and 504 are retryable, honouring `Retry-After` (seconds or HTTP-date) when present
    //   ("Throttling": the client SHOULD honour it; RFC 9110 §10.2.3). The delivery loop never waits less than its
    //   backoff, so `Retry-After: 0` or a date in the past cannot make it spin.
    // - every other 4xx and 5xx is not retryable: the batch is dropped for this receiver.
    // - a connection failure (no HTTP response) is retryable, with exponential backoff.
    func classify(_ outcome: HTTPOutcome, signal: Signal) -> DeliveryResult {
        switch outcome {
        case .transportFailure(_, let message):
            return .retry(after: nil, reason: "cannot reach \(configuration.name): \(message)")
        case .response(let status, let headers, let body):
            switch status {
            case 200..<300:
                // A captive portal (hotel, cellular login) or a proxy answers 200 with a page of its own: the batch
                // never reached a receiver, so it must stay in the spool.
                if let problem = Self.notOTLP(body, headers: headers, signal: signal) {
                    return .retry(after: nil, reason: "\(configuration.name) answered HTTP \(status) with \(problem), "
                        + "not an OTLP response (a captive portal or a proxy's login page?); the batch stays in the "
                        + "spool")
                }
                if let note = partialSuccess(body, signal: signal, headers: headers) { warn(note) }
                return .delivered
            case 300..<400:
                // Not followed: a redirect on a gateway's link is most often a captive portal's; an endpoint that
                // really moved is the operator's to change. Either way the batch stays.
                let location = headers.first { $0.0 == "location" }?.1.prefix(200) ?? "nowhere"
                return .retry(after: nil, reason: "HTTP \(status) redirect to \(location): a captive portal, or the "
                    + "endpoint moved (set endpoint to the new URL); the batch stays in the spool")
            case 429, 502, 503, 504:
                return .retry(after: retryAfter(headers, status: status), reason: "HTTP \(status)\(Self.detail(body))")
            default:
                return .rejected(reason: "HTTP \(status)\(Self.detail(body))")
            }
        }
    }

    /// Why a 2xx body is not an OTLP export response, or nil when it can be one. OTLP/HTTP, "OTLP/HTTP Response": the
    /// body is the Export*ServiceResponse, protobuf or JSON as requested (receivers also send an empty body). A page
    /// (HTML or XML, declared or recognisable) is not one, nor is a protobuf or JSON body that does not decode as one.
    /// Anything else (a `text/plain` "OK" from a minimal receiver) is taken as delivered.
    static func notOTLP(_ body: [UInt8], headers: [(String, String)], signal: Signal) -> String? {
        guard !body.isEmpty else { return nil }
        let type = headers.first { $0.0 == "content-type" }?.1.lowercased() ?? ""
        let shown = "`\(type.isEmpty ? "no content type" : type)` (\(detail(body).dropFirst(2).prefix(60)))"
        let start = body.first { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }
        if type.contains("html") || type.contains("xml") || (start == UInt8(ascii: "<") && !type.contains("protobuf")) {
            return "a page, \(shown)"
        }
        let json = type.contains("json"), protobuf = type.contains("protobuf")
        guard json || protobuf else { return nil }
        let decodes: Bool
        if signal == .metrics {
            typealias Response = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse
            decodes = json ? (try? Response(jsonUTF8Bytes: body)) != nil : (try? Response(serializedBytes: body)) != nil
        } else {
            decodes = json
                ? (try? Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse(jsonUTF8Bytes: body)) != nil
                : (try? Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse(serializedBytes: body)) != nil
        }
        return decodes ? nil : "a body that does not decode as its declared \(shown)"
    }

    /// The receiver's `Retry-After` hint, or nil (with a warning, once per value) when there is none it can mean.
    private func retryAfter(_ headers: [(String, String)], status: Int) -> Duration? {
        guard let value = headers.first(where: { $0.0 == "retry-after" })?.1 else { return nil }
        switch RetryAfter.parse(value, serverDate: headers.first { $0.0 == "date" }?.1) {
        case .delay(let delay):
            return delay
        case .unusable(let reason):
            let shown = String(value.prefix(80))
            if lastUnusableRetryAfter.replace(with: shown) != shown {
                warn("\(configuration.name): HTTP \(status) with `Retry-After: \(shown)` (\(reason)): ignored, backing "
                    + "off as usual")
            }
            return nil
        }
    }

    /// The receiver's partial-success note, if it rejected part of the batch.
    private func partialSuccess(_ body: [UInt8], signal: Signal, headers: [(String, String)]) -> String? {
        guard !body.isEmpty else { return nil }
        let json = headers.first { $0.0 == "content-type" }?.1.contains("json") == true
        if signal == .metrics {
            let response = json
                ? try? Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse(jsonUTF8Bytes: body)
                : try? Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse(serializedBytes: body)
            guard let partial = response?.partialSuccess, response?.hasPartialSuccess == true,
                partial.rejectedDataPoints > 0 || !partial.errorMessage.isEmpty
            else { return nil }
            return "\(configuration.name) accepted the batch partially: \(partial.rejectedDataPoints) data points "
                + "rejected: \(partial.errorMessage)"
        }
        let response = json
            ? try? Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse(jsonUTF8Bytes: body)
            : try? Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse(serializedBytes: body)
        guard let partial = response?.partialSuccess, response?.hasPartialSuccess == true,
            partial.rejectedLogRecords > 0 || !partial.errorMessage.isEmpty
        else { return nil }
        return "\(configuration.name) accepted the batch partially: \(partial.rejectedLogRecords) log records "
            + "rejected: \(partial.errorMessage)"
    }

    /// A short, printable piece of the response body for the operator.
    static func detail(_ body: [UInt8]) -> String {
        let printable = String(decoding: body.prefix(200), as: UTF8.self)
            .filter { $0.isLetter || $0.isNumber || $0.isPunctuation || $0 == " " }
        return printable.isEmpty ? "" : ": \(printable)"
    }
}

extension OTLPHTTPUplink: UplinkKind {
    package static let kind = "otlp_http"

    package static func read(_ reader: ConfigReader, context: UplinkContext) -> (any UplinkSettings)? {
        OTLPHTTPUplinkConfiguration.read(reader, environment: context.environment, batchEncoding: context.batchEncoding,
                                         batchGzipLevel: context.batchGzipLevel, batchZstdLevel: context.batchZstdLevel,
                                         batchCompression: context.batchCompression, context: context.resolve)
    }
}

extension OTLPHTTPUplinkConfiguration: UplinkSettings {
    package var accepts: Set<Signal> { Signal.otlp }
    package var endpoint: String { metricsURL }

    package var startupWarnings: [String] {
        guard tls.insecureSkipVerify else { return [] }
        return ["uplink \(name): insecure_skip_verify = true: TLS certificates and host names are NOT verified; "
            + "anyone on the path can read and change what is sent"]
    }

    package func makeUplink(_ resources: UplinkResources) -> any Uplink {
        OTLPHTTPUplink(configuration: self, warn: resources.warn)
    }
}

/// The last of a series of values, to say something once per change rather than once per occurrence.
final class LastValue: Sendable {
    private let value = Mutex<String?>(nil)

    /// Stores `new` and returns what was there before.
    func replace(with new: String) -> String? {
        value.withLock { value in
            defer { value = new }
            return value
        }
    }
}

/// The largest request size a receiver is known to take: only ever lowered.
final class LearnedLimit: Sendable {
    private let limit = Mutex<Int?>(nil)

    var value: Int? { limit.withLock { $0 } }

    /// Lowers the limit to `size`; the new limit when it changed, else nil.
    func lower(to size: Int) -> Int? {
        limit.withLock { limit in
            guard size < (limit ?? .max) else { return nil }
            limit = max(size, 1)
            return limit
        }
    }
}
