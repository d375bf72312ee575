import Dispatch

/// Runs blocking work (file reads that take 750 ms on 1-Wire, child processes) on a thread of its own.
///
/// Swift's cooperative pool has one thread per core (two to four on a Pi); a blocked read there stalls every
/// task. Each executor is a serial queue, which Dispatch backs with an overcommit thread outside that pool.
public struct BlockingExecutor: Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        self.queue = DispatchQueue(label: "outpost.blocking.\(label)")
    }

    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }
}
