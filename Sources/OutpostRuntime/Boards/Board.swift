import OutpostCore
import OutpostSpool
import OutpostInputs

/// One board from `Boards/<name>.toml`: what to build for it and where its health data lives.
package struct Board: Sendable, Equatable {
    /// The file name without `.toml`: what `gateway.board` and `Scripts/cross-build` take.
    package let name: String
    package let description: String
    /// The Swift target triple to build for (`aarch64-unknown-linux-gnu`).
    package let triple: String
    /// Debian's name for the architecture (`arm64`): the sysroot's and the package's.
    package let debianArchitecture: String
    /// The CPU to emulate when a build is smoke-tested under qemu.
    package let cpu: String
    /// `[health]`: defaults of `[input.host]`.
    package let host: HostBoardDefaults
    /// `[defaults] spool_max_size`: the default of `[spool] max_size`.
    package let spoolMaxSize: Int64
    /// `[serial] rs485_device`: the board's RS-485 port, the default `device` of `[[input.modbus]]`; nil when the
    /// file gives none (`""`).
    package let rs485Device: String?

    /// Parses a board file; errors name the file, line and column.
    static func parse(name: String, text: String) throws -> Board {
        let file = "Boards/\(name).toml"
        let diagnostics = ConfigDiagnostics(file: file)
        guard let root = TOMLDocument.parse(text, file: file, environment: [:], diagnostics: diagnostics) else {
            throw ConfigErrors(diagnostics.errors)
        }
        let reader = ConfigReader(node: root, diagnostics: diagnostics)
        let health = reader.table("health")
        let host = HostBoardDefaults(thermalZones: health?.strings("thermal_zones"),
                                     throttledFile: health?.string("throttled_file"),
                                     wifiInterfaces: health?.strings("wifi_interfaces"))
        health?.finish()
        let defaults = reader.table("defaults")
        let spool = defaults?.size("spool_max_size", default: SpoolConfiguration.defaultMaxSize)
            ?? SpoolConfiguration.defaultMaxSize
        defaults?.finish()
        let serial = reader.table("serial")
        let rs485 = serial?.string("rs485_device").flatMap { $0.isEmpty ? nil : $0 }
        if let rs485, !rs485.hasPrefix("/dev/") { serial?.invalid("rs485_device", "`\(rs485)` is not under /dev") }
        serial?.finish()
        let board = Board(
            name: name, description: reader.requiredString("description", hint: "say which board this is") ?? "",
            triple: reader.requiredString("triple", hint: "e.g. triple = \"aarch64-unknown-linux-gnu\"") ?? "",
            debianArchitecture: reader.requiredString("debian_architecture", hint: "arm64 or amd64") ?? "",
            cpu: reader.string("cpu", default: "max"), host: host, spoolMaxSize: spool, rs485Device: rs485)
        reader.finish()
        try diagnostics.throwIfAny()
        return board
    }
}

/// The boards built into this binary (`Boards/*.toml`, embedded by `Scripts/boards/embed`).
package enum BoardCatalog {
    package static let all: [Board] = BoardFiles.all.compactMap { file in
        // A broken board file fails the build's tests (BoardTests), never a gateway at run time.
        try? Board.parse(name: String(file.name.dropLast(".toml".count)), text: file.text)
    }

    package static func named(_ name: String) -> Board? {
        all.first { $0.name == name }
    }
}

extension BoardCatalog {
    /// `outpost boards`: one line per board, with what it builds for and its defaults.
    package static func table() -> String {
        let header = ["BOARD", "TRIPLE", "DEBIAN", "SPOOL", "DESCRIPTION"]
        let rows = all.map { board in
            [board.name, board.triple, board.debianArchitecture, ConfigQuantities.format(bytes: board.spoolMaxSize), board.description]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { column, text in
                column == row.count - 1 ? text : text.padded(to: widths[column] + 2, left: true)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
