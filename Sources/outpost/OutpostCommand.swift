import ArgumentParser
import Logging
import OutpostCore
import OutpostInputs
import OutpostRuntime
import OutpostTools

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
        subcommands: [Run.self, Check.self, Replay.self, Status.self, Spool.self, Boards.self, Version.self],
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

func loadConfiguration(_ path: String?, requireInputs: Bool = true) throws -> OutpostConfiguration {
    do {
        if let path {
            return try OutpostConfiguration.load(path: path, environment: environment(),
                                                 sampleClock: SyncAwareWallClock(), requireInputs: requireInputs)
        }
        return try OutpostConfiguration.parse(BuiltInConfiguration.text, file: BuiltInConfiguration.origin,
                                              environment: environment())
    } catch let errors as ConfigErrors {
        printToStandardError(errors.description)
        throw configExitCode
    }
}

/// Plain timestamped lines on a terminal; journald's format under systemd (see `JournalLogHandler`). The level is
/// read from `control` for every line, so a reload's `[log] level` takes effect at once.
func bootstrapLogging(level: String) -> LogLevelControl {
    let toJournal = environment()["JOURNAL_STREAM"] != nil
    let control = LogLevelControl(Logger.Level(rawValue: level) ?? .info)
    LoggingSystem.bootstrap { label in
        let handler: any LogHandler = toJournal
            ? JournalLogHandler() : StreamLogHandler.standardError(label: label)
        return ReloadableLevelLogHandler(wrapped: handler, control: control)
    }
    return control
}

/// A log handler whose level follows `LogLevelControl`.
struct ReloadableLevelLogHandler: LogHandler {
    var wrapped: any LogHandler
    let control: LogLevelControl

    var logLevel: Logger.Level {
        get { control.current }
        set { wrapped.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var handler = wrapped
        handler.logLevel = .trace
        handler.log(event: event)
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
            // At once: SIGHUP's default action ends the process, and a reload is trapped only once the runtime
            // starts. One that arrives before is ignored (the file is being read now anyway).
            signal(SIGHUP, SIG_IGN)
            let local = try loadConfiguration(config)
            let (configuration, note) = OutpostConfiguration.effective(local: local, environment: environment())
            let levelControl = bootstrapLogging(level: logLevel ?? configuration.log.level)
            let logger = Logger(label: "outpost")
            if let note { logger.notice("\(note)") }
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
            do {
                var runtime = Runtime(configuration: configuration, environment: environment())
                runtime.logLevel = levelControl
                runtime.configurationFile = config.map { ConfigurationFile(path: $0, environment: environment()) }
                try await runtime.run(logger: logger)
            } catch let error as StartupError {
                // Something on the gateway the operator must fix: exit 78 so systemd does not restart in a loop.
                logger.critical("cannot start: \(error)")
                throw configExitCode
            }
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
                if config != nil {
                    printToStandardError("a reload (kill -HUP, systemctl reload outpost) would refuse this file "
                        + "and keep the running configuration")
                }
                throw ExitCode.failure
            }
            print(ConfigurationReport.render(configuration))
            if config != nil { print(reloadVerdict(configuration)) }
        }

