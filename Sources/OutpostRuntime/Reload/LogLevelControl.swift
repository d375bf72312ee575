import Logging
import Synchronization

/// The log level a reload can change: the command's log handlers read it for every line, so `[log] level` takes
/// effect without a restart. (`outpost run --log-level` sets it at start; a reload then follows the file.)
package final class LogLevelControl: Sendable {
    private let level: Mutex<Logger.Level>

    package init(_ level: Logger.Level) {
        self.level = Mutex(level)
    }

    package var current: Logger.Level { level.withLock { $0 } }

    package func set(_ name: String) {
        guard let new = Logger.Level(rawValue: name) else { return }
        level.withLock { $0 = new }
    }
}
