import OutpostCore
import OutpostDelivery
import OutpostOperations
import OutpostSpool

/// Outpost's own metrics for `GET /metrics`, from the same counters the status file reads. Names follow Prometheus'
/// conventions (`outpost_` prefix, base units, `_total` on counters); the README lists them.
enum RuntimeMetrics {
    static func families(_ view: PipelineView.State, counters: PipelineCounters.Snapshot, reloads: ReloadCounts,
                         now: Int64, series: [(series: Series, value: Double?)]?) -> [MetricFamily] {
        var families = process(view, counters: counters, reloads: reloads)
        families += inputs(view, counters: counters)
        families += spool(view, counters: counters, now: now)
        families += uplinks(view.uplinks.map { $0.status.withLock { $0 } })
        if let series { families.append(latest(series)) }
        return families
    }

    private static func process(_ view: PipelineView.State, counters: PipelineCounters.Snapshot,
                                reloads: ReloadCounts) -> [MetricFamily] {
        let gateway = MetricFamily.Label("gateway", view.configuration.gateway.id)
        var families = [
            MetricFamily("outpost_info", .gauge, help: "Outpost's version and gateway id; always 1.",
                         samples: [.init(labels: [gateway, .init("version", OutpostVersion.current)], value: 1)]),
            MetricFamily("outpost_start_time_seconds", .gauge, help: "When this Outpost started, unix seconds.",
                         samples: [.init(value: UnixNanos.seconds(counters.startedAt))]),
            MetricFamily("outpost_samples_ingested_total", .counter, help: "Samples read from every input.",
                         samples: [.init(value: Double(counters.samplesIngested))]),
            MetricFamily("outpost_alerts_total", .counter, help: "Events at or above [alerts] min_severity.",
                         samples: [.init(value: Double(counters.alerts))]),
            MetricFamily("outpost_anomaly_episodes_total", .counter,
                         help: "Anomaly episodes raised (outpost.anomaly.raised).",
                         samples: [.init(value: Double(counters.eventsByName[.anomalyRaised] ?? 0))]),
            MetricFamily("outpost_anomaly_episodes_suppressed_total", .counter,
                         help: "Episodes over max_episodes_per_hour: counted, not sent.",
                         samples: [.init(value: Double(counters.anomaliesSuppressed))]),
            MetricFamily("outpost_reloads_total", .counter, help: "Configuration reloads, by result.",
                         samples: [.init(labels: [.init("result", "applied")], value: Double(reloads.applied)),
                                   .init(labels: [.init("result", "refused")], value: Double(reloads.refused))]),
        ]
        families.append(MetricFamily(
            "outpost_events_total", .counter, help: "Events routed, by event name.",
            samples: counters.eventsByName.sorted { $0.key.rawValue < $1.key.rawValue }.map {
                .init(labels: [.init("event", $0.key.rawValue)], value: Double($0.value))
            }))
        return families
    }

    private static func inputs(_ view: PipelineView.State, counters: PipelineCounters.Snapshot) -> [MetricFamily] {
        var samples: [MetricFamily.Sample] = [], problems: [MetricFamily.Sample] = []
        for (input, slot) in zip(view.configuration.inputs, view.inputSlots) {
            let totals = slot < counters.inputs.count ? counters.inputs[slot] : PipelineCounters.InputTotals()
            let label = [MetricFamily.Label("input", "\(input.kind) \(input.settings.name)")]
            samples.append(.init(labels: label, value: Double(totals.samples)))
            problems.append(.init(labels: label, value: Double(totals.problems)))
        }
        return [
            MetricFamily("outpost_input_samples_total", .counter, help: "Samples read, by input.", samples: samples),
            MetricFamily("outpost_input_problems_total", .counter,
                         help: "Bad data skipped (unparsable, impossible, failed reads), by input.", samples: problems),
        ]
    }

