/// A time zone's offsets from UTC over time, read from the system's tz database (TZif files, RFC 8536) or a POSIX
/// `TZ` string: what the gateway's local time is at any instant, daylight saving time included.
///
/// Outpost reads the tz data itself rather than through glibc's `localtime_r`, which keeps one process-wide zone
/// (`tzset`): the tests compare against real zones (`Europe/Berlin`, `Australia/Lord_Howe`) side by side in one
/// process, and a zone changed with `timedatectl` is seen without a restart (`SystemTimeZone` reads it again).
package struct TimeZoneRules: Sendable, Equatable {
    /// One local time type: its offset east of UTC, in seconds, and whether it is daylight saving time.
    package struct LocalType: Sendable, Equatable {
        package let offset: Int
        package let isDST: Bool
    }

    /// Unix seconds at which `types[typeIndices[i]]` begins, ascending.
    private let transitions: [Int64]
    private let typeIndices: [Int]
    private let types: [LocalType]
    /// The type before the first transition (RFC 8536 §3.2: type 0).
    private let initial: LocalType
    /// Local time after the last transition (the TZif footer, or the whole zone for a plain `TZ` string).
    private let rule: PosixTimeZone?
    /// Where the rules came from, for messages: `Europe/Berlin`, `/etc/localtime`, `CET-1CEST,...`, `UTC`.
    package let name: String

    package static let utc = TimeZoneRules(name: "UTC", transitions: [], typeIndices: [], types: [],
                                           initial: LocalType(offset: 0, isDST: false), rule: nil)

    private init(name: String, transitions: [Int64], typeIndices: [Int], types: [LocalType], initial: LocalType,
                 rule: PosixTimeZone?) {
        self.name = name
        self.transitions = transitions
        self.typeIndices = typeIndices
        self.types = types
        self.initial = initial
        self.rule = rule
    }

    /// The local type at `unixSeconds`.
    package func localType(at unixSeconds: Int64) -> LocalType {
        if let last = transitions.last, unixSeconds >= last, let rule { return rule.localType(at: unixSeconds) }
        if transitions.isEmpty { return rule?.localType(at: unixSeconds) ?? initial }
        guard unixSeconds >= transitions[0] else { return initial }
        var low = 0, high = transitions.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if transitions[middle] <= unixSeconds { low = middle } else { high = middle - 1 }
        }
        return types[typeIndices[low]]
    }

    /// Seconds east of UTC at `unixSeconds`.
    package func offset(at unixSeconds: Int64) -> Int { localType(at: unixSeconds).offset }

    /// A POSIX `TZ` string (`CET-1CEST,M3.5.0,M10.5.0/3`); nil when it cannot be read.
    package static func posix(_ text: String) -> TimeZoneRules? {
        guard let rule = PosixTimeZone(text) else { return nil }
        return TimeZoneRules(name: text, transitions: [], typeIndices: [], types: [], initial: rule.standard,
                             rule: rule)
    }

    /// A TZif file's content (versions 1 to 4); nil when it is not one.
    package static func tzif(_ bytes: [UInt8], name: String) -> TimeZoneRules? {
        var reader = TZifReader(bytes: bytes)
        guard let first = reader.header() else { return nil }
        // Version 1 data uses 32-bit times; from version 2 on a second header and 64-bit data follow, then a footer.
        if first.version == 0 {
            return reader.block(first, timeSize: 4).map { TimeZoneRules(name: name, block: $0, rule: nil) }
        }
        guard reader.skip(first.length(timeSize: 4)), let second = reader.header(),
            let block = reader.block(second, timeSize: 8)
        else { return nil }
        let footer = reader.footer()
        return TimeZoneRules(name: name, block: block, rule: footer.flatMap(PosixTimeZone.init))
    }

    private init(name: String, block: TZifReader.Block, rule: PosixTimeZone?) {
        self.init(name: name, transitions: block.transitions, typeIndices: block.typeIndices, types: block.types,
                  initial: block.types.first ?? LocalType(offset: 0, isDST: false), rule: rule)
    }
}

/// Reads the big-endian fields of a TZif file (RFC 8536 §3), refusing anything out of bounds.
private struct TZifReader {
    struct Header {
        let version: UInt8
        let isUTCCount, isStandardCount, leapCount, timeCount, typeCount, characterCount: Int

        func length(timeSize: Int) -> Int {
            timeCount * timeSize + timeCount + typeCount * 6 + characterCount + leapCount * (timeSize + 4)
                + isStandardCount + isUTCCount
        }
    }

    struct Block {
        let transitions: [Int64]
        let typeIndices: [Int]
        let types: [TimeZoneRules.LocalType]
    }

    let bytes: [UInt8]
    var position = 0