        /// What a reload would do with this file, told against the Outpost that runs on it, if one does.
        private func reloadVerdict(_ configuration: OutpostConfiguration) -> String {
            let apply = "a reload (kill -HUP <pid>, or systemctl reload outpost) would apply it"
            guard let status = try? StatusReport.read(path: configuration.status.path),
                status.contains("\"state\":\"running\""),
                let pid = StatusReport.field("pid", in: status).flatMap({ Int32($0) }),
                StatusReport.isAlive(pid: pid)
            else {
                return "reload: \(apply)"
            }
            if StatusReport.field("config_hash", in: status) == configuration.sourceHash {
                return "reload: Outpost (pid \(pid)) already runs this version of the file; "
                    + "a reload would change nothing"
            }
            return "reload: Outpost (pid \(pid)) runs another version of this file; "
                + apply.replacing("<pid>", with: "\(pid)")
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run detection over recorded CSV files (header `timestamp,value`, or `timestamp,a,b,…` for a "
                + "group) as fast as possible.")

        @Option(name: .shortAndLong, help: "The TOML config whose [detect] settings to use (default: built-in).")
        var config: String?

        @Option(name: .shortAndLong, parsing: .upToNextOption, help: "One or more CSV files.")
        var input: [String]

        @Option(name: .shortAndLong, help: "Write the events as JSON lines here instead of to stdout.")
        var output: String?

        @Option(help: "Draw the series, their bands and episodes into this .svg or .html file (one panel per file).")
        var plot: String?

        @Option(help: "Score the episodes against labelled windows in this CSV (series,start,end[,kind]).")
        var labels: String?

        @Option(help: ArgumentHelp(
            "Write each row's group verdict as CSV here (multi-column files).",
            discussion: "Columns: \(ReplayRunner.verdictHeader). One line per table row and group; anomaly is 1 while "
                + "the group has an episode open, label the row's `anomaly` column."))
        var verdicts: String?

        @Option(name: .customLong("learn-from"), help: ArgumentHelp(
            "Replay this anomaly-free table before each multi-column file, for the groups and series to learn on.",
            discussion: "It needs every column of the file; its times are shifted to end a second before the file's "
                + "first row; its rows are not reported, counted or scored."))
        var learnFrom: String?

        func validate() throws {
            if input.isEmpty { throw ValidationError("give at least one CSV with --input") }
            if let plot, !(plot.hasSuffix(".svg") || plot.hasSuffix(".html")) {
                throw ValidationError("--plot \(plot): name the file .svg or .html")
            }
        }

        func run() async throws {
            // `--input` supplies the data: a config holding only [detect] (tuning) needs no input of its own.
            let configuration = try config.map { try loadConfiguration($0, requireInputs: false) }
            var runner = ReplayRunner(configuration: configuration)
            runner.learnFrom = learnFrom
            var sink = try EventFile(path: output)
            let labelWindows = try labels.map { path in
                let text: String
                do {
                    text = try SystemFiles.read(path, limit: 64 << 20)
                } catch {
                    printToStandardError("--labels: \(error)")
                    throw ExitCode.failure
                }
                return ReplayLabels.parse(text, path: path, problem: printToStandardError)
            }
            var summaries: [ReplayRunner.FileSummary] = []
            var groups: [ReplayRunner.GroupSummary] = []
            var panels: [ReplayPlot.Panel] = []
            var verdictFile = try verdicts.map { try EventFile(path: $0) }
            verdictFile?.write(ReplayRunner.verdictHeader)
            for path in input {
                let result = runner.replay(path: path, keepSamples: plot != nil,
                                           verdicts: verdictFile == nil ? nil : { verdictFile!.write($0) },
                                           emit: { sink.write($0) }, problem: printToStandardError)
                summaries += result.files
                groups += result.groups
                panels += result.files.compactMap(\.trace).map(ReplayPlot.Panel.series)
                    + result.groups.map { ReplayPlot.Panel.group($0.trace) }
            }
            sink.close()
            verdictFile?.close()
            var report = ReplayRunner.table(summaries, groups: groups)
            if let labelWindows {
                report += "\n" + ReplayLabels.report(labelWindows.score(summaries, groups: groups))
            }
            if output == nil { printToStandardError(report) } else { print(report) }
            if let plot {
                var file = try EventFile(path: plot)
                file.write(ReplayPlot.render(panels: panels, html: plot.hasSuffix(".html")))
                file.close()
            }
            if summaries.contains(where: { $0.failure != nil }) { throw ExitCode.failure }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what a running Outpost is doing: inputs, spool lanes, drops (from its status file).")

        @Option(name: .shortAndLong, help: "The config Outpost runs with (default: the built-in default).")
        var config: String?

        @Flag(help: "Print the status file's JSON as it is.")
        var json = false

        func run() async throws {
            let configuration = try loadConfiguration(config)
            do {
                let text = try StatusReport.read(path: configuration.status.path, config: config)
                print(json ? text.trimmingSpaces() : try StatusReport.render(text, now: SystemWallClock().nowNanos(),
                                                                             interval: configuration.status.interval))
            } catch {
                printToStandardError("\(error)")
                throw ExitCode.failure
            }
        }
    }

    struct Spool: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Look into the spool: what waits to be sent, and what was dropped.",
            subcommands: [Stats.self, Inspect.self, Export.self, Purge.self])

