import Foundation
import OutpostTestSupport
import Testing

@Suite("Cross-compilation: the sysroot, and C programs linking Outpost's libraries for each board", .serialized)
struct CrossBuildTests {
    static let boards = ["raspberry-pi-3", "raspberry-pi-4", "raspberry-pi-5", "raspberry-pi-zero-2-w", "generic-aarch64",
                         "x86_64"]

    @Test("the smoke program links Outpost's C libraries (libmodbus too) from the board's sysroot, runs on its CPU",
          arguments: boards)
    func smoke(board: String) async throws {
        let (status, output) = try await shell("\(repositoryRoot.path)/Scripts/cross/smoke-test \(board)")
        #expect(status == 0, "\(output)")
        #expect(output.contains("libmosquitto 2.0"))
        #expect(output.contains("zlib 1.2.13 round trip ok"))
        #expect(output.contains("sqlite 3.40"))
        #expect(output.contains("libcurl 7.88"))
        #expect(output.contains("libmodbus 3.1.6 context ok"))
        #expect(output.contains(board == "x86_64" ? "e_machine 62" : "e_machine 183"), "the ELF machine")
        #expect(output.contains("smoke-test: \(board)"))
    }

    @Test("the sysroot holds no absolute symlink, and this machine's apt state is untouched")
    func sysrootIsSelfContained() async throws {
        let before = try await shell("dpkg --print-foreign-architectures; ls -l --time-style=+%s /var/lib/apt/lists | md5sum").1
        let (status, path) = try await shell("\(repositoryRoot.path)/Scripts/cross/assemble-sysroot arm64")
        #expect(status == 0, "\(path)")
        let sysroot = path.split(separator: "\n").last.map(String.init) ?? ""
        let absolute = try await shell("find \(sysroot) -type l -lname '/*' | head -5").1
        #expect(absolute.isEmpty, "absolute links: \(absolute)")
        #expect(FileManager.default.fileExists(atPath: sysroot + "/usr/include/mosquitto.h"))
        #expect(FileManager.default.fileExists(atPath: sysroot + "/usr/lib/aarch64-linux-gnu/libcurl.so"))
        #expect(FileManager.default.fileExists(atPath: sysroot + "/usr/include/modbus/modbus.h"))
        #expect(FileManager.default.fileExists(atPath: sysroot + "/usr/lib/aarch64-linux-gnu/libmodbus.so.5"))
        #expect(try await shell("dpkg --print-foreign-architectures; ls -l --time-style=+%s /var/lib/apt/lists | md5sum").1 == before)
    }

    @Test("without the Swift runtime for the board, cross-build stops and says what to download")
    func missingRuntime() async throws {
        let (status, output) = try await shell("OUTPOST_SWIFT_RUNTIME= \(repositoryRoot.path)/Scripts/cross-build raspberry-pi-5")
        #expect(status == 1)
        #expect(output.contains("the Swift runtime for aarch64-unknown-linux-gnu is missing"))
        #expect(output.contains("-RELEASE-debian12-aarch64.tar.gz"))
        #expect(output.contains("--swift-runtime"))
        #expect(output.contains("Scripts/cross-build raspberry-pi-5 --swift-runtime debian"))
        let (unknown, message) = try await shell("\(repositoryRoot.path)/Scripts/cross-build raspberry-pi-9")
        #expect(unknown == 2 && message.contains("raspberry-pi-zero-2-w"))
    }

    @Test("glibc-compat gives a Debian 12 aarch64 program the glibc 2.38 names Debian sid's Swift runtime calls")
    func glibcCompat() async throws {
        let (status, sysrootOutput) = try await shell("\(repositoryRoot.path)/Scripts/cross/assemble-sysroot arm64")
        try #require(status == 0, "\(sysrootOutput)")
        let sysroot = sysrootOutput.split(separator: "\n").last.map(String.init) ?? ""
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("compat-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        // Debian 12's headers declare none of them: the runtime's objects reference them the same way.
        try """
            #include <stdio.h>
            long __isoc23_strtol(const char *, char **, int);
            long long __isoc23_strtoll(const char *, char **, int);
            int __isoc23_sscanf(const char *, const char *, ...);
            size_t strlcpy(char *, const char *, size_t);
            int main(void) {
                char *end, small[4], big[16];
                long a = __isoc23_strtol("0x1f rest", &end, 0);
                long long b = __isoc23_strtoll("-9000000000", NULL, 10);
                int c = 0, d = 0, n = __isoc23_sscanf("7:42", "%d:%d", &c, &d);
                size_t cut = strlcpy(small, "outpost", sizeof small), whole = strlcpy(big, "outpost", sizeof big);
                printf("%ld [%s] %lld %d %d %d | %zu [%s] %zu [%s] %zu\\n", a, end, b, n, c, d, cut, small, whole, big,
                       strlcpy(small, "x", 0));
                return 0;
            }
            """.write(toFile: work + "/main.c", atomically: true, encoding: .utf8)
        let (built, buildLog) = try await shell(". \(repositoryRoot.path)/Scripts/cross/lib.sh && "
            + "\"$(toolchain_tool clang)\" --target=aarch64-linux-gnu --sysroot=\(sysroot) -fuse-ld=lld -O2 "
            + "-o \(work)/compat \(work)/main.c "
            + "\(repositoryRoot.path)/Scripts/cross/glibc-compat.c")
        try #require(built == 0, "\(buildLog)")
        #expect(try await shell("qemu-aarch64 -cpu cortex-a53 -L \(sysroot) \(work)/compat").1
            == "31 [ rest] -9000000000 2 7 42 | 7 [out] 7 [outpost] 1\n")
        #expect(try await shell("readelf --dyn-syms -W \(work)/compat | grep -cE 'strlcpy|__isoc23'").1 == "0\n",
                "hidden: the program never exports them over a newer glibc's own")
    }
}
