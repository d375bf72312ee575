import CZlib

/// A zlib failure, with zlib's own code and message.
package struct GzipError: Error, Sendable, CustomStringConvertible {
    package let code: Int32
    package let message: String
    package var description: String { "gzip: \(message) (zlib code \(code))" }
}

/// gzip (RFC 1952) through the system zlib, the encoding OTLP/HTTP and our MQTT payloads use.
package enum Gzip {
    /// zlib's balance of speed and size, and `[batch] gzip_level`'s default.
    package static let defaultLevel: Int32 = 6

    /// The level to compress at when a receiver needs gzip: `[batch] gzip_level`, or zlib's default when that is 0
    /// (batches stored uncompressed).
    package static func level(whenCompressing configured: Int32) -> Int32 {
        configured > 0 ? configured : defaultLevel
    }

    /// Compresses `bytes` at `level` (0 none … 9 best).
    package static func compress(_ bytes: [UInt8], level: Int32 = defaultLevel) throws(GzipError) -> [UInt8] {
        // z_stream holds pointers into itself once initialised: it must not move, so it lives on the heap.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard outpost_deflate_init_gzip(stream, level) == Z_OK else {
            throw GzipError(code: Z_STREAM_ERROR, message: "cannot initialise deflate at level \(level)")
        }
        defer { deflateEnd(stream) }
        let bound = Int(deflateBound(stream, UInt(bytes.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        let status = bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.pointee.avail_in = UInt32(input.count)
                stream.pointee.next_out = out.baseAddress
                stream.pointee.avail_out = UInt32(out.count)
                return deflate(stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw error(status, stream) }
        output.removeLast(output.count - Int(stream.pointee.total_out))
        return output
    }

    /// Decompresses a gzip member, refusing to grow past `limit` bytes (a hostile payload cannot exhaust memory).
    package static func decompress(_ bytes: [UInt8], limit: Int = 64 << 20) throws(GzipError) -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        guard outpost_inflate_init_gzip(stream) == Z_OK else {
            throw GzipError(code: Z_STREAM_ERROR, message: "cannot initialise inflate")
        }
        defer { inflateEnd(stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status: Int32 = Z_OK
        try bytes.withUnsafeBufferPointer { (input: UnsafeBufferPointer<UInt8>) throws(GzipError) in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.pointee.avail_in = UInt32(input.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { out -> Int in
                    stream.pointee.next_out = out.baseAddress
                    stream.pointee.avail_out = UInt32(out.count)
                    status = inflate(stream, Z_NO_FLUSH)
                    return out.count - Int(stream.pointee.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END else { throw error(status, stream) }
                output.append(contentsOf: chunk[0..<produced])
                guard output.count <= limit else {
                    throw GzipError(code: Z_BUF_ERROR, message: "decompressed data exceeds \(limit) bytes")
                }
                if status == Z_OK && produced == 0 && stream.pointee.avail_in == 0 {
                    throw GzipError(code: Z_DATA_ERROR, message: "truncated gzip data")
                }
            } while status != Z_STREAM_END
        }
        return output
    }

    private static func error(_ status: Int32, _ stream: UnsafeMutablePointer<z_stream>) -> GzipError {
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error"
        return GzipError(code: status, message: message)
    }
}
