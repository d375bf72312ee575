import OutpostBatch
import OutpostCore
import OutpostDelivery
import OutpostInputs
import OutpostSpool

/// Outpost's own metrics, exported like any others so a fleet dashboard sees every gateway's pipeline.
enum SelfMetrics {
    /// None while the wall clock reads a time before this Outpost was built (a Pi booting in 1970): they would be
    /// exported with 1970 timestamps. They are cumulative, so the first round after the clock is set has it all.
    static func samples(counters: PipelineCounters.Snapshot, spool: SpoolStatistics,
                        uplinks: [(status: UplinkStatus, allowance: AllowanceStatus)] = [], now: Int64) -> [Sample] {
        guard now >= ClockSyncProbe.notBeforeDefault else { return [] }
        var samples: [Sample] = [
            counter("outpost.samples.ingested", "{sample}", counters.samplesIngested, now),
            counter("outpost.events.emitted", "{event}", counters.events, now),
            counter("outpost.batches.spooled", "{batch}", counters.batchesSpooled, now),
            counter("outpost.bytes.spooled", "By", counters.bytesSpooled, now),
            counter("outpost.spool.write_errors", "{error}", counters.spoolWriteErrors, now),
        ]
        for lane in Lane.allCases {
            let totals = spool[lane]
            let attributes: Attributes = ["outpost.spool.lane": .string(lane.description)]
            samples.append(gauge("outpost.spool.batches", "{batch}", Double(totals.batches), attributes, now))
            samples.append(gauge("outpost.spool.size", "By", Double(totals.bytes), attributes, now))
            let age = totals.oldest.map { UnixNanos.seconds(max(0, now - $0)) } ?? 0
            samples.append(gauge("outpost.spool.oldest_age", "s", age, attributes, now))
            samples.append(Sample(series: series("outpost.spool.dropped", "{batch}", .counter, attributes), time: now,
                                  value: Double(totals.droppedBatches)))
        }
        for (status, allowance) in uplinks { samples += uplinkSamples(status, allowance, waiting: spool.waiting, now) }
        return samples
    }

    /// Per uplink: `outpost.uplink.wire` (By, counter: every attempt's bytes both ways), and while it has budgets or
    /// holds anything `outpost.uplink.budget.spent` and `.limit` (By, per period) and `outpost.uplink.held` (By
    /// waiting in each lane that is held now, 0 when it flows).
    private static func uplinkSamples(_ status: UplinkStatus, _ allowance: AllowanceStatus,
                                      waiting: [String: [Lane: SpoolStatistics.Waiting]], _ now: Int64) -> [Sample] {
        let uplink: Attributes = ["outpost.uplink": .string(status.name)]
        var samples = [Sample(series: series("outpost.uplink.wire", "By", .counter, uplink), time: now,
                              value: Double(status.wireBytes))]
        for budget in allowance.budgets {
            guard let limit = budget.limit else { continue }
            var attributes = uplink
            attributes["outpost.budget.period"] = .string(budget.period.rawValue)
            samples.append(gauge("outpost.uplink.budget.spent", "By", Double(budget.spent), attributes, now))
            samples.append(gauge("outpost.uplink.budget.limit", "By", Double(limit), attributes, now))
        }
        guard allowance.window != nil || allowance.budgets.contains(where: { $0.limit != nil }) else { return samples }
        for lane in [Lane.events, .metrics] {
            var attributes = uplink
            attributes["outpost.spool.lane"] = .string(lane.description)
            let held = allowance.held[lane] != nil ? Double(waiting[status.name]?[lane]?.bytes ?? 0) : 0
            samples.append(gauge("outpost.uplink.held", "By", held, attributes, now))
        }
        return samples
    }

    private static func counter(_ name: String, _ unit: String, _ value: Int, _ now: Int64) -> Sample {
        Sample(series: series(name, unit, .counter, Attributes()), time: now, value: Double(value))
    }

    private static func gauge(_ name: String, _ unit: String, _ value: Double, _ attributes: Attributes,
                              _ now: Int64) -> Sample {
        Sample(series: series(name, unit, .gauge, attributes), time: now, value: value)
    }

    /// Series are interned by key so each self-metric keeps one identity (and one counter start) across ticks.
    private static func series(_ name: String, _ unit: String, _ kind: SeriesKind, _ attributes: Attributes) -> Series {
        Series(name: name, unit: unit, kind: kind, attributes: attributes)
    }
}
