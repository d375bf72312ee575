import Foundation
import OutpostCore
import Testing

/// Offsets from UTC as glibc computes them for `zone` (nil: the system's, /etc/localtime) at each instant (`date -f`,
/// one process for all), in seconds.
private func glibcOffsets(_ zone: String?, _ instants: [Int64]) throws -> [Int] {
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("instants-\(UUID().uuidString)")
    try instants.map { "@\($0)" }.joined(separator: "\n").write(to: input, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: input) }
    let date = Process()
    date.executableURL = URL(fileURLWithPath: "/usr/bin/date")
    date.arguments = ["-f", input.path, "+%z"]
    date.environment = zone.map { ["TZ": $0] } ?? [:]
    let out = Pipe()
    date.standardOutput = out
    try date.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    date.waitUntilExit()
    return text.split(separator: "\n").map { line in
        let sign = line.hasPrefix("-") ? -1 : 1
        let digits = line.dropFirst()
        return sign * (Int(digits.prefix(2))! * 3600 + Int(digits.suffix(2))! * 60)
    }
}

/// Instants every `step` seconds from 1975 to 2065, plus each side of every transition a zone has in that time.
private func instants(step: Int64 = 86_400 * 7 + 3_607) -> [Int64] {
    Array(stride(from: Int64(157_766_400), to: 3_000_000_000, by: Int(step)))
}

@Suite("Time zones from the system's tz database")
struct TimeZoneRulesTests {
    @Test("offsets read from the TZif files agree with glibc's, instant by instant, 1975 to 2065",
          arguments: ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata",
                      "America/Sao_Paulo", "Europe/Dublin", "Pacific/Chatham", "UTC"])
    func agreesWithGlibc(zone: String) throws {
        let rules = try #require(SystemTimeZone.load("/usr/share/zoneinfo/" + zone))
        let times = instants()
        let expected = try glibcOffsets(zone, times)
        #expect(expected.count == times.count)
        let differing = zip(times, expected).filter { rules.offset(at: $0) != $1 }
        #expect(differing.isEmpty, "first differing instants: \(differing.prefix(3))")
    }

    @Test("the minute around each daylight saving change is right in both directions")
    func aroundTheChanges() throws {
        let rules = try #require(SystemTimeZone.load("/usr/share/zoneinfo/Europe/Berlin"))
        // 2026-03-29 01:00 UTC: 02:00 CET becomes 03:00 CEST. 2026-10-25 01:00 UTC: 03:00 CEST becomes 02:00 CET.
        #expect(rules.offset(at: 1_774_746_000 - 1) == 3600)
        #expect(rules.offset(at: 1_774_746_000) == 7200)
        #expect(rules.offset(at: 1_792_890_000 - 1) == 7200)
        #expect(rules.offset(at: 1_792_890_000) == 3600)
        // 2080 lies beyond the table: the footer's rule (CET-1CEST,M3.5.0,M10.5.0/3) decides, as glibc's does.
        let far: [Int64] = [3_478_032_000, 3_491_000_000, 3_500_000_000]
        #expect(far.map { rules.offset(at: $0) } == (try glibcOffsets("Europe/Berlin", far)))
    }

    @Test("a POSIX TZ string alone: southern hemisphere, half hours, no DST, rule times past midnight")
    func posixStrings() throws {
        let zones = ["AEST-10AEDT,M10.1.0,M4.1.0/3", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "<-03>3",
                     "EST5EDT,M3.2.0,M11.1.0", "IST-1GMT0,M10.5.0,M3.5.0/1", "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
                     "CET-1CEST,J89/2,J299/3", "XYZ3ABC,60/1,300/2"]
        for zone in zones {
            let rules = try #require(TimeZoneRules.posix(zone), "\(zone)")
            let times = Array(instants(step: 86_400 * 3 + 1_801).prefix(6000))
            let expected = try glibcOffsets(zone, times)
            let differing = zip(times, expected).filter { rules.offset(at: $0) != $1 }
            #expect(differing.isEmpty, "\(zone): first differing instants: \(differing.prefix(3))")
        }
    }

    @Test("what is not a zone is refused, never guessed at")
    func refusals() {
        for text in ["", "CE", "CET", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.5.0", "CET-99", "<+01"] {
            #expect(TimeZoneRules.posix(text) == nil, "\(text)")
        }
        #expect(TimeZoneRules.tzif(Array("TZif2 but not really".utf8), name: "x") == nil)
        #expect(TimeZoneRules.tzif([], name: "x") == nil)
    }

    @Test("the zone follows $TZ, else /etc/localtime; a name, a path and a rule are all read")
    func systemZone() throws {
        let january: Int64 = 1_767_225_600, july: Int64 = 1_782_864_000
        let berlin = SystemTimeZone(environment: ["TZ": "Europe/Berlin"]).rules(nowSeconds: january)
        #expect(berlin.offset(at: january) == 3600 && berlin.offset(at: july) == 7200)
        let path = SystemTimeZone(environment: ["TZ": ":/usr/share/zoneinfo/America/New_York"])
            .rules(nowSeconds: january)
        #expect(path.offset(at: january) == -18_000)
        let rule = SystemTimeZone(environment: ["TZ": "<+0530>-5:30"]).rules(nowSeconds: january)
        #expect(rule.offset(at: january) == 19_800)
        let system = SystemTimeZone(environment: [:]).rules(nowSeconds: january)
        let expected = try glibcOffsets(nil, [january, july])
        #expect([system.offset(at: january), system.offset(at: july)] == expected)
    }

    @Test("local midnight is found on days a clock change shortens or lengthens")
    func midnights() throws {
        let rules = try #require(SystemTimeZone.load("/usr/share/zoneinfo/America/Sao_Paulo"))
        // 2018-11-04: Brazil's clocks went from 00:00 to 01:00, so that day began at 01:00 local (03:00 UTC).
        let days = CivilCalendar.days(year: 2018, month: 11, day: 4)
        #expect(LocalTime.midnight(days: days, zone: rules) == 1_541_300_400 * 1_000_000_000)
        let berlin = try #require(SystemTimeZone.load("/usr/share/zoneinfo/Europe/Berlin"))
        let summer = CivilCalendar.days(year: 2026, month: 7, day: 1)
        #expect(LocalTime.midnight(days: summer, zone: berlin) == (1_782_864_000 - 7200) * 1_000_000_000)
    }
}
