import OutpostCore
import OutpostInputs

#if canImport(Glibc)
import Glibc
#endif

/// What `outpost status` prints: the status file, for humans or as it is.
package enum StatusReport {
    /// The status file at `path`. When it cannot be read, says whether an Outpost runs with `config` (nil: the
    /// built-in default) all the same: then it cannot write the file, and its log says why.
    package static func read(path: String, config: String? = nil) throws -> String {
        do {
            return try SystemFiles.read(path)
        } catch {
            if let pid = RunningOutpost.pid(config: config) {
                throw ToolError(message: "Outpost is running with this config (pid \(pid)) but its status file cannot "
                    + "be read: \(error). It cannot write it: its log says why (journalctl -u outpost); check [status] "
                    + "path and the permissions of its folder")
            }
            throw ToolError(message: "\(error). Is Outpost running with this config? (the status file is rewritten "
                + "every [status] interval while it runs)")
        }
    }

    /// A top-level field of the status JSON as text (a string's value, a number's digits), nil when absent.
    package static func field(_ name: String, in text: String) -> String? {
        guard let status = try? JSONValue.parse(text), let value = status.value(atPath: name) else { return nil }
        if case .string(let string) = value { return string }
        return value.numericValue.map { String(Int64($0)) }
    }

    /// A readable summary of the status JSON; `interval` is `[status] interval`, to tell a file Outpost no longer
    /// manages to rewrite.
    package static func render(_ text: String, now: Int64, interval: Duration = .seconds(5)) throws -> String {
        let status = try JSONValue.parse(text)
        func string(_ path: String) -> String {
            if case .string(let value)? = status.value(atPath: path) { return value }
            return status.value(atPath: path)?.numericValue.map { formatNumber($0) } ?? "-"
        }
        var lines: [String] = []
        let updated = status.value(atPath: "updated_unix_nano")?.numericValue.map { Int64($0) } ?? 0
        let age = Int(UnixNanos.seconds(now - updated))
        let running = string("state") == "running" && isAlive(pid: Int32(status.value(atPath: "pid")?.numericValue ?? 0))
        lines.append("outpost \(string("version")) on \(string("gateway")): \(running ? "running" : "not running") "
            + "(status written \(age)s ago, pid \(string("pid")), config \(string("config")))")
        let stale = max(3 * UnixNanos.from(interval), 30 * UnixNanos.perSecond)
        if running, now - updated > stale {
            lines.append("  the status file is not being rewritten: Outpost cannot write it (its log says why); what "
                + "follows is \(age) s old")
        }
        lines.append("samples ingested \(string("samples_ingested")), events \(string("events")), "
            + "alerts \(string("alerts")), anomaly episodes over the per-series budget "
            + string("anomalies_suppressed"))
        lines.append("inputs:")
        if case .array(let inputs)? = status.value(atPath: "inputs") {
            for input in inputs {
                let name = input.value(atPath: "name").flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "?"
                let kind = input.value(atPath: "kind").flatMap { if case .string(let s) = $0 { s } else { nil } } ?? "?"
                let samples = formatNumber(input.value(atPath: "samples")?.numericValue ?? 0)
                let problems = formatNumber(input.value(atPath: "problems")?.numericValue ?? 0)
                let last = input.value(atPath: "last_sample").flatMap { if case .string(let s) = $0 { s } else { nil } }
                lines.append("  [\(kind)] \(name): \(samples) samples, \(problems) problems, last \(last ?? "never")")
            }
        }
        lines.append("spool \(string("spool.path")): \(string("spool.size_bytes")) of \(string("spool.max_bytes")) "
            + "bytes, \(string("spool.write_errors")) write errors, \(string("spool.batches_waiting_in_memory")) "
            + "batches waiting in memory")
        for lane in Lane.allCases {
            let prefix = "spool.lanes.\(lane)."
            let oldest = string(prefix + "oldest_age_s")
            lines.append("  \(lane): \(string(prefix + "batches")) batches, \(string(prefix + "items")) items, "
                + "\(string(prefix + "bytes")) bytes, oldest \(oldest == "-" ? "-" : oldest + "s"), "
                + "dropped \(string(prefix + "dropped_batches")) batches")
        }
        if string("spool.last_error") != "-" { lines.append("  last error: \(string("spool.last_error"))") }
        if case .array(let uplinks)? = status.value(atPath: "uplinks"), !uplinks.isEmpty {
            lines.append("uplinks:")
            for uplink in uplinks {
                func field(_ key: String) -> String {
                    if case .string(let value)? = uplink.value(atPath: key) { return value }
                    return uplink.value(atPath: key)?.numericValue.map { formatNumber($0) } ?? "-"
                }
                lines.append("  [\(field("kind"))] \(field("name")) → \(field("endpoint")): \(field("state")), "
                    + "delivered \(field("delivered_batches")) batches, \(field("retries")) retries, "
                    + "\(field("rejected_batches")) rejected, "
                    + (field("dropped_items") == "0" || field("dropped_items") == "-" ? ""
                        : "\(field("dropped_items")) items too large dropped, ")
                    + "last delivery \(field("last_delivery"))"
                    + (field("last_error") == "-" ? "" : ", last error: \(field("last_error"))"))
                lines += allowanceLines(uplink)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// What an uplink spent, whether its sync window is open, and what waits for it (and why).
    private static func allowanceLines(_ uplink: JSONValue) -> [String] {
        func text(_ path: String) -> String? {
            if case .string(let value)? = uplink.value(atPath: path) { return value }
            return nil
        }
        func number(_ path: String) -> Double? { uplink.value(atPath: path)?.numericValue }
        var lines: [String] = []
        if case .bool(let metered)? = uplink.value(atPath: "metered") {
            var parts = ["\(metered ? "metered" : "not metered"), \(bytes(number("wire_bytes") ?? 0)) on the wire"]
            for period in ["daily", "monthly"] {
                let spent = number("budgets.\(period).spent_bytes") ?? 0
                guard let limit = number("budgets.\(period).limit_bytes") else { continue }
                let renews = text("budgets.\(period).renews") ?? "-"
                var part = "\(period) budget \(bytes(spent)) of \(bytes(limit)) spent (renews \(renews))"
                if let overrun = number("budgets.\(period).overrun_bytes"), overrun > 0 {
                    part += ", \(bytes(overrun)) beyond it (alerts)"
                }
                parts.append(part)
            }
            lines.append("      " + parts.joined(separator: "; "))
        }
        if let windows = text("sync_windows.windows") {
            let open = uplink.value(atPath: "sync_windows.open") == .bool(true)
            let next = text("sync_windows.next_change") ?? "-"
            lines.append("      sync windows \(windows) (\(text("time_zone") ?? "local time")): "
                + (open ? "open, closes \(next)" : "closed, opens \(next)"))
        }
        for lane in Lane.allCases {
            let batches = number("waiting.\(lane).batches") ?? 0
            guard batches > 0 || text("waiting.\(lane).held") != nil else { continue }
            let amount = "\(formatNumber(batches)) batches (\(bytes(number("waiting.\(lane).bytes") ?? 0)))"
            let why = text("waiting.\(lane).held").map { ", held: \($0)" } ?? ""
            lines.append("      waiting \(lane): \(amount)\(why)")
        }
        return lines
    }

    /// `1.2 MB`, `340 kB`, `512 B` (decimal units, as data plans count).
    static func bytes(_ value: Double) -> String {
        switch value {
        case 1e9...: twoDecimals(value / 1e9) + " GB"
        case 1e6...: twoDecimals(value / 1e6) + " MB"
        case 1e3...: twoDecimals(value / 1e3) + " kB"
        default: formatNumber(value) + " B"
        }
    }

    private static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int64((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }

    package static func isAlive(pid: Int32) -> Bool {
        pid > 0 && kill(pid, 0) == 0
    }

    private static func formatNumber(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String((value * 10).rounded() / 10)
    }
}

/// An `outpost run` process of this machine, found through `/proc`, for when its status file says nothing.
enum RunningOutpost {
    /// The pid of an `outpost run` with `config` (compared as real paths; nil: run without `--config`).
    static func pid(config: String?) -> Int32? {
        let wanted = config.flatMap(realPath)
        let own = getpid()
        for entry in SystemFiles.list("/proc") {
            guard let pid = Int32(entry), pid != own else { continue }
            guard let arguments = commandLine(pid), arguments.count >= 2,
                arguments[0].split(separator: "/").last == "outpost", arguments[1] == "run"
            else { continue }
            let given = configArgument(arguments)
            if config == nil ? given == nil : (given.flatMap { resolve($0, for: pid) } == wanted) { return pid }
        }
        return nil
    }

    private static func commandLine(_ pid: Int32) -> [String]? {
        guard let text = try? SystemFiles.read("/proc/\(pid)/cmdline", limit: 65536), !text.isEmpty else { return nil }
        return text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
    }

    /// `--config X`, `-c X` or `--config=X`.
    private static func configArgument(_ arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument.hasPrefix("--config=") { return String(argument.dropFirst(9)) }
            if argument == "--config" || argument == "-c", index + 1 < arguments.count { return arguments[index + 1] }
        }
        return nil
    }

    /// A path as the process saw it: relative ones against its working directory.
    private static func resolve(_ path: String, for pid: Int32) -> String? {
        if path.hasPrefix("/") { return realPath(path) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/\(pid)/cwd", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let directory = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return realPath(directory + "/" + path)
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
