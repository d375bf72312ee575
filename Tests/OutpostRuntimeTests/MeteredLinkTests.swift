import Foundation
import OutpostCore
import OutpostSpool
import OutpostTestSupport
import Testing
@testable import OutpostRuntime

/// A fake `/proc` whose routing tables a test rewrites, as the kernel would when a link goes down or comes up.
private struct FakeProc {
    let path: String

    init() throws {
        path = try temporaryStateDirectory() + "/proc"
        try FileManager.default.createDirectory(atPath: path + "/net", withIntermediateDirectories: true)
    }

    /// IPv4 routes as `(interface, destination, mask, metric, flags)`, hexadecimal as the kernel writes them.
    func routes(_ routes: [(String, String, String, Int, String)], ipv6: String = "") throws {
        var table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        for (interface, destination, mask, metric, flags) in routes {
            table += "\(interface)\t\(destination)\t0101A8C0\t\(flags)\t0\t0\t\(metric)\t\(mask)\t0\t0\t0\n"
        }
        try table.write(toFile: path + "/net/route", atomically: true, encoding: .utf8)
        try ipv6.write(toFile: path + "/net/ipv6_route", atomically: true, encoding: .utf8)
    }
}

@Suite("metered = \"auto\": the default route decides, on a fake routing table")
struct MeteredLinkTests {
    let ethernetDefault = ("eth0", "00000000", "00000000", 100, "0003")
    let lteDefault = ("wwan0", "00000000", "00000000", 700, "0003")
    let lan = ("eth0", "0001A8C0", "00FFFFFF", 100, "0001")

    @Test("the default route with the lowest metric wins; a route that is not up or not default does not count")
    func defaultRoute() throws {
        let table = """
            Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
            eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
            wwan0\t00000000\t0101A8C0\t0003\t0\t0\t700\t00000000\t0\t0\t0
            eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
            usb0\t00000000\t0101A8C0\t0002\t0\t0\t1\t00000000\t0\t0\t0
            """
        #expect(DefaultRoute.ipv4Default(table) == "eth0")
        // Kernel lines are wider than this file: each row is its fields joined by spaces.
        let zero = String(repeating: "0", count: 32)
        let ipv6 = [
            [zero, "00", zero, "00", zero, "ffffffff", "00000001", "00000000", "00200200", "lo"],
            ["20010db8" + String(repeating: "0", count: 24), "40", zero, "00", zero, "00000100", "00000001",
             "00000000", "00000001", "wwan0"],
            [zero, "00", zero, "00", "fe80" + String(repeating: "0", count: 27) + "1", "00000400", "00000002",
             "00000000", "00000003", "wwan0"],
        ].map { $0.joined(separator: " ") }.joined(separator: "\n")
        #expect(DefaultRoute.interface(ipv4: "Iface\tDestination\n", ipv6: ipv6) == "wwan0",
                "no IPv4 default: the IPv6 one, never the loopback reject route")
        #expect(DefaultRoute.interface(ipv4: nil, ipv6: nil) == nil)
    }

    @Test("Ethernet, then a fallback to LTE, then back: the uplink is metered exactly while on LTE")
    func fallbackToLTE() async throws {
        let proc = try FakeProc()
        let links = MeteredLinks()
        let patterns = MeteredMode.defaultInterfaces.map(Glob.init)
        let probe = MeteredLinkProbe(procPath: proc.path, nmcli: "/nonexistent")
        let service = MeteredLinkService(uplinks: [(name: "cloud", interfaces: patterns)], links: links, probe: probe,
                                         clock: ManualClock(), logger: quietLogger)
        var holding = UplinkHolding()
        holding.metered = .auto(interfaces: MeteredMode.defaultInterfaces)
        holding.windows = SyncWindows([try SyncWindows.parse("01:00-05:00").get()])
        let allowances = UplinkAllowances(policy: SpoolPolicy(holds: ["cloud": holding]), meteredLinks: links)
        let noon = DeliveryMoment(now: 1_781_092_800 * 1_000_000_000, liveSince: 0, includeBacklog: true)
        #expect(allowances.isMetered("cloud"), "before the first look a link counts as metered")

        try proc.routes([lan, ethernetDefault, lteDefault])
        await service.look()
        #expect(links.isMetered("cloud") == false)
        #expect(allowances.plan(for: "cloud", at: noon).plan.held.isEmpty, "on Ethernet nothing waits for the window")

        try proc.routes([lteDefault])
        await service.look()
        #expect(links.isMetered("cloud") == true)
        #expect(Set(allowances.plan(for: "cloud", at: noon).plan.held.keys) == [.events, .metrics])

        try proc.routes([ethernetDefault, lteDefault])
        await service.look()
        #expect(links.isMetered("cloud") == false)
    }

    @Test("a default route NetworkManager marks metered counts, whatever the interface is called")
    func networkManager() async throws {
        let proc = try FakeProc()
        try proc.routes([("wlan0", "00000000", "00000000", 600, "0003")])
        let nmcli = try temporaryStateDirectory() + "/nmcli"
        try """
            #!/bin/sh
            # Answers like `nmcli -t -g GENERAL.METERED device show <iface>` for a phone hotspot.
            [ "$6" = wlan0 ] && echo 'yes (guessed)' || echo 'no'
            """.write(toFile: nmcli, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: nmcli)
        let links = MeteredLinks()
        let service = MeteredLinkService(uplinks: [(name: "cloud", interfaces: [Glob("wwan*")])], links: links,
                                         probe: MeteredLinkProbe(procPath: proc.path, nmcli: nmcli),
                                         clock: ManualClock(), logger: quietLogger)
        await service.look()
        #expect(links.isMetered("cloud") == true)
        try proc.routes([("eth0", "00000000", "00000000", 100, "0003")])
        await service.look()
        #expect(links.isMetered("cloud") == false)
    }

    @Test("config: metered takes true, false or \"auto\" with its interface patterns; anything else is an error")
    func configuration() throws {
        func parse(_ keys: String) throws -> OutpostConfiguration {
            try OutpostConfiguration.parse("""
                [[input.simulated]]
                name = "t"
                [[uplink.otlp_http]]
                endpoint = "http://127.0.0.1:4318"
                \(keys)
                """, file: "test.toml", environment: [:], sampleClock: nil)
        }
        let auto = try parse("metered = \"auto\"\nmetered_interfaces = [\"wwan*\", \"ppp0\"]")
        #expect(auto.uplinks[0].settings.delivery.holding.metered == .auto(interfaces: ["wwan*", "ppp0"]))
        #expect(try parse("metered = false").uplinks[0].settings.delivery.holding.metered == .never)
        #expect(try parse("").uplinks[0].settings.delivery.holding.metered == .always)
        #expect(throws: ConfigErrors.self) { try parse("metered = \"sometimes\"") }
    }
}
