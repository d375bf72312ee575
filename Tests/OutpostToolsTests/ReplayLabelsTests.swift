import OutpostCore
import Testing
@testable import OutpostTools

@Suite("Replay labels file")
struct ReplayLabelsTests {
    @Test("windows are read in any replay time format; a bad line is named by file:line and skipped")
    func parse() {
        var problems: [String] = []
        let labels = ReplayLabels.parse("""
            series,start,end,kind
            # a comment
            tank.level,2026-01-01T00:00:00Z,2026-01-01T00:10:00Z,spike

            pump.current,1767225600,1767226200
            pump.current,1767226200,1767225600
            only,two
            """, path: "labels.csv") { problems.append($0) }
        #expect(labels.windows.count == 2)
        #expect(labels.windows.first == ReplayLabels.Window(series: "tank.level", start: 1_767_225_600_000_000_000,
                                                          end: 1_767_226_200_000_000_000, kind: "spike"))
        #expect(labels.windows.last?.kind == "")
        #expect(problems.map { $0.prefix(13) } == ["labels.csv:6:", "labels.csv:7:"])
    }
}
