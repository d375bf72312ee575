import Synchronization

/// The queue between two pipeline tasks: many senders, one consumer. `send` waits while `capacity` elements are
/// queued (back-pressure: a fast replay cannot flood memory), the consumer iterates with `for await`.
///
/// `finish` ends the stream after everything sent before it: senders waiting then are let go with their elements
/// kept, so a graceful stop drains, never drops; what is sent after it is dropped, as nothing will read it. A
/// cancelled sender's element is dropped (its task is being torn down); a cancelled consumer ends its iteration.
///
/// Ours rather than swift-async-algorithms' `AsyncChannel`: the pipeline needs only this, and the package cost the
/// static binary 1.2 MiB (measured with `nm --size-sort`).
package final class Handoff<Element: Sendable>: AsyncSequence, Sendable {
    private struct Sender {
        let id: UInt64
        let element: Element
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var buffer: [Element] = []
        var senders: [Sender] = []
        var receiver: CheckedContinuation<Element?, Never>?
        var finished = false
        var receiverCancelled = false
        var lastSenderID: UInt64 = 0
        /// Senders cancelled before they were queued.
        var cancelledSenders: Set<UInt64> = []
    }

    private let state = Mutex(State())
    private let capacity: Int

    package init(capacity: Int = 16) {
        self.capacity = Swift.max(0, capacity)
    }

    package func send(_ element: Element) async {
        let id = state.withLock { state -> UInt64 in
            state.lastSenderID += 1
            return state.lastSenderID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                enqueue(Sender(id: id, element: element, continuation: continuation))?()
            }
        } onCancel: {
            let waiting = state.withLock { state -> Sender? in
                guard let index = state.senders.firstIndex(where: { $0.id == id }) else {
                    state.cancelledSenders.insert(id)
                    return nil
                }
                return state.senders.remove(at: index)
            }
            waiting?.continuation.resume()
        }
    }

    /// Takes `sender`'s element at once when it can (handing it to a waiting consumer, or into the buffer), else
    /// queues the sender. Returns the resumptions to run outside the lock.
    private func enqueue(_ sender: Sender) -> (() -> Void)? {
        state.withLock { state -> (() -> Void)? in
            // Cancelled, or sent after the stream ended: dropped, as nothing will read it.
            if state.cancelledSenders.remove(sender.id) != nil || state.receiverCancelled || state.finished {
                return { sender.continuation.resume() }
            }
            if let receiver = state.receiver {
                state.receiver = nil
                return {
                    receiver.resume(returning: sender.element)
                    sender.continuation.resume()
                }
            }
            if state.buffer.count < capacity {
                state.buffer.append(sender.element)
                return { sender.continuation.resume() }
            }
            state.senders.append(sender)
            return nil
        }
    }

    /// The next element, or nil once finished and drained (or when the consumer's task is cancelled).
    package func next() async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                take(continuation)()
            }
        } onCancel: {
            let receiver = state.withLock { state -> CheckedContinuation<Element?, Never>? in
                state.receiverCancelled = true
                defer { state.receiver = nil }
                return state.receiver
            }
            receiver?.resume(returning: nil)
        }
    }

    private func take(_ continuation: CheckedContinuation<Element?, Never>) -> () -> Void {
        state.withLock { state -> () -> Void in
            if !state.buffer.isEmpty {
                let element = state.buffer.removeFirst()
                let admitted = state.senders.isEmpty ? nil : state.senders.removeFirst()
                if let admitted { state.buffer.append(admitted.element) }
                return {
                    admitted?.continuation.resume()
                    continuation.resume(returning: element)
                }
            }
            if !state.senders.isEmpty {
                let sender = state.senders.removeFirst()
                return {
                    sender.continuation.resume()
                    continuation.resume(returning: sender.element)
                }
            }
            if state.finished || state.receiverCancelled { return { continuation.resume(returning: nil) } }
            state.receiver = continuation
            return {}
        }
    }

    /// Ends the stream after what was sent before: waiting senders are let go, their elements queued.
    package func finish() {
        let (receiver, senders) = state.withLock { state -> (CheckedContinuation<Element?, Never>?, [Sender]) in
            state.finished = true
            let senders = state.senders
            state.buffer += senders.map(\.element)
            state.senders = []
            let receiver = state.buffer.isEmpty ? state.receiver : nil
            if receiver != nil { state.receiver = nil }
            return (receiver, senders)
        }
        for sender in senders { sender.continuation.resume() }
        receiver?.resume(returning: nil)
    }

    package struct Iterator: AsyncIteratorProtocol {
        let handoff: Handoff

        package mutating func next() async -> Element? {
            await handoff.next()
        }
    }

    package func makeAsyncIterator() -> Iterator {
        Iterator(handoff: self)
    }
}