        struct Location: ParsableArguments {
            @Option(name: .shortAndLong, help: "The config whose spool to open (default: the built-in default).")
            var config: String?

            @Option(help: "The spool file itself, instead of the config's [spool] path.")
            var spool: String?

            func resolve() throws -> (path: String, maxBytes: Int) {
                let configuration = try loadConfiguration(config)
                return (spool ?? configuration.spool.path, Int(configuration.spool.maxSize))
            }
        }

        struct Stats: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Batches, items, bytes and drops per lane.")
            @OptionGroup var location: Location

            func run() async throws {
                try runTool { print(try SpoolTools.stats(path: try location.resolve().path, now: SystemWallClock().nowNanos())) }
            }
        }

        struct Inspect: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Decode waiting batches to OTLP/JSON, one JSON object per line (pipe to jq).")
            @OptionGroup var location: Location

            @Option(help: "At most this many batches, in sending order.")
            var limit = 10

            func run() async throws {
                try runTool {
                    try SpoolTools.inspect(path: try location.resolve().path, limit: limit) { print($0) }
                }
            }
        }

        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write every waiting batch's payload to a folder, one file per batch.")
            @OptionGroup var location: Location

            @Argument(help: "The folder to write to (created if missing).")
            var directory: String

            func run() async throws {
                try runTool {
                    let result = try SpoolTools.export(path: try location.resolve().path, to: directory)
                    let skipped = result.unreadable > 0
                        ? "; \(result.unreadable) unreadable row number(s) of a damaged file were stepped over" : ""
                    print("exported \(result.batches) batch(es) to \(directory)\(skipped)")
                }
            }
        }

        struct Purge: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Delete every waiting batch. Refuses while Outpost runs on this spool, unless --force.")
            @OptionGroup var location: Location

            @Flag(help: "Purge even though Outpost seems to be running.")
            var force = false

            func run() async throws {
                try runTool {
                    let configuration = try loadConfiguration(location.config)
                    if !force, let status = try? StatusReport.read(path: configuration.status.path),
                        status.contains("\"state\":\"running\""), let pid = runningPID(status), StatusReport.isAlive(pid: pid)
                    {
                        throw ToolError(message: "Outpost (pid \(pid)) is running on this spool; stop it first, "
                            + "or pass --force")
                    }
                    let (path, maxBytes) = try location.resolve()
                    print("purged \(try SpoolTools.purge(path: path, maxBytes: maxBytes)) batch(es) from \(path)")
                }
            }

            private func runningPID(_ status: String) -> Int32? {
                guard let range = status.firstRange(of: "\"pid\":") else { return nil }
                return Int32(status[range.upperBound...].prefix { $0.isNumber })
            }
        }
    }

    struct Boards: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the boards `gateway.board` and Scripts/cross-build take.")

        func run() {
            print(BoardCatalog.table(), terminator: "")
        }
    }

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the version.")

        func run() {
            print("outpost \(OutpostVersion.current)")
        }
    }
}

/// Runs a tool, printing its error for the operator and exiting non-zero instead of a stack of Swift types.
func runTool(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printToStandardError("\(error)")
        throw ExitCode.failure
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
