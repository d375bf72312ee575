import Foundation
import OutpostCore
import Testing
@testable import OutpostSpool

/// One alert document, as the batcher makes it for an alert publisher.
func alertDocument(id: String) -> Batch {
    let json = Array(#"{"schema":"outpost.alert.v1"}"#.utf8)
    return Batch(id: id, lane: .alerts, signal: .alert, format: .alertJSON, contentEncoding: .identity, created: 0,
                 items: 1, uncompressedBytes: json.count, payload: json, routing: "outpost/gw/alerts/warn/x")
}

/// The MQTT alert publisher's destination, under the name it has always had.
let publisher = SpoolDestination(uplink: "alerts.mqtt", accepts: [.alert])

/// The ids of every batch `uplink` would be offered, delivering each as it goes.
func drain(_ spool: SQLiteSpool, for uplink: String) throws -> [String] {
    var ids: [String] = []
    while let next = try spool.next(for: uplink, now: 0) {
        ids.append(next.batch.id)
        try spool.delivered(next.sequence, by: uplink)
    }
    return ids
}

@Suite("Spool routing by what each uplink accepts")
struct SpoolRoutingTests {
    @Test("an OTLP uplink named `alerts.backup` receives metrics and events, never alert documents")
    func alertsBackupGetsMetrics() throws {
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 1 << 20,
                                    destinations: otlp("alerts.backup") + [publisher])
        try spool.enqueue(batch(.metrics, id: "m"))
        try spool.enqueue(batch(.events, id: "e"))
        try spool.enqueue(alertDocument(id: "doc"))
        #expect(try drain(spool, for: "alerts.backup") == ["e", "m"])
    }

    @Test("an OTLP uplink named `alerts.mqtt` gets metrics like any other")
    func alertsMQTTGetsMetrics() throws {
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 1 << 20,
                                    destinations: otlp("alerts.mqtt", "otlp"))
        try spool.enqueue(batch(.metrics, id: "m"))
        #expect(try drain(spool, for: "alerts.mqtt") == ["m"])
        #expect(try drain(spool, for: "otlp") == ["m"])
    }

    @Test("the alert publisher gets only alert documents, whatever the other uplinks are called")
    func publisherGetsOnlyAlerts() throws {
        let spool = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 1 << 20,
                                    destinations: otlp("otlp", "alerts.backup") + [publisher])
        try spool.enqueue(batch(.alerts, id: "alert-as-otlp"))
        try spool.enqueue(alertDocument(id: "doc"))
        try spool.enqueue(batch(.metrics, id: "m"))
        #expect(try drain(spool, for: "alerts.mqtt") == ["doc"])
        #expect(try drain(spool, for: "otlp") == ["alert-as-otlp", "m"])
        #expect(try drain(spool, for: "alerts.backup") == ["alert-as-otlp", "m"])
        #expect(try spool.batches(limit: 10).isEmpty, "each left once every uplink taking it had it")
    }

    @Test("a spool routed by the old name rule opens under the new one: misrouted rows go, their batches are adopted")
    func upgradesANameRoutedSpool() throws {
        let path = try temporarySpoolPath()
        // What an older Outpost wrote for an OTLP uplink named `alerts.backup`: alert documents instead of OTLP.
        do {
            let old = try SQLiteSpool(path: path, maxBytes: 1 << 20,
                                      destinations: [SpoolDestination(uplink: "alerts.backup", accepts: [.alert])]
                                          + otlp("otlp"))
            try old.enqueue(alertDocument(id: "doc"))
            try old.enqueue(batch(.metrics, id: "old-metrics"))
        }
        let spool = try SQLiteSpool(path: path, maxBytes: 1 << 20,
                                    destinations: otlp("alerts.backup", "otlp") + [publisher])
        try spool.enqueue(batch(.metrics, id: "new-metrics"))
        #expect(try drain(spool, for: "alerts.backup") == ["new-metrics"])
        #expect(try drain(spool, for: "alerts.mqtt") == ["doc"], "adopted once nobody else wanted it")
        #expect(try drain(spool, for: "otlp") == ["old-metrics", "new-metrics"])
        #expect(try spool.batches(limit: 10).isEmpty)
    }

    @Test("salvage routes by what each uplink accepts too")
    func salvageRoutesBySignal() throws {
        let damaged = try temporarySpoolPath()
        do {
            let old = try SQLiteSpool(path: damaged, maxBytes: 1 << 20, destinations: otlp("otlp") + [publisher])
            try old.enqueue(alertDocument(id: "doc"))
            try old.enqueue(batch(.metrics, id: "m"))
            old.close()
        }
        let fresh = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 1 << 20,
                                    destinations: otlp("alerts.backup") + [publisher])
        #expect(fresh.salvage(from: damaged).batches == 2)
        #expect(try drain(fresh, for: "alerts.backup") == ["m"])
        #expect(try drain(fresh, for: "alerts.mqtt") == ["doc"])
    }

    @Test("a row with a signal no uplink accepts is offered to none; an encoding no Outpost writes is damage")
    func unknownValues() throws {
        let path = try temporarySpoolPath()
        do {
            let spool = try SQLiteSpool(path: path, maxBytes: 1 << 20, destinations: otlp("otlp"))
            for id in ["m1", "traces", "brotli", "m4"] { try spool.enqueue(batch(.metrics, id: id)) }
            spool.close()
        }
        try sqlite(path, """
            UPDATE batches SET signal = 'traces' WHERE id = 'traces';
            UPDATE batches SET content_encoding = 'br' WHERE id = 'brotli';
            """)
        let spool = try SQLiteSpool(path: path, maxBytes: 1 << 20, destinations: otlp("otlp"))
        let first = try #require(try spool.next(for: "otlp", now: 0))
        #expect(first.batch.id == "m1")
        try spool.delivered(first.sequence, by: "otlp")
        let error = try #require(throws: SQLiteError.self) { _ = try spool.next(for: "otlp", now: 0) }
        #expect(error.isUnusableFile && error.message.contains("`br`"), "\(error)")
        spool.close()
        let fresh = try SQLiteSpool(path: try temporarySpoolPath(), maxBytes: 1 << 20, destinations: otlp("otlp"))
        let salvage = fresh.salvage(from: path)
        #expect(salvage.batches == 1 && salvage.unreadable == 2, "\(salvage)")
        #expect(try drain(fresh, for: "otlp") == ["m4"])
    }
}
