import ArgumentParser
import Logging
import OutpostCore
import OutpostRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@main
struct OutpostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outpost",
        abstract: "Telemetry for gateways: read sensors, detect anomalies, alert, store and forward.",
        version: OutpostVersion.current,
        subcommands: [Run.self, Check.self, Replay.self, Version.self],
        defaultSubcommand: Run.self
    )
}

/// Exit status for an invalid config (EX_CONFIG from sysexits.h), so a service manager can stop restarting.
let configExitCode = ExitCode(78)

func environment() -> [String: String] {
    var result: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
        let text = String(cString: entry)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        pointer += 1
    }
    return result
}

func printToStandardError(_ text: String) {
    writeAll(text.hasSuffix("\n") ? text : text + "\n", to: 2)
}

/// Writes the whole text to a file descriptor, unbuffered, so lines reach a pipe at once.
func writeAll(_ text: String, to descriptor: Int32) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}

func loadConfiguration(_ path: String?) throws -> OutpostConfiguration {
    do {
        if let path {
            return try OutpostConfiguration.load(path: path, environment: environment())
        }
        return try OutpostConfiguration.parse(BuiltInConfiguration.text, file: BuiltInConfiguration.origin,
                                              environment: environment())
    } catch let errors as ConfigErrors {
        printToStandardError(errors.description)
        throw configExitCode
    }
}

func bootstrapLogging(level: String) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = Logger.Level(rawValue: level) ?? .info
        return handler
    }
}

extension OutpostCommand {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run Outpost. Without --config it runs the built-in demo (simulated sensors + host health).")

        @Option(name: .shortAndLong, help: "The TOML config file.")
        var config: String?

        @Option(help: "Override [log] level: trace, debug, info, notice, warning, error, critical.")
        var logLevel: String?

        func run() async throws {
            let configuration = try loadConfiguration(config)
            bootstrapLogging(level: logLevel ?? configuration.log.level)
            let logger = Logger(label: "outpost")
            if config == nil {
                logger.notice("""
                    no --config given: running the built-in default (simulated greenhouse sensors with injected \
                    anomalies, plus host health). Alerts print to stdout as JSON lines; readings are logged every \
                    10 s. See `outpost check --show-default` and config/outpost.toml to write your own.
                    """)
            }
            logger.info("outpost \(OutpostVersion.current) starting",
                        metadata: ["gateway": "\(configuration.gateway.id)", "inputs": "\(configuration.inputs.count)",
                                   "config": "\(configuration.origin)"])
            try await Runtime(configuration: configuration).run(logger: logger)
            logger.info("outpost stopped")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a config; print every error with file:line:column, or the resolved inputs and rules.")

        @Option(name: .shortAndLong, help: "The TOML config file (default: the built-in default).")
        var config: String?

        @Flag(help: "Print the built-in default config's TOML and exit.")
        var showDefault = false

        func run() async throws {
            if showDefault {
                print(BuiltInConfiguration.text)
                return
            }
            let configuration: OutpostConfiguration
            do {
                configuration = try loadConfiguration(config)
            } catch {
                throw ExitCode.failure
            }
            print(ConfigurationReport.render(configuration))
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run detection over recorded CSV files (header `timestamp,value`) as fast as possible.")

        @Option(name: .shortAndLong, help: "The TOML config whose [detect] settings to use (default: built-in).")
        var config: String?

        @Option(name: .shortAndLong, parsing: .upToNextOption, help: "One or more CSV files.")
        var input: [String]

        @Option(name: .shortAndLong, help: "Write the events as JSON lines here instead of to stdout.")
        var output: String?

        func validate() throws {
            if input.isEmpty { throw ValidationError("give at least one CSV with --input") }
        }

        func run() async throws {
            let configuration = try config.map { try loadConfiguration($0) }
            let runner = ReplayRunner(configuration: configuration)
            var sink = try EventFile(path: output)
            var summaries: [ReplayRunner.FileSummary] = []
            for path in input {
                summaries.append(runner.replay(path: path, emit: { sink.write($0) }, problem: printToStandardError))
            }
            sink.close()
            let table = ReplayRunner.table(summaries)
            if output == nil { printToStandardError(table) } else { print(table) }
            if summaries.contains(where: { $0.failure != nil }) { throw ExitCode.failure }
        }
    }

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the version.")

        func run() {
            print("outpost \(OutpostVersion.current)")
        }
    }
}

/// Where `outpost replay` writes events: a file, or standard output.
struct EventFile {
    private let descriptor: Int32
    private var pending = ""

    init(path: String?) throws {
        guard let path else {
            descriptor = 1
            return
        }
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            printToStandardError("cannot write \(path): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
    }

    /// Buffers lines and writes them in 64 KiB chunks: replays emit thousands of events per second.
    mutating func write(_ line: String) {
        pending += line
        pending += "\n"
        if pending.utf8.count >= 64 * 1024 { flush() }
    }

    mutating func close() {
        flush()
        if descriptor > 2 { Glibc.close(descriptor) }
    }

    private mutating func flush() {
        writeAll(pending, to: descriptor)
        pending = ""
    }
}
