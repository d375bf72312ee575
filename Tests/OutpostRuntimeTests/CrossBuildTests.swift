import Foundation
import OutpostTestSupport
import Testing

@Suite("Cross-compilation: the sysroot, and C programs linking Outpost's libraries for each board", .serialized)
struct CrossBuildTests {
    static let boards = ["raspberry-pi-3", "raspberry-pi-4", "raspberry-pi-5", "raspberry-pi-zero-2-w", "generic-aarch64",
                         "x86_64"]

    @Test("the smoke program links libmosquitto, zlib, SQLite and libcurl from the board's sysroot and runs on its CPU",
          arguments: boards)
    func smoke(board: String) throws {
        let (status, output) = try shell("\(repositoryRoot.path)/Scripts/cross/smoke-test \(board)")
        #expect(status == 0, "\(output)")
        #expect(output.contains("libmosquitto 2.0"))
        #expect(output.contains("zlib 1.2.13 round trip ok"))
        #expect(output.contains("sqlite 3.40"))
        #expect(output.contains("libcurl 7.88"))
        #expect(output.contains(board == "x86_64" ? "e_machine 62" : "e_machine 183"), "the ELF machine")
        #expect(output.contains("smoke-test: \(board)"))
    }

    @Test("the sysroot holds no absolute symlink, and this machine's apt state is untouched")
    func sysrootIsSelfContained() throws {
        let before = try shell("dpkg --print-foreign-architectures; ls -l --time-style=+%s /var/lib/apt/lists | md5sum").1
        let (status, path) = try shell("\(repositoryRoot.path)/Scripts/cross/assemble-sysroot arm64")
        #expect(status == 0, "\(path)")
        let sysroot = path.split(separator: "\n").last.map(String.init) ?? ""
        let absolute = try shell("find \(sysroot) -type l -lname '/*' | head -5").1
        #expect(absolute.isEmpty, "absolute links: \(absolute)")
        #expect(FileManager.default.fileExists(atPath: sysroot + "/usr/include/mosquitto.h"))
        #expect(FileManager.default.fileExists(atPath: sysroot + "/usr/lib/aarch64-linux-gnu/libcurl.so"))
        #expect(try shell("dpkg --print-foreign-architectures; ls -l --time-style=+%s /var/lib/apt/lists | md5sum").1 == before)
    }

    @Test("without the Swift runtime for the board, cross-build stops and says what to download")
    func missingRuntime() throws {
        let (status, output) = try shell("OUTPOST_SWIFT_RUNTIME= \(repositoryRoot.path)/Scripts/cross-build raspberry-pi-5")
        #expect(status == 1)
        #expect(output.contains("the Swift runtime for aarch64-unknown-linux-gnu is missing"))
        #expect(output.contains("-RELEASE-debian12-aarch64.tar.gz"))
        #expect(output.contains("--swift-runtime"))
        let (unknown, message) = try shell("\(repositoryRoot.path)/Scripts/cross-build raspberry-pi-9")
        #expect(unknown == 2 && message.contains("raspberry-pi-zero-2-w"))
    }
}
