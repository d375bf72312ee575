import OutpostCore
import Synchronization

import Glibc

/// An answer of the local endpoint.
package struct HTTPResponse: Sendable, Equatable {
    package var status: Int
    package var contentType: String
    package var body: [UInt8]

    package init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
        self.status = status
        self.contentType = contentType
        self.body = Array(body.utf8)
    }
}

/// A minimal HTTP/1.1 server for the local endpoint: one thread of its own, `poll(2)` over the listening socket and
/// at most `maximumConnections` clients, one request per connection (`Connection: close`), GET and HEAD only.
///
/// Measured against Hummingbird (swift-nio) for the endpoint's three GETs, in BENCHMARKS.md: it adds a few hundred
/// kilobytes and one thread, where swift-nio adds megabytes and an event loop per core. What it refuses: bodies,
/// keep-alive, pipelining, chunked requests, anything but origin-form targets. A client gets `requestTimeout` to send
/// its head (a slow or idle client is closed, never holding the thread), and answers are written with the same
/// bound. `handler` runs on this thread too (`ServerThreadExecutor`), so the endpoint answers even while the
/// cooperative pool is busy or blocked: a wedged pipeline is when `/health` matters most.
package final class HTTPServer: Sendable {
    package static let maximumConnections = 16
    package static let requestTimeout: Duration = .seconds(5)

    /// Where it listens (the port the kernel chose when asked for port 0).
    package let address: String
    package let port: Int
    private let listener: Int32
    /// Written to wake the thread: a response is ready, or it must stop.
    private let wake: (read: Int32, write: Int32)
    private let handler: @Sendable (HTTPRequestHead) async -> HTTPResponse
    private let shared = Mutex(Shared())
    private let stoppedSignal = WakeSignal()
    /// The thread's time, for the clients' deadlines.
    private let monotonic = MonotonicClock(ContinuousClock())
    /// Where the handlers run: this server's own thread.
    private let executor: ServerThreadExecutor

    private struct Shared {
        /// Answers by connection number (a descriptor is reused once closed; a number never is).
        var ready: [Int: [UInt8]] = [:]
        var stopping = false
        var started = false
        var stopped = false
    }

    /// Binds and listens on `host:port` (an IPv4 or IPv6 literal, or `localhost`); throws what the operator must fix
    /// (the address is in use, not this machine's). Serves once `start` is called.
    package init(host: String, port: Int, handler: @escaping @Sendable (HTTPRequestHead) async -> HTTPResponse)
        throws(HTTPServerError)
    {
        self.handler = handler
        (listener, self.port) = try Self.listen(host: host, port: port)
        address = host
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            close(listener)
            throw HTTPServerError("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        for end in pipeEnds { Self.makeNonBlocking(end) }
        wake = (pipeEnds[0], pipeEnds[1])
        executor = ServerThreadExecutor(wake: { [write = pipeEnds[1]] in
            var byte: UInt8 = 1
            _ = Glibc.write(write, &byte, 1)
        })
    }

    private static func makeNonBlocking(_ descriptor: Int32) {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        _ = fcntl(descriptor, F_SETFD, fcntl(descriptor, F_GETFD) | FD_CLOEXEC)
    }

    deinit {
        close(listener)
        close(wake.read)
        close(wake.write)
    }

    /// Starts the server's thread (`outpost-http`).
    package func start() {
        shared.withLock { $0.started = true }
        WorkerThread.start(name: "outpost-http") { [self] in
            serve()
            shared.withLock { $0.stopped = true }
            stoppedSignal.signal()
        }
    }

    /// Stops serving, closes every connection and waits until the thread is done.
    package func stop() async {
        shared.withLock { $0.stopping = true }
        signalThread()
        while shared.withLock({ $0.started && !$0.stopped }) {
            await stoppedSignal.wait(upTo: .milliseconds(100), clock: ContinuousClock())
        }
    }

    private func signalThread() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    // MARK: - The thread

    private struct Client {
        let number: Int
        var buffer: [UInt8] = []
        let deadline: Int64
        var answered = false
    }

    private func serve() {
        var clients: [Int32: Client] = [:]
        var accepted = 0
        while !shared.withLock({ $0.stopping }) {
            var descriptors = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            if clients.count < Self.maximumConnections {
                descriptors.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            }
            for (descriptor, client) in clients where !client.answered {
                descriptors.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0))
            }
            _ = poll(&descriptors, nfds_t(descriptors.count), 1000)
            drainWake()
            executor.runPending()
            writeReady(&clients)
            for entry in descriptors where entry.revents != 0 {
                if entry.fd == listener {
                    accepted += 1
                    accept(into: &clients, number: accepted)
                } else if entry.fd != wake.read {
                    read(entry.fd, clients: &clients)
                }
            }
            closeExpired(&clients)
        }
        for descriptor in clients.keys { close(descriptor) }
        executor.close()
    }

    private func drainWake() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while Glibc.read(wake.read, &bytes, bytes.count) > 0 {}
    }

    private func accept(into clients: inout [Int32: Client], number: Int) {
        let descriptor = Glibc.accept(listener, nil, nil)
        guard descriptor >= 0 else { return }
        Self.makeNonBlocking(descriptor)
        let deadline = monotonic.nowNanos() + UnixNanos.from(Self.requestTimeout)
        clients[descriptor] = Client(number: number, deadline: deadline)
    }

    private func read(_ descriptor: Int32, clients: inout [Int32: Client]) {
        guard var client = clients[descriptor] else { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = Glibc.read(descriptor, &chunk, chunk.count)
        if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard count > 0 else {
            close(descriptor)
            clients[descriptor] = nil
            return
        }
        client.buffer += chunk[..<count]
        switch HTTPRequestHead.parse(client.buffer) {
        case .incomplete:
            clients[descriptor] = client
        case .invalid(let status, let reason):
            client.answered = true
            clients[descriptor] = client
            finish(client.number, HTTPResponse(status: status, body: reason + "\n"), head: false)
        case .request(let head):
            client.answered = true
            clients[descriptor] = client
            answer(head, on: client.number)
        }
    }

    /// Asks the handler on the cooperative pool; the answer comes back through `ready` and the wake pipe.
    private func answer(_ head: HTTPRequestHead, on connection: Int) {
        guard head.method == "GET" || head.method == "HEAD" else {
            return finish(connection, HTTPResponse(status: 405, body: "only GET and HEAD\n"), head: false)
        }
        Task(executorPreference: executor) { [handler] in
            let response = await handler(head)
            self.finish(connection, response, head: head.method == "HEAD")
        }
    }

    private func finish(_ connection: Int, _ response: HTTPResponse, head: Bool) {
        shared.withLock { $0.ready[connection] = Self.serialize(response, withBody: !head) }
        signalThread()
    }

    private func writeReady(_ clients: inout [Int32: Client]) {
        let ready = shared.withLock { shared -> [Int: [UInt8]] in
            defer { shared.ready = [:] }
            return shared.ready
        }
        for (descriptor, client) in clients {
            guard let bytes = ready[client.number] else { continue }
            writeAll(bytes, to: descriptor, until: client.deadline + UnixNanos.from(Self.requestTimeout))
            closeGently(descriptor)
            clients[descriptor] = nil
        }
    }

    /// Writes with a bound: a client that stops reading is dropped at its deadline.
    private func writeAll(_ bytes: [UInt8], to descriptor: Int32, until deadline: Int64) {
        var offset = 0
        while offset < bytes.count, monotonic.nowNanos() < deadline {
            let written = bytes[offset...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                offset += written
            } else if written < 0 && (errno == EAGAIN || errno == EINTR) {
                var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&entry, 1, 100)
            } else {
                return
            }
        }
    }

    /// RFC 9112 §9.6: closing with unread input makes the kernel send a reset, which can destroy the answer before
    /// the client reads it (a refused oversized head). Half-close, discard what is already there, then close.
    private func closeGently(_ descriptor: Int32) {
        shutdown(descriptor, Int32(SHUT_WR))
        var discard = [UInt8](repeating: 0, count: 16384)
        var drained = 0
        while drained < 1 << 20 {
            let count = Glibc.read(descriptor, &discard, discard.count)
            guard count > 0 else { break }
            drained += count
        }
        close(descriptor)
    }

    private func closeExpired(_ clients: inout [Int32: Client]) {
        let now = monotonic.nowNanos()
        // Answered clients wait for their handler; a handler never takes long, but a bound keeps the table small.
        for (descriptor, client) in clients where now > client.deadline + (client.answered ? 5_000_000_000 : 0) {
            close(descriptor)
            clients[descriptor] = nil
        }
    }

    static func serialize(_ response: HTTPResponse, withBody: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(response.status) \(reasonPhrase(response.status))\r\n"
        head += "Content-Type: \(response.contentType)\r\n"
        head += "Content-Length: \(response.body.count)\r\n"
        head += "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + (withBody ? response.body : [])
    }

    private static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }

    // MARK: - Listening

    private static func listen(host: String, port: Int) throws(HTTPServerError) -> (Int32, Int) {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let name = host == "localhost" ? "127.0.0.1" : host
        guard getaddrinfo(name, String(port), &hints, &found) == 0, let info = found else {
            throw HTTPServerError("`\(host)` is not an IP address; give one (127.0.0.1, ::1, 0.0.0.0)")
        }
        defer { freeaddrinfo(found) }
        let descriptor = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else {
            throw HTTPServerError("cannot create a socket: \(String(cString: strerror(errno)))")
        }
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        guard bind(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0,
            Glibc.listen(descriptor, 16) == 0
        else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw HTTPServerError("cannot listen on \(host):\(port): \(reason)")
        }
        makeNonBlocking(descriptor)
        var bound = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let boundPort = withUnsafeMutablePointer(to: &bound) { pointer -> Int in
            _ = pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            if Int32(pointer.pointee.ss_family) == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                Int(UInt16(bigEndian: $0.pointee.sin_port))
            }
        }
        return (descriptor, boundPort)
    }
}

