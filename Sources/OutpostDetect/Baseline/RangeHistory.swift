/// The lowest and highest values of a series over a bounded horizon, in a fixed number of time blocks.
///
/// A value outside this range is a *new high* or *new low* for the horizon. Memory is `blockCount` pairs whatever
/// the sample rate (one array: lows first, then highs): each block keeps only its minimum and maximum, and the
/// oldest block is forgotten as time moves on, so the horizon is between `horizon - horizon / blockCount` and
/// `horizon` long.
struct RangeHistory: Sendable {
    static let blockCount = 12
    private let blockLength: Int64
    /// `blockCount` lows, then `blockCount` highs.
    private var bounds: [Double]
    /// The block index (time / blockLength) of the newest block, nil before the first value.
    private var newest: Int64?

    /// `horizon` in nanoseconds; zero or less turns the history off (every value is inside it).
    init(horizon: Int64) {
        blockLength = max(1, horizon / Int64(Self.blockCount))
        bounds = horizon > 0
            ? Array(repeating: .infinity, count: Self.blockCount) + Array(repeating: -.infinity, count: Self.blockCount)
            : []
    }

    var isEnabled: Bool { !bounds.isEmpty }
    var isEmpty: Bool { newest == nil }

    /// Whether `value` lies more than `margin` beyond every value kept, above (`high`) or below.
    func isOutside(_ value: Double, margin: Double, high: Bool) -> Bool {
        guard isEnabled, newest != nil else { return false }
        return high ? value > highest() + margin : value < lowest() - margin
    }

    /// The highest value kept (-infinity when none), optionally leaving out the newest block.
    func highest(exceptNewest: Bool = false) -> Double {
        var result = -Double.infinity
        guard isEnabled else { return result }
        for slot in 0..<Self.blockCount where !(exceptNewest && slot == newestSlot) {
            result = max(result, bounds[Self.blockCount + slot])
        }
        return result
    }

    /// The lowest value kept (+infinity when none), optionally leaving out the newest block.
    func lowest(exceptNewest: Bool = false) -> Double {
        var result = Double.infinity
        guard isEnabled else { return result }
        for slot in 0..<Self.blockCount where !(exceptNewest && slot == newestSlot) {
            result = min(result, bounds[slot])
        }
        return result
    }

    private var newestSlot: Int { newest.map(Self.slot) ?? -1 }

    /// The ring slot of block `index` (times before 1970 give negative blocks).
    private static func slot(_ index: Int64) -> Int {
        Int(((index % Int64(blockCount)) + Int64(blockCount)) % Int64(blockCount))
    }

    mutating func add(_ value: Double, time: Int64) {
        guard isEnabled else { return }
        let block = time / blockLength
        if let newest, block > newest {
            // Clear every block the clock passed over, at most all of them.
            for skipped in (newest + 1)...min(block, newest + Int64(Self.blockCount)) {
                let slot = Self.slot(skipped)
                bounds[slot] = .infinity
                bounds[Self.blockCount + slot] = -.infinity
            }
        }
        if newest == nil || block > newest! { newest = block }
        let slot = Self.slot(newest!)
        bounds[slot] = min(bounds[slot], value)
        bounds[Self.blockCount + slot] = max(bounds[Self.blockCount + slot], value)
    }
}
