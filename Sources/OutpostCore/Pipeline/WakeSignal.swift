import Synchronization

/// Wakes a waiting delivery loop when new batches are spooled, or lets it sleep until a deadline.
///
/// A signal that arrives while nobody waits is remembered, so the next `wait` returns at once and no batch is
/// left waiting for the next timeout.
package final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation = 0
        /// A timeout or cancellation that came before its waiter was installed.
        var expired = 0
    }

    private let state = Mutex(State())

    package init() {}

    package func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns on a signal, after `timeout` on `clock`, or when the task is cancelled.
    package func wait<C: Clock<Duration>>(upTo timeout: Duration, clock: C) async {
        let generation = state.withLock { state -> Int? in
            if state.pending {
                state.pending = false
                return nil
            }
            state.generation += 1
            return state.generation
        }
        guard let generation else { return }
        let timer = Task { [weak self] in
            try? await clock.sleep(for: timeout, tolerance: nil)
            self?.wakeUp(generation: generation)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    guard state.generation == generation, !state.pending, state.expired != generation else {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            wakeUp(generation: generation)
        }
        timer.cancel()
    }

    private func wakeUp(generation: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.generation == generation else { return nil }
            guard let waiter = state.waiter else {
                state.expired = generation
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}
