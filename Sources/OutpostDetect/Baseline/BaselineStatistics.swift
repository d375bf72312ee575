/// The running mean and variance of a series' normal behaviour.
///
/// Both methods start with Welford's exact algorithm (so the warm-up estimate is the true sample mean and
/// variance), then differ once `span` samples have been seen:
/// - `ewma` forgets old values exponentially with alpha = 2 / (span + 1), adapting to slow drifts;
/// - `window` keeps exactly the last `span` baseline samples (Welford with removal over a ring buffer).
package struct BaselineStatistics: Sendable {
    package enum Method: String, Sendable, CaseIterable {
        case ewma
        case window
    }

    package let method: Method
    package let span: Int
    package private(set) var count = 0
    package private(set) var mean = 0.0
    /// Sum of squared deviations (Welford's M2) while exact; the exponentially weighted variance after.
    private var spread = 0.0
    private var ring: [Double] = []
    private var ringStart = 0

    package init(method: Method, span: Int) {
        self.method = method
        self.span = max(2, span)
    }

    package var variance: Double {
        switch method {
        case .ewma where count > span: return max(0, spread)
        default: return count > 1 ? max(0, spread / Double(count - 1)) : 0
        }
    }

    package var standardDeviation: Double { variance.squareRoot() }

    package mutating func add(_ value: Double) {
        switch method {
        case .ewma where count >= span:
            if count == span { spread = variance }
            let alpha = 2.0 / Double(span + 1)
            let delta = value - mean
            mean += alpha * delta
            spread = (1 - alpha) * (spread + alpha * delta * delta)
            count += 1
        case .ewma:
            addExact(value)
        case .window:
            if ring.count == span {
                removeExact(ring[ringStart])
                ring[ringStart] = value
                ringStart = (ringStart + 1) % span
            } else {
                ring.append(value)
            }
            addExact(value)
        }
    }

    /// Starts over from `values` (a level shift accepted as the new normal).
    package mutating func reset(to values: some Sequence<Double>) {
        self = BaselineStatistics(method: method, span: span)
        for value in values { add(value) }
    }

    private mutating func addExact(_ value: Double) {
        count += 1
        let delta = value - mean
        mean += delta / Double(count)
        spread += delta * (value - mean)
    }

    private mutating func removeExact(_ value: Double) {
        guard count > 1 else {
            count = 0
            mean = 0
            spread = 0
            return
        }
        let delta = value - mean
        mean -= delta / Double(count - 1)
        spread -= delta * (value - mean)
        count -= 1
    }
}