package struct HTTPServerError: Error, CustomStringConvertible, Sendable {
    package let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Runs the jobs of the endpoint's handlers on the server's thread, between two polls. A job that arrives once the
/// thread has stopped goes to the global executor, so no handler is left suspended forever.
final class ServerThreadExecutor: TaskExecutor {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var closed = false
    }

    private let queue = Mutex(Queue())
    private let wake: @Sendable () -> Void

    init(wake: @escaping @Sendable () -> Void) {
        self.wake = wake
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let accepted = queue.withLock { queue -> Bool in
            guard !queue.closed else { return false }
            queue.jobs.append(job)
            return true
        }
        guard accepted else { return globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
        wake()
    }

    /// On the server's thread: runs what is queued (and what those jobs queue in turn, until nothing is left).
    func runPending() {
        while true {
            let jobs = queue.withLock { queue -> [UnownedJob] in
                defer { queue.jobs = [] }
                return queue.jobs
            }
            guard !jobs.isEmpty else { return }
            for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }

    /// The thread stops: what is queued runs once more, what comes later goes to the global executor.
    func close() {
        runPending()
        let late = queue.withLock { queue -> [UnownedJob] in
            queue.closed = true
            defer { queue.jobs = [] }
            return queue.jobs
        }
        for job in late { globalConcurrentExecutor.enqueue(ExecutorJob(job)) }
    }
}
