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
        var headers = [("Content-Type", configuration.encoding.contentType)]
        let encoding = configuration.compression.contentEncoding
        if encoding != .identity { headers.append(("Content-Encoding", encoding.rawValue)) }
        headers += configuration.headers
        let (outcome, wireBytes) = await client.sendCounting(HTTPRequest(url: url, headers: headers, body: body,
                                                                         timeout: configuration.timeout))
        return CountedDelivery(classify(outcome, signal: batch.signal), wireBytes: wireBytes)
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
                if let note = partialSuccess(body, signal: signal, headers: headers) { warn(note) }
                return .delivered
            case 429, 502, 503, 504:
                return .retry(after: retryAfter(headers, status: status), reason: "HTTP \(status)\(Self.detail(body))")
            default:
                return .rejected(reason: "HTTP \(status)\(Self.detail(body))")
            }
        }
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
