import OutpostCore
import SwiftProtobuf

/// Re-encodes a spooled batch when an uplink wants another encoding or compression than the spool holds.
package enum BatchTranscoder {
    /// The payload as `encoding`, gzip-compressed at `gzipLevel` (0: uncompressed).
    package static func payload(_ batch: Batch, encoding: OTLPEncoding, gzipLevel: Int32) throws
        -> (bytes: [UInt8], contentType: String, contentEncoding: String)
    {
        let wantGzip = gzipLevel > 0
        let sameEncoding = batch.contentType == encoding.contentType
        if sameEncoding && (batch.contentEncoding == "gzip") == wantGzip {
            return (batch.payload, batch.contentType, batch.contentEncoding)
        }
        var raw = batch.contentEncoding == "gzip" ? try Gzip.decompress(batch.payload) : batch.payload
        if !sameEncoding { raw = try convert(raw, signal: batch.signal, from: batch.contentType, to: encoding) }
        let bytes = wantGzip ? try Gzip.compress(raw, level: gzipLevel) : raw
        return (bytes, encoding.contentType, wantGzip ? "gzip" : "identity")
    }

    private static func convert(_ bytes: [UInt8], signal: String, from contentType: String, to encoding: OTLPEncoding)
        throws -> [UInt8]
    {
        let fromJSON = contentType == OTLPEncoding.json.contentType
        if signal == "metrics" {
            let request = fromJSON
                ? try Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest(jsonUTF8Bytes: bytes)
                : try Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest(serializedBytes: bytes)
            return try OTLPEncoder.serialize(request, as: encoding)
        }
        let request = fromJSON
            ? try Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest(jsonUTF8Bytes: bytes)
            : try Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest(serializedBytes: bytes)
        return try OTLPEncoder.serialize(request, as: encoding)
    }
}
