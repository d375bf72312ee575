import CCurl
import OutpostCore

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP request as libcurl sends it.
package struct HTTPRequest: Sendable {
    package var url: String
    package var headers: [(String, String)]
    package var body: [UInt8]
    package var timeout: Duration

    package init(url: String, headers: [(String, String)], body: [UInt8], timeout: Duration) {
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// What came back, or why nothing did.
package enum HTTPOutcome: Sendable {
    case response(status: Int, headers: [(String, String)], body: [UInt8])
    /// No HTTP response: connection refused, DNS, TLS failure, timeout. `code` is libcurl's CURLcode.
    case transportFailure(code: Int, message: String)
}

/// TLS settings for one endpoint.
package struct TLSSettings: Sendable, Equatable {
    /// PEM bundle of CAs to trust instead of the system's.
    package var caFile: String?
    package var clientCertificate: String?
    package var clientKey: String?
    /// Turns certificate and host name verification off. Only for tests and labs.
    package var insecureSkipVerify = false

    package init(caFile: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil,
                insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.insecureSkipVerify = insecureSkipVerify
    }
}

/// A blocking HTTP client over libcurl, run on a serial thread of its own (never the cooperative pool).
///
/// One easy handle is reused so the connection (and TLS session) stays open between batches. Proxies come from the
/// environment (`https_proxy`, `no_proxy`, ...), as libcurl reads them by default.
///
/// - A kept-alive connection that the server closed while idle: libcurl itself retries the request once on a fresh
///   connection when the reused one fails before any answer (nothing received, the send or receive failed).
///   One that a NAT box or a cellular carrier forgot fails silently: the request goes nowhere and times out. Such a
///   request (on a reused connection, with nothing received) is tried once more at once on a fresh connection
///   before it counts as a failure.
/// - Certificates and keys rotated on disk (`ca_file`, `client_certificate`, `client_key`: Let's Encrypt, a fleet
///   CA) are picked up at the next connection: when one of the files changed, the handle is made afresh, with its
///   connections, TLS sessions and libcurl's CA cache (which would otherwise keep the old CA for a day).
package final class CurlHTTPClient: Sendable {
    private let executor: BlockingExecutor
    private let handle: CurlHandle
    private let tls: TLSSettings

    package init(label: String, tls: TLSSettings) {
        executor = BlockingExecutor(label: "http.\(label)")
        handle = CurlHandle()
        self.tls = tls
    }

    package func send(_ request: HTTPRequest) async -> HTTPOutcome {
        await sendCounting(request).outcome
    }

    /// Sends `request` and says how many HTTP bytes the exchange put on the wire, both ways (headers and bodies, as
    /// libcurl sent and received them; a failed attempt counts what went before it failed).
    package func sendCounting(_ request: HTTPRequest) async -> (outcome: HTTPOutcome, wireBytes: Int) {
        let handle = self.handle, tls = self.tls
        return await executor.run {
            let outcome = handle.perform(request, tls: tls)
            return (outcome, handle.takeWireBytes())
        }
    }
}

/// The libcurl easy handle and the buffers its callbacks fill.
///
/// `@unchecked Sendable` is safe because `perform` is only ever called from the owning client's serial executor, so
/// the handle and the buffers are used by one thread at a time; libcurl calls the callbacks on that same thread,
/// during `curl_easy_perform`.
final class CurlHandle: @unchecked Sendable {
    private var easy: UnsafeMutableRawPointer?
    /// Why libcurl could not be loaded (not installed, say): every request fails with it, and the uplink backs off.
    private let loadError: String?
    fileprivate var responseBody: [UInt8] = []
    fileprivate var responseHead = HTTPResponseHead()
    /// The TLS files as they were when the handle was made.
    private var tlsFiles: [FileIdentity]?
    /// Filled by libcurl's debug callback (in C): HTTP bytes both ways since the last `takeWireBytes`. On the heap,
    /// because libcurl keeps its address.
    private let wireBytes = UnsafeMutablePointer<CLongLong>.allocate(capacity: 1)

    init() {
        wireBytes.initialize(to: 0)
        loadError = outpost_curl_load().map { String(cString: $0) }
        easy = loadError == nil ? outpost_curl_easy_init() : nil
        if let easy { outpost_curl_count_wire_bytes(easy, wireBytes) }
    }

    deinit {
        if let easy { outpost_curl_easy_cleanup(easy) }
        wireBytes.deallocate()
    }

    /// HTTP bytes on the wire since the last call.
    func takeWireBytes() -> Int {
        defer { wireBytes.pointee = 0 }
        return Int(wireBytes.pointee)
    }

    func perform(_ request: HTTPRequest, tls: TLSSettings) -> HTTPOutcome {
        if let loadError { return .transportFailure(code: -1, message: loadError) }
        renewIfTLSFilesChanged(tls)
        guard easy != nil else { return .transportFailure(code: -1, message: "curl_easy_init failed") }
        let first = performOnce(request, tls: tls, fresh: false)
        if case .transportFailure(let code, _) = first, code == Self.timedOut, reusedWithoutAnswer {
            return performOnce(request, tls: tls, fresh: true)
        }
        return first
    }

    /// CURLE_OPERATION_TIMEDOUT.
    static let timedOut = 28

    /// Whether the last transfer ran on a connection kept from an earlier one (CURLINFO_NUM_CONNECTS is 0 then) and
    /// received not even a header byte: a connection that died without anyone saying so.
    private var reusedWithoutAnswer: Bool {
        guard let easy else { return false }
        var connects = 0, headerBytes = 0
        outpost_curl_get_long(easy, CURLINFO_NUM_CONNECTS, &connects)
        outpost_curl_get_long(easy, CURLINFO_HEADER_SIZE, &headerBytes)
        return connects == 0 && headerBytes == 0
    }

    private func renewIfTLSFilesChanged(_ tls: TLSSettings) {
        let paths = [tls.caFile, tls.clientCertificate, tls.clientKey].compactMap { $0 }
        guard !paths.isEmpty else { return }
        let current = paths.map(FileIdentity.init(path:))
        defer { tlsFiles = current }
        guard let known = tlsFiles, known != current, let old = easy else { return }
        outpost_curl_easy_cleanup(old)
        easy = outpost_curl_easy_init()
        if let easy { outpost_curl_count_wire_bytes(easy, wireBytes) }
    }

    private func performOnce(_ request: HTTPRequest, tls: TLSSettings, fresh: Bool) -> HTTPOutcome {
        guard let easy else { return .transportFailure(code: -1, message: "curl_easy_init failed") }
        responseBody = []
        responseHead = HTTPResponseHead()
        var headerList: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers + [("Expect", "")] {
            headerList = outpost_curl_slist_append(headerList, "\(name): \(value)")
        }
        defer { outpost_curl_slist_free_all(headerList) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE))
        let code: CURLcode = request.body.withUnsafeBytes { body in
            errorBuffer.withUnsafeMutableBufferPointer { errors in
                configure(easy, request, tls: tls, headers: headerList, body: body, errors: errors.baseAddress)
                outpost_curl_set_long(easy, CURLOPT_FRESH_CONNECT, fresh ? 1 : 0)
                return outpost_curl_easy_perform(easy)
            }
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: outpost_curl_easy_strerror(code)) : detail
            return .transportFailure(code: Int(code.rawValue), message: message)
        }
        var status = 0
        outpost_curl_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
        let headers = responseHead.fields.map { ($0.name, $0.value) }
        return .response(status: status, headers: headers, body: responseBody)
    }

    private func configure(_ easy: UnsafeMutableRawPointer, _ request: HTTPRequest, tls: TLSSettings,
                           headers: UnsafeMutablePointer<curl_slist>?, body: UnsafeRawBufferPointer,
                           errors: UnsafeMutablePointer<CChar>?) {
        outpost_curl_set_string(easy, CURLOPT_URL, request.url)
        outpost_curl_set_long(easy, CURLOPT_POST, 1)
        outpost_curl_set_pointer(easy, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress))
        outpost_curl_set_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        outpost_curl_set_slist(easy, CURLOPT_HTTPHEADER, headers)
        let milliseconds = Int(UnixNanos.from(request.timeout) / 1_000_000)
        outpost_curl_set_long(easy, CURLOPT_TIMEOUT_MS, milliseconds)
        outpost_curl_set_long(easy, CURLOPT_CONNECTTIMEOUT_MS, min(milliseconds, 10_000))
        outpost_curl_set_long(easy, CURLOPT_NOSIGNAL, 1)
        outpost_curl_set_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        outpost_curl_set_pointer(easy, CURLOPT_ERRORBUFFER, errors)
        outpost_curl_set_string(easy, CURLOPT_USERAGENT, "outpost/\(OutpostVersion.current)")
        let context = Unmanaged.passUnretained(self).toOpaque()
        outpost_curl_set_callback(easy, CURLOPT_WRITEFUNCTION, curlBodyCallback)
        outpost_curl_set_pointer(easy, CURLOPT_WRITEDATA, context)
        outpost_curl_set_callback(easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback)
        outpost_curl_set_pointer(easy, CURLOPT_HEADERDATA, context)
        outpost_curl_set_long(easy, CURLOPT_SSL_VERIFYPEER, tls.insecureSkipVerify ? 0 : 1)
        outpost_curl_set_long(easy, CURLOPT_SSL_VERIFYHOST, tls.insecureSkipVerify ? 0 : 2)
        if let caFile = tls.caFile { outpost_curl_set_string(easy, CURLOPT_CAINFO, caFile) }
        if let certificate = tls.clientCertificate { outpost_curl_set_string(easy, CURLOPT_SSLCERT, certificate) }
        if let key = tls.clientKey { outpost_curl_set_string(easy, CURLOPT_SSLKEY, key) }
    }

    fileprivate func appendBody(_ data: UnsafeRawBufferPointer) {
        // A receiver's response is small; cap it so a misbehaving one cannot exhaust memory.
        if responseBody.count < 1 << 20 { responseBody.append(contentsOf: data) }
    }

    fileprivate func appendHeader(_ line: UnsafeRawBufferPointer) {
        responseHead.consume(line: line)
    }
}

/// A file as the file system sees it now (inode, size, change time), to notice a certificate replaced on disk,
/// whether rewritten in place or renamed over (as certbot and most fleet tools do).
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let changed: Int64
    let changedNanos: Int64

    init(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            self.init(device: 0, inode: 0, size: -1, changed: 0, changedNanos: 0)
            return
        }
        self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                  changed: Int64(info.st_ctim.tv_sec), changedNanos: Int64(info.st_ctim.tv_nsec))
    }

    private init(device: UInt64, inode: UInt64, size: Int64, changed: Int64, changedNanos: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
        self.changed = changed
        self.changedNanos = changedNanos
    }
}

// The callbacks are formed here, in library code, as plain C function pointers; the handle travels through the
// `void *` user data. (Closures formed in top-level `main.swift` code would be main-actor isolated and crash when
// libcurl calls them.)
private let curlBodyCallback: outpost_curl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let handle = Unmanaged<CurlHandle>.fromOpaque(context).takeUnretainedValue()
    handle.appendBody(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

private let curlHeaderCallback: outpost_curl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let handle = Unmanaged<CurlHandle>.fromOpaque(context).takeUnretainedValue()
    handle.appendHeader(UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}
