import Foundation
import OutpostCore
import OutpostTestSupport
import Testing
@testable import OutpostRuntime

@Suite("Board files")
struct BoardTests {
    static let files = (try? FileManager.default.contentsOfDirectory(
        atPath: repositoryRoot.appendingPathComponent("Boards").path))?.filter { $0.hasSuffix(".toml") }.sorted() ?? []

    @Test("the six boards are there")
    func boardsExist() {
        #expect(Self.files == ["generic-aarch64.toml", "raspberry-pi-3.toml", "raspberry-pi-4.toml",
                               "raspberry-pi-5.toml", "raspberry-pi-zero-2-w.toml", "x86_64.toml"])
    }

    @Test("every board file parses, with a triple, a Debian architecture and a spool size", arguments: files)
    func boardParses(file: String) throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Boards/\(file)"), encoding: .utf8)
        let board = try Board.parse(name: String(file.dropLast(5)), text: text)
        #expect(["aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"].contains(board.triple))
        #expect(board.debianArchitecture == (board.triple.hasPrefix("aarch64") ? "arm64" : "amd64"))
        #expect(board.spoolMaxSize >= 32 << 20)
        #expect(board.host.thermalZones?.isEmpty == false)
    }

    @Test("the binary carries the board files as they are (run Scripts/boards/embed after editing one)")
    func embeddedCopyIsCurrent() throws {
        let embedded = Dictionary(uniqueKeysWithValues: BoardFiles.all.map { ($0.name, $0.text + "\n") })
        #expect(embedded.keys.sorted() == Self.files)
        for file in Self.files {
            let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Boards/\(file)"), encoding: .utf8)
            #expect(embedded[file] == text, "\(file) differs from its embedded copy")
        }
        #expect(BoardCatalog.all.count == Self.files.count)
    }

    @Test("a bad board file is an error with its file, line and column")
    func badBoard() {
        #expect {
            try Board.parse(name: "broken", text: "triple = \"aarch64-unknown-linux-gnu\"\nspool = 3\n")
        } throws: { error in
            let text = "\(error)"
            return text.contains("Boards/broken.toml:2:1") && text.contains("description")
        }
    }

    @Test("gateway.board sets the spool size and the host input's defaults; the config still wins")
    func boardInConfig() throws {
        let pi = try OutpostConfiguration.parse("""
            [gateway]
            board = "raspberry-pi-zero-2-w"
            state_dir = "\(try temporaryStateDirectory())"
            [input.host]
            """, file: "pi.toml", environment: [:])
        #expect(pi.gateway.board?.cpu == "cortex-a53")
        #expect(pi.spool.maxSize == 64 << 20)
        let big = try OutpostConfiguration.parse("""
            [gateway]
            board = "x86_64"
            state_dir = "\(try temporaryStateDirectory())"
            [spool]
            max_size = "2GiB"
            [input.host]
            """, file: "x86.toml", environment: [:])
        #expect(big.spool.maxSize == 2 << 30)
    }

    @Test("an unknown board is a config error listing the known ones")
    func unknownBoard() {
        #expect {
            try OutpostConfiguration.parse("[gateway]\nboard = \"raspberry-pi-6\"\n[input.host]\n", file: "x.toml",
                                           environment: [:])
        } throws: { error in
            let text = "\(error)"
            return text.contains("x.toml:2:1") && text.contains("unknown board `raspberry-pi-6`")
                && text.contains("raspberry-pi-zero-2-w")
        }
    }
}
