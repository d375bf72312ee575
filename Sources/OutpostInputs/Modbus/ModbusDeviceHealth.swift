/// Whether a device answers, poll by poll: stale after `staleAfter` polls in a row without any answer, recovered
/// at its next answer. A value type, so the transitions are tested without a device.
package struct ModbusDeviceHealth: Sendable {
    package enum Transition: Sendable, Equatable {
        /// `polls` polls in a row went unanswered; the device counts as gone.
        case stale(polls: Int)
        /// The first answer after the device was stale, `silentFor` nanoseconds after its last answer (nil when it
        /// never answered before).
        case recovered(silentFor: Int64?)
    }

    /// `stale_after`: polls in a row without an answer before `outpost.device.stale`; 0 never.
    package let staleAfter: Int
    package private(set) var silentPolls = 0
    package private(set) var isStale = false
    /// When the device last answered (unix nanoseconds).
    package private(set) var lastAnswer: Int64?

    package init(staleAfter: Int) {
        self.staleAfter = staleAfter
    }

    /// Records one poll at `now`; an exception response is an answer (the device is there).
    package mutating func polled(answered: Bool, now: Int64) -> Transition? {
        guard answered else {
            silentPolls += 1
            guard staleAfter > 0, !isStale, silentPolls >= staleAfter else { return nil }
            isStale = true
            return .stale(polls: silentPolls)
        }
        let previous = lastAnswer
        lastAnswer = now
        silentPolls = 0
        guard isStale else { return nil }
        isStale = false
        return .recovered(silentFor: previous.map { now - $0 })
    }
}
