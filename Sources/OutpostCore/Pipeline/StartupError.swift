/// Something about the gateway that stops Outpost from starting and that the operator must fix: an unwritable
/// state directory, a path that points at a file that is not Outpost's. `outpost run` exits 78 (EX_CONFIG), so
/// systemd does not restart it in a loop.
package struct StartupError: Error, Sendable, CustomStringConvertible {
    package let message: String

    package init(_ message: String) {
        self.message = message
    }

    package var description: String { message }
}
