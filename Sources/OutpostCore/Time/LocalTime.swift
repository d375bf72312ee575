/// The local date and time of day of an instant in a zone.
package struct LocalTime: Sendable, Equatable {
    /// Days since 1970-01-01 of the local date.
    package let days: Int64
    /// Seconds since local midnight (0…86399).
    package let secondOfDay: Int

    package init(unixNanos: Int64, zone: TimeZoneRules) {
        let seconds = unixNanos >= 0 ? unixNanos / 1_000_000_000 : -((-unixNanos + 999_999_999) / 1_000_000_000)
        let local = seconds + Int64(zone.offset(at: seconds))
        let days = local >= 0 ? local / 86_400 : -((-local + 86_399) / 86_400)
        self.days = days
        self.secondOfDay = Int(local - days * 86_400)
    }

    package var date: (year: Int, month: Int, day: Int) {
        let civil = CivilCalendar.date(days: days)
        return (Int(civil.year), Int(civil.month), Int(civil.day))
    }

    /// The instant local midnight of `days` begins in `zone` (the first instant of that local date, should midnight
    /// itself be skipped by a clock change), in unix nanoseconds.
    package static func midnight(days: Int64, zone: TimeZoneRules) -> Int64 {
        let guess = days * 86_400
        var instant = guess - Int64(zone.offset(at: guess))
        // A change of offset near midnight: settle on the offset in force at the candidate itself.
        instant = guess - Int64(zone.offset(at: instant))
        while LocalTime(unixNanos: instant * 1_000_000_000, zone: zone).days < days { instant += 60 }
        while LocalTime(unixNanos: (instant - 60) * 1_000_000_000, zone: zone).days >= days { instant -= 60 }
        return instant * 1_000_000_000
    }
}