    private static func spool(_ view: PipelineView.State, counters: PipelineCounters.Snapshot, now: Int64)
        -> [MetricFamily]
    {
        let statistics = view.spool?.statistics.withLock { $0 } ?? SpoolStatistics()
        func perLane(_ pick: (SpoolStatistics.LaneTotals) -> Double) -> [MetricFamily.Sample] {
            Lane.allCases.map { .init(labels: [.init("lane", $0.description)], value: pick(statistics[$0])) }
        }
        return [
            MetricFamily("outpost_spool_batches", .gauge, help: "Batches waiting in the spool, by lane.",
                         samples: perLane { Double($0.batches) }),
            MetricFamily("outpost_spool_items", .gauge, help: "Points and log records waiting, by lane.",
                         samples: perLane { Double($0.items) }),
            MetricFamily("outpost_spool_bytes", .gauge, help: "Payload bytes waiting, by lane.",
                         samples: perLane { Double($0.bytes) }),
            MetricFamily("outpost_spool_oldest_age_seconds", .gauge,
                         help: "Age of the oldest waiting batch, by lane (0 when none waits).",
                         samples: perLane { $0.oldest.map { UnixNanos.seconds(max(0, now - $0)) } ?? 0 }),
            MetricFamily("outpost_spool_dropped_batches_total", .counter,
                         help: "Batches dropped (spool full, rejected by a receiver), by lane.",
                         samples: perLane { Double($0.droppedBatches) }),
            MetricFamily("outpost_spool_dropped_items_total", .counter, help: "Items in dropped batches, by lane.",
                         samples: perLane { Double($0.droppedItems) }),
            MetricFamily("outpost_spool_size_bytes", .gauge, help: "Bytes the spool's bound counts.",
                         samples: [.init(value: Double(statistics.accountedBytes))]),
            MetricFamily("outpost_spool_max_bytes", .gauge, help: "[spool] max_size.",
                         samples: [.init(value: Double(view.configuration.spool.maxSize))]),
            MetricFamily("outpost_spool_write_errors_total", .counter, help: "Failed writes to the spool.",
                         samples: [.init(value: Double(counters.spoolWriteErrors))]),
            MetricFamily("outpost_spool_batches_waiting_in_memory", .gauge,
                         help: "Batches held in memory because the spool cannot be written.",
                         samples: [.init(value: Double(counters.batchesWaitingInMemory))]),
        ]
    }

    private static func uplinks(_ statuses: [UplinkStatus]) -> [MetricFamily] {
        func each(_ pick: (UplinkStatus) -> Double) -> [MetricFamily.Sample] {
            statuses.map { .init(labels: [.init("uplink", $0.name), .init("kind", $0.kind)], value: pick($0)) }
        }
        var latency: [MetricFamily.Sample] = []
        for status in statuses {
            let labels = [MetricFamily.Label("uplink", status.name), .init("kind", status.kind)]
            latency.append(.init(suffix: "_sum", labels: labels, value: status.deliveryLatencySum))
            latency.append(.init(suffix: "_count", labels: labels, value: Double(status.deliveredBatches)))
        }
        return [
            MetricFamily("outpost_uplink_up", .gauge,
                         help: "1 while the uplink delivers (or has not failed yet), 0 while it backs off.",
                         samples: each { $0.phase == .backingOff ? 0 : 1 }),
            MetricFamily("outpost_uplink_consecutive_failures", .gauge, help: "Failed attempts since the last success.",
                         samples: each { Double($0.consecutiveFailures) }),
            MetricFamily("outpost_uplink_delivered_batches_total", .counter, help: "Batches delivered.",
                         samples: each { Double($0.deliveredBatches) }),
            MetricFamily("outpost_uplink_delivered_items_total", .counter, help: "Points and records delivered.",
                         samples: each { Double($0.deliveredItems) }),
            MetricFamily("outpost_uplink_delivered_bytes_total", .counter, help: "Payload bytes delivered.",
                         samples: each { Double($0.deliveredBytes) }),
            MetricFamily("outpost_uplink_retries_total", .counter, help: "Attempts that will be retried.",
                         samples: each { Double($0.retries) }),
            MetricFamily("outpost_uplink_rejected_batches_total", .counter,
                         help: "Batches a receiver refused for good.",
                         samples: each { Double($0.rejectedBatches) }),
            MetricFamily("outpost_uplink_delivery_latency_seconds", .summary,
                         help: "From a batch's creation to its delivery.", samples: latency),
        ]
    }

    /// `outpost_series_value`: every series' latest value, labelled with its name, unit and attributes. A series
    /// whose sensor is in fault has no sample (Prometheus' way of saying "no value now").
    private static func latest(_ series: [(series: Series, value: Double?)]) -> MetricFamily {
        let samples = series.compactMap { entry -> (String, MetricFamily.Sample)? in
            guard let value = entry.value else { return nil }
            var labels = [MetricFamily.Label("series", entry.series.name), .init("unit", entry.series.unit)]
            for (key, attribute) in entry.series.attributes.entries {
                // `sensor.id` and `sensor_id` would both be `sensor_id`: the first one named wins.
                let name = PrometheusText.labelName(key)
                if !labels.contains(where: { $0.name == name }) { labels.append(.init(name, "\(attribute)")) }
            }
            return (entry.series.name + "\(entry.series.attributes)", .init(labels: labels, value: value))
        }.sorted { $0.0 < $1.0 }.map(\.1)
        return MetricFamily("outpost_series_value", .gauge, help: "The latest value of every series.",
                            samples: samples)
    }
}

/// Reloads since start, by result.
struct ReloadCounts: Sendable {
    var applied = 0
    var refused = 0
}
