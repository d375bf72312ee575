import CZstd
import OutpostCore

/// A libzstd failure, with its error name.
package struct ZstdError: Error, Sendable, CustomStringConvertible {
    package let message: String
    package var description: String { "zstd: \(message)" }

    init(_ message: String) {
        self.message = message
    }

    init(code: Int) {
        message = String(cString: ZSTD_getErrorName(code))
    }
}

/// zstd (RFC 8878) through the system libzstd: `Content-Encoding: zstd` for OTLP/HTTP (the OpenTelemetry
/// Collector's receiver takes it) and for MQTT payloads (the `content-encoding` user property).
///
/// One-shot frames with their content size and no dictionary: a receiver needs nothing but the reference decoder.
package enum Zstd {
    /// libzstd's own default, and `[batch] zstd_level`'s.
    package static let defaultLevel: Int32 = 3

    /// Compresses `bytes` into one frame at `level` (1 fastest … 19 smallest; 20-22 need more memory to decode).
    package static func compress(_ bytes: [UInt8], level: Int32 = defaultLevel) throws(ZstdError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let written = bytes.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                ZSTD_compress(out.baseAddress, out.count, input.baseAddress, input.count, level)
            }
        }
        guard ZSTD_isError(written) == 0 else { throw ZstdError(code: written) }
        output.removeLast(output.count - written)
        return output
    }

    /// Decompresses zstd frames, refusing to grow past `limit` bytes (a hostile payload cannot exhaust memory).
    package static func decompress(_ bytes: [UInt8], limit: Int = 64 << 20) throws(ZstdError) -> [UInt8] {
        guard let context = ZSTD_createDCtx() else { throw ZstdError("cannot create a decompression context") }
        defer { ZSTD_freeDCtx(context) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var pending = 0
        let failure = bytes.withUnsafeBytes { input -> ZstdError? in
            var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while true {
                var produced = 0
                let status = chunk.withUnsafeMutableBytes { out -> Int in
                    var target = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                    defer { produced = target.pos }
                    return ZSTD_decompressStream(context, &target, &source)
                }
                guard ZSTD_isError(status) == 0 else { return ZstdError(code: status) }
                output.append(contentsOf: chunk[0..<produced])
                guard output.count <= limit else { return ZstdError("decompressed data exceeds \(limit) bytes") }
                pending = status
                // Input used up and nothing more coming out: done (or, with a frame unfinished, truncated).
                if source.pos == source.size, produced < chunk.count { return nil }
            }
        }
        if let failure { throw failure }
        guard pending == 0 else { throw ZstdError("truncated zstd data") }
        return output
    }
}

/// How a batch's payload is compressed, with its level: what `Content-Encoding` (HTTP) or the `content-encoding`
/// user property (MQTT 5) then says.
package enum PayloadCompression: Sendable, Equatable {
    case none
    case gzip(level: Int32)
    case zstd(level: Int32)

    package var contentEncoding: ContentEncoding {
        switch self {
        case .none: .identity
        case .gzip: .gzip
        case .zstd: .zstd
        }
    }

    package func compress(_ bytes: [UInt8]) throws -> [UInt8] {
        switch self {
        case .none: bytes
        case .gzip(let level): try Gzip.compress(bytes, level: level)
        case .zstd(let level): try Zstd.compress(bytes, level: level)
        }
    }

    /// The payload of `encoding` as encoded, uncompressed (at most `limit` bytes).
    package static func decompress(_ bytes: [UInt8], from encoding: ContentEncoding, limit: Int = 64 << 20) throws
        -> [UInt8]
    {
        switch encoding {
        case .identity: bytes
        case .gzip: try Gzip.decompress(bytes, limit: limit)
        case .zstd: try Zstd.decompress(bytes, limit: limit)
        }
    }

    /// The same algorithm as `encoding` at its default level: how pieces of a spooled batch are compressed when the
    /// configured level is not known for it.
    package static func matching(_ encoding: ContentEncoding, gzipLevel: Int32 = Gzip.defaultLevel,
                                 zstdLevel: Int32 = Zstd.defaultLevel) -> PayloadCompression {
        switch encoding {
        case .identity: .none
        case .gzip: .gzip(level: Gzip.level(whenCompressing: gzipLevel))
        case .zstd: .zstd(level: zstdLevel)
        }
    }
}
