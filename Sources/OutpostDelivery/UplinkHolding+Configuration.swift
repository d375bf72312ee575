import OutpostCore
import OutpostSpool

extension DeliverySettings {
    /// Reads the metered-link keys every uplink takes: the holding rules (`UplinkHolding.read`) and `aggregate`.
    package mutating func readMeteredKeys(_ reader: ConfigReader) {
        holding = UplinkHolding.read(reader)
        guard reader.contains("aggregate") else { return }
        let interval = reader.positiveDuration("aggregate", default: .seconds(60))
        let seconds = UnixNanos.from(interval) / 1_000_000_000
        guard UnixNanos.from(interval) % 1_000_000_000 == 0, seconds >= 1, 86_400 % seconds == 0 else {
            reader.invalid("aggregate", "must be whole seconds that divide a day, e.g. \"1m\", \"5m\", \"15m\", \"1h\"")
            return
        }
        aggregate = interval
    }
}

extension UplinkHolding {
    /// The metered-link keys every uplink takes: `daily_bytes`, `monthly_bytes`, `billing_day`, `alert_reserve`,
    /// `event_reserve`, `sync_windows`, `events_outside_windows`, `drain_order`, `metered` and
    /// `metered_interfaces`. See `config/outpost.toml` for their defaults.
    package static func read(_ reader: ConfigReader) -> UplinkHolding {
        var holding = UplinkHolding()
        if reader.contains("daily_bytes") { holding.budget.daily = budget(reader, "daily_bytes") }
        if reader.contains("monthly_bytes") { holding.budget.monthly = budget(reader, "monthly_bytes") }
        holding.budget.billingDay = reader.int("billing_day", in: 1...31, default: 1)
        holding.budget.alertReserve = share(reader, "alert_reserve", default: .percent(5))
        holding.budget.eventReserve = share(reader, "event_reserve", default: .percent(5))
        if let total = [holding.budget.daily, holding.budget.monthly].compactMap({ $0 }).min() {
            let reserved = holding.budget.alertReserve.bytes(of: total) + holding.budget.eventReserve.bytes(of: total)
            if reserved >= total {
                reader.invalid("alert_reserve", "the reserves (\(holding.budget.alertReserve) and "
                    + "\(holding.budget.eventReserve)) leave nothing of the \(total)-byte budget for metrics")
            }
        }
        for text in reader.strings("sync_windows") ?? [] {
            switch SyncWindows.parse(text) {
            case .success(let window): holding.windows = SyncWindows(holding.windows.windows + [window])
            case .failure(let error): reader.invalid("sync_windows", error.message)
            }
        }
        holding.eventsOutsideWindows = reader.bool("events_outside_windows", default: false)
        let order = reader.choice("drain_order", DrainOrder.allCases.map(\.rawValue), default: "oldest")
        holding.drainOrder = DrainOrder(rawValue: order) ?? .oldestFirst
        holding.metered = metered(reader)
        return holding
    }

    private static func budget(_ reader: ConfigReader, _ key: String) -> Int64 {
        let bytes = reader.size(key, default: 0)
        if bytes < 4096 { reader.invalid(key, "must be at least 4KiB: one request's headers take hundreds of bytes") }
        return bytes
    }

    /// `"5%"` of the budget, or a size (`"200KB"`, or a number of bytes).
    private static func share(_ reader: ConfigReader, _ key: String, default defaultValue: BudgetShare) -> BudgetShare {
        guard let node = reader.node(key) else { return defaultValue }
        if case .string(let text) = node.value, text.hasSuffix("%") {
            let percent = Double(String(text.dropLast()).trimmingSpaces())
            guard let percent, percent.isFinite, (0...50).contains(percent) else {
                reader.invalid(key, "`\(text)` is not a share from \"0%\" to \"50%\"")
                return defaultValue
            }
            return .percent(percent)
        }
        switch node.value {
        case .int(let bytes) where bytes >= 0: return .bytes(Int64(bytes))
        case .string(let text):
            if let bytes = ConfigQuantities.size(text) { return .bytes(bytes) }
        default: break
        }
        reader.invalid(key, "write a share of the budget (\"5%\") or a size (\"200KB\")")
        return defaultValue
    }

    /// `metered = true | false | "auto"`, with `metered_interfaces` for `"auto"`.
    private static func metered(_ reader: ConfigReader) -> MeteredMode {
        let interfaces = reader.strings("metered_interfaces") ?? MeteredMode.defaultInterfaces
        guard let node = reader.node("metered") else { return .always }
        switch node.value {
        case .bool(let flag): return flag ? .always : .never
        case .string("auto"): return .auto(interfaces: interfaces)
        default:
            reader.invalid("metered", "must be true, false or \"auto\"")
            return .always
        }
    }
}
