import OutpostCore
import Testing

@Suite("Reports about refused batches never feed themselves")
struct RejectionReportTests {
    @Test("the first refusal per uplink and lane is reported at once, the rest of the minute in one summary")
    func window() {
        var reports = DropReports()
        let refuse = { (lane: Lane) in reports.admit(uplink: "otlp", lane: lane, batches: 1, items: 1, bytes: 10, reason: "HTTP 401") }
        #expect(refuse(.alerts) == true)
        #expect(refuse(.metrics) == true)
        let repeated = (0..<50).map { _ in refuse(.alerts) }
        #expect(repeated.allSatisfy { !$0 })
        var early: [DropReports.Summary] = []
        for _ in 0..<(DropReports.windowSteps - 1) { early += reports.step() }
        #expect(early.isEmpty)
        let due = reports.step()
        #expect(due.count == 1)
        #expect(due.first?.lane == .alerts && due.first?.batches == 50 && due.first?.seconds == 60)
        var quiet: [DropReports.Summary] = []
        for _ in 0..<DropReports.windowSteps { quiet += reports.step() }
        #expect(quiet.isEmpty)
        let again = refuse(.alerts)
        #expect(again == true,
                "after a quiet window the next refusal is news again")
    }
}