    mutating func header() -> Header? {
        guard position + 44 <= bytes.count, Array(bytes[position..<position + 4]) == Array("TZif".utf8) else {
            return nil
        }
        let version = bytes[position + 4] == 0 ? 0 : bytes[position + 4] &- UInt8(ascii: "0")
        var counts: [Int] = []
        for index in 0..<6 { counts.append(Int(integer(at: position + 20 + index * 4, size: 4))) }
        position += 44
        guard counts.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }), counts[4] > 0 else { return nil }
        return Header(version: version, isUTCCount: counts[0], isStandardCount: counts[1], leapCount: counts[2],
                      timeCount: counts[3], typeCount: counts[4], characterCount: counts[5])
    }

    mutating func skip(_ count: Int) -> Bool {
        guard position + count <= bytes.count else { return false }
        position += count
        return true
    }

    mutating func block(_ header: Header, timeSize: Int) -> Block? {
        let start = position
        guard skip(header.length(timeSize: timeSize)) else { return nil }
        var transitions: [Int64] = [], indices: [Int] = [], types: [TimeZoneRules.LocalType] = []
        for index in 0..<header.timeCount {
            transitions.append(integer(at: start + index * timeSize, size: timeSize))
        }
        let indicesStart = start + header.timeCount * timeSize
        for index in 0..<header.timeCount {
            let type = Int(bytes[indicesStart + index])
            guard type < header.typeCount else { return nil }
            indices.append(type)
        }
        let typesStart = indicesStart + header.timeCount
        for index in 0..<header.typeCount {
            let offset = Int(integer(at: typesStart + index * 6, size: 4))
            // RFC 8536 §3.2: an offset is within -89999 and 93599 seconds; anything else is not a zone file.
            guard (-89_999...93_599).contains(offset) else { return nil }
            types.append(TimeZoneRules.LocalType(offset: offset, isDST: bytes[typesStart + index * 6 + 4] != 0))
        }
        return Block(transitions: transitions, typeIndices: indices, types: types)
    }

    /// The POSIX TZ string between two newlines after the version 2+ data; nil when empty or missing.
    mutating func footer() -> String? {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\n") else { return nil }
        guard let end = bytes[(position + 1)...].firstIndex(of: UInt8(ascii: "\n")), end > position + 1 else {
            return nil
        }
        return String(decoding: bytes[(position + 1)..<end], as: UTF8.self)
    }

    /// A signed big-endian integer of `size` bytes (4 or 8).
    private func integer(at offset: Int, size: Int) -> Int64 {
        var value: UInt64 = 0
        for byte in bytes[offset..<offset + size] { value = value << 8 | UInt64(byte) }
        return size == 4 ? Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: value))) : Int64(bitPattern: value)
    }
}

/// A POSIX `TZ` string with the RFC 8536 §3.3 extensions (hours from -167 to 167 in rule times): standard time, and
/// optionally daylight saving time with the rules of when it starts and ends each year. Without rules, a zone with
/// DST follows the POSIX default (`M3.2.0,M11.1.0`), as glibc does.
struct PosixTimeZone: Sendable, Equatable {
    /// When in a year a change happens: a day rule and the local time of day (seconds) it happens at.
    struct ChangeRule: Sendable, Equatable {
        enum Day: Sendable, Equatable {
            /// `Jn`: day 1…365, February 29 never counted.
            case julianSkippingLeapDay(Int)
            /// `n`: day 0…365, February 29 counted.
            case zeroBased(Int)
            /// `Mm.w.d`: weekday `d` (0 Sunday) of week `w` (5: the last) of month `m`.
            case monthWeekDay(month: Int, week: Int, weekday: Int)
        }

        let day: Day
        let time: Int

        /// Days since 1970-01-01 of this rule's day in `year`.
        func days(in year: Int) -> Int64 {
            let january = CivilCalendar.days(year: year, month: 1, day: 1)
            switch day {
            case .julianSkippingLeapDay(let number):
                return january + Int64(number - 1) + (CalendarMonths.isLeap(year) && number >= 60 ? 1 : 0)
            case .zeroBased(let number):
                return january + Int64(number)
            case .monthWeekDay(let month, let week, let weekday):
                let first = CivilCalendar.days(year: year, month: month, day: 1)
                // 1970-01-01 was a Thursday (4).
                let firstWeekday = Int(((first % 7) + 11) % 7)
                var day = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
                while day > CalendarMonths.length(of: month, in: year) { day -= 7 }
                return first + Int64(day - 1)
            }
        }
    }

    let standard: TimeZoneRules.LocalType
    let daylight: TimeZoneRules.LocalType?
    let start: ChangeRule?
    let end: ChangeRule?

