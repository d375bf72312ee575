import Logging
import OutpostCore
import OutpostInputs
import OutpostSpool
import ServiceLifecycle

/// Finds out, every `interval`, whether each `metered = "auto"` uplink's link is metered now, and tells the spool
/// (budgets, windows) and the batcher (aggregation) through `MeteredLinks`.
///
/// Metered means: the default route leaves through an interface matching one of the uplink's `metered_interfaces`
/// (`wwan*`, `ppp*`, `usb*` by default: an LTE modem, a PPP dial-up, a phone tethered over USB), or NetworkManager
/// says the device behind it is metered (`nmcli -t -g GENERAL.METERED device show <iface>`: `yes`, or `yes
/// (guessed)` as it says for mobile broadband), when `nmcli` is installed. The default route is the IPv4 one with the
/// lowest metric from `/proc/net/route`, else the IPv6 one from `/proc/net/ipv6_route`. So a gateway that falls back
/// from Ethernet to LTE holds its backlog and spends its budget only while on LTE.
struct MeteredLinkService: Service, CustomStringConvertible {
    var description: String { "MeteredLinkService" }

    let uplinks: [(name: String, interfaces: [Glob])]
    let links: MeteredLinks
    let probe: MeteredLinkProbe
    let clock: any Clock<Duration>
    let logger: Logger
    var interval: Duration = .seconds(30)

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await look()
                try await clock.sleep(for: interval, tolerance: nil)
            }
        }
    }

    /// Looks once and records what it found; logs each change.
    func look() async {
        let route = await probe.defaultRoute()
        for uplink in uplinks {
            let (metered, why) = await probe.isMetered(route: route, patterns: uplink.interfaces)
            guard links.set(uplink.name, metered: metered) else { continue }
            let effect = metered ? "its budget and sync windows apply" : "it sends freely"
            let state = metered ? "metered" : "not metered"
            logger.notice("uplink \(uplink.name): the link is \(state) now (\(why)); \(effect)")
        }
    }
}

/// Reads the routing table (and asks NetworkManager) for `MeteredLinkService`. `procPath` and `nmcli` point
/// elsewhere in tests (a fake routing table in a temporary folder, a script answering for NetworkManager).
struct MeteredLinkProbe: Sendable {
    var procPath = "/proc"
    /// NetworkManager's command line tool; not asked when it is not there.
    var nmcli = "/usr/bin/nmcli"
    private let executor = BlockingExecutor(label: "metered")

    init(procPath: String = "/proc", nmcli: String = "/usr/bin/nmcli") {
        self.procPath = procPath
        self.nmcli = nmcli
    }

    /// The interface the default route leaves through, if there is one.
    func defaultRoute() async -> String? {
        let procPath = self.procPath
        return await executor.run {
            DefaultRoute.interface(ipv4: try? SystemFiles.read(procPath + "/net/route"),
                                   ipv6: try? SystemFiles.read(procPath + "/net/ipv6_route"))
        }
    }

    /// Whether `route` is metered, and why, for the log.
    func isMetered(route: String?, patterns: [Glob]) async -> (Bool, String) {
        guard let route else { return (false, "no default route") }
        if let pattern = patterns.first(where: { $0.matches(route) }) {
            return (true, "default route via \(route), matching \(pattern)")
        }
        guard SystemFiles.exists(nmcli) else { return (false, "default route via \(route)") }
        let nmcli = self.nmcli
        let answer = await CommandSupervisor.shared.run([nmcli, "-t", "-g", "GENERAL.METERED", "device", "show", route],
                                                        timeout: .seconds(2), maxOutput: 4096)
        let said = answer.standardOutput.trimmingSpaces()
        if answer.exitStatus == 0, said.hasPrefix("yes") {
            return (true, "default route via \(route), which NetworkManager marks metered (\(said))")
        }
        return (false, "default route via \(route)")
    }
}

/// The default route's interface from the kernel's routing tables.
enum DefaultRoute {
    /// The IPv4 default route (destination and mask 0, up) with the lowest metric; else the IPv6 one (`::/0`, up,
    /// not a reject route, not loopback).
    static func interface(ipv4: String?, ipv6: String?) -> String? {
        if let ipv4, let found = ipv4Default(ipv4) { return found }
        if let ipv6 { return ipv6Default(ipv6) }
        return nil
    }

    /// `/proc/net/route`: `Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT`, hexadecimal.
    static func ipv4Default(_ table: String) -> String? {
        var best: (interface: String, metric: Int)?
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8, fields[1] == "00000000", fields[7] == "00000000",
                let flags = Int(fields[3], radix: 16), flags & 0x1 != 0, let metric = Int(fields[6])
            else { continue }
            if best.map({ metric < $0.metric }) ?? true { best = (String(fields[0]), metric) }
        }
        return best?.interface
    }

    /// `/proc/net/ipv6_route`: `dest dest_len src src_len next_hop metric refcnt use flags iface`, hexadecimal.
    static func ipv6Default(_ table: String) -> String? {
        var best: (interface: String, metric: Int)?
        for line in table.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 10, fields[0].allSatisfy({ $0 == "0" }), fields[1] == "00", fields[9] != "lo",
                let flags = Int(fields[8], radix: 16), flags & 0x1 != 0, flags & 0x200 == 0,
                let metric = Int(fields[5], radix: 16)
            else { continue }
            if best.map({ metric < $0.metric }) ?? true { best = (String(fields[9]), metric) }
        }
        return best?.interface
    }
}