    func localType(at unixSeconds: Int64) -> TimeZoneRules.LocalType {
        guard let daylight, let start, let end else { return standard }
        let year = Int(CivilCalendar.date(days: floorDivide(unixSeconds + Int64(standard.offset), 86_400)).year)
        // The start is given in standard time, the end in daylight time (POSIX).
        let begins = start.days(in: year) * 86_400 + Int64(start.time - standard.offset)
        let ends = end.days(in: year) * 86_400 + Int64(end.time - daylight.offset)
        let inDaylight = begins < ends
            ? unixSeconds >= begins && unixSeconds < ends
            : unixSeconds < ends || unixSeconds >= begins
        return inDaylight ? daylight : standard
    }

    init?(_ text: String) {
        var scanner = PosixScanner(Array(text.utf8))
        guard scanner.name(), let standardOffset = scanner.offset() else { return nil }
        standard = TimeZoneRules.LocalType(offset: -standardOffset, isDST: false)
        guard !scanner.atEnd else {
            daylight = nil
            start = nil
            end = nil
            return
        }
        guard scanner.name() else { return nil }
        let daylightOffset = scanner.peek == UInt8(ascii: ",") ? standardOffset - 3600 : scanner.offset()
        guard let daylightOffset else { return nil }
        daylight = TimeZoneRules.LocalType(offset: -daylightOffset, isDST: true)
        if scanner.atEnd {
            start = ChangeRule(day: .monthWeekDay(month: 3, week: 2, weekday: 0), time: 7200)
            end = ChangeRule(day: .monthWeekDay(month: 11, week: 1, weekday: 0), time: 7200)
            return
        }
        guard scanner.take(UInt8(ascii: ",")), let start = scanner.rule(), scanner.take(UInt8(ascii: ",")),
            let end = scanner.rule(), scanner.atEnd
        else { return nil }
        self.start = start
        self.end = end
    }
}

private func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
    value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
}

/// Reads the parts of a POSIX `TZ` string.
private struct PosixScanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var atEnd: Bool { position >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[position] }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        position += 1
        return true
    }

    /// A zone abbreviation: three or more letters, or anything but `>` between `<` and `>`.
    mutating func name() -> Bool {
        if take(UInt8(ascii: "<")) {
            let start = position
            while let byte = peek, byte != UInt8(ascii: ">") { position += 1 }
            return position - start >= 3 && take(UInt8(ascii: ">"))
        }
        let start = position
        while let byte = peek, (byte | 0x20) >= UInt8(ascii: "a"), (byte | 0x20) <= UInt8(ascii: "z") { position += 1 }
        return position - start >= 3
    }

    /// `[+-]hh[:mm[:ss]]` in seconds (POSIX: positive west of UTC).
    mutating func offset() -> Int? {
        let negative = take(UInt8(ascii: "-"))
        if !negative { _ = take(UInt8(ascii: "+")) }
        guard let seconds = clock(maxHours: 24) else { return nil }
        return negative ? -seconds : seconds
    }

    /// `Jn`, `n` or `Mm.w.d`, then an optional `/time` (default 02:00:00; -167 to 167 hours).
    mutating func rule() -> PosixTimeZone.ChangeRule? {
        let day: PosixTimeZone.ChangeRule.Day
        if take(UInt8(ascii: "M")) {
            guard let month = number(), take(UInt8(ascii: ".")), let week = number(), take(UInt8(ascii: ".")),
                let weekday = number(), (1...12).contains(month), (1...5).contains(week), (0...6).contains(weekday)
            else { return nil }
            day = .monthWeekDay(month: month, week: week, weekday: weekday)
        } else if take(UInt8(ascii: "J")) {
            guard let number = number(), (1...365).contains(number) else { return nil }
            day = .julianSkippingLeapDay(number)
        } else {
            guard let number = number(), (0...365).contains(number) else { return nil }
            day = .zeroBased(number)
        }
        var time = 7200
        if take(UInt8(ascii: "/")) {
            let negative = take(UInt8(ascii: "-"))
            if !negative { _ = take(UInt8(ascii: "+")) }
            guard let seconds = clock(maxHours: 167) else { return nil }
            time = negative ? -seconds : seconds
        }
        return PosixTimeZone.ChangeRule(day: day, time: time)
    }

    private mutating func clock(maxHours: Int) -> Int? {
        guard let hours = number(), hours <= maxHours else { return nil }
        var seconds = hours * 3600
        if take(UInt8(ascii: ":")) {
            guard let minutes = number(), minutes < 60 else { return nil }
            seconds += minutes * 60
            if take(UInt8(ascii: ":")) {
                guard let extra = number(), extra < 60 else { return nil }
                seconds += extra
            }
        }
        return seconds
    }

    private mutating func number() -> Int? {
        let start = position
        var value = 0
        while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), position - start < 4 {
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            position += 1
        }
        return position > start ? value : nil
    }
}
