import Dispatch
import Foundation
import OutpostCore
@testable import OutpostInputs
import OutpostTestSupport
import Synchronization
import Testing

@Suite("Modbus lanes: one request at a time per line, a deadline for every poll")
struct ModbusLaneTests {
    /// Counts the runs inside a lane at once.
    final class Overlap: Sendable {
        let state = Mutex((inside: 0, most: 0))

        func enter() { state.withLock { $0.inside += 1; $0.most = max($0.most, $0.inside) } }
        func leave() { state.withLock { $0.inside -= 1 } }
        var most: Int { state.withLock { $0.most } }
    }

    func endpoint(_ name: String) -> ModbusEndpoint {
        .tcp(host: "lane-\(name)-\(UUID().uuidString.prefix(8))", port: 502)
    }

    @Test("runs on one lane never overlap, however many devices ask at once; a serial bus is one lane too",
          arguments: [false, true])
    func serialised(serial: Bool) async {
        let endpoint: ModbusEndpoint = serial ? .rtu(ModbusSerialLine(device: "/dev/lane-test-\(UUID().uuidString)"))
            : self.endpoint("serial")
        let lane = ModbusLanes.lane(for: endpoint)
        let overlap = Overlap()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<24 {
                group.addTask {
                    _ = await lane.run(endpoint: endpoint, label: "t", deadline: .seconds(30)) { _ in
                        overlap.enter()
                        usleep(2_000)  // a request on the line
                        overlap.leave()
                    }
                }
            }
        }
        #expect(overlap.most == 1)
    }

    @Test("two names of one serial port (a link such as /dev/serial0 and its target) share one lane")
    func linkedNamesShareALane() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = folder.appendingPathComponent("ttyS0").path, alias = folder.appendingPathComponent("serial0").path
        _ = FileManager.default.createFile(atPath: port, contents: nil)
        try FileManager.default.createSymbolicLink(atPath: alias, withDestinationPath: port)
        let direct = ModbusLanes.lane(for: .rtu(ModbusSerialLine(device: port)))
        let linked = ModbusLanes.lane(for: .rtu(ModbusSerialLine(device: alias, baud: 9600)))
        #expect(direct === linked)
        #expect(ModbusLanes.lane(for: .tcp(host: "a", port: 502)) !== ModbusLanes.lane(for: .tcp(host: "a", port: 503)))
    }

    @Test("two TCP servers are read in parallel on the blocking pool")
    func parallelLanes() async {
        let first = endpoint("a"), second = endpoint("b")
        let both = DispatchGroup()
        both.enter()
        both.enter()
        // Each run waits until the other is inside too: possible only when they run at the same time.
        let meet: @Sendable (ModbusConnection) -> Bool = { _ in
            both.leave()
            return both.wait(timeout: .now() + 20) == .success
        }
        async let a = ModbusLanes.lane(for: first).run(endpoint: first, label: "a", deadline: .seconds(30), meet)
        async let b = ModbusLanes.lane(for: second).run(endpoint: second, label: "b", deadline: .seconds(30), meet)
        let (resultA, resultB) = await (a, b)
        guard case .done(true) = resultA, case .done(true) = resultB else {
            Issue.record("the lanes did not run side by side: \(resultA), \(resultB)")
            return
        }
    }

    @Test("a run past its deadline returns at once; the lane refuses new runs until the late one returns")
    func deadline() async {
        let endpoint = endpoint("deadline")
        let lane = ModbusLanes.lane(for: endpoint)
        let release = DispatchSemaphore(value: 0)
        // The run blocks until released: only its deadline can end the wait.
        let late = await lane.run(endpoint: endpoint, label: "meter unit 3", deadline: .milliseconds(100)) { _ in
            release.wait()
            return 1
        }
        guard case .deadlinePassed = late else { Issue.record("\(late)"); return }
        let refused = await lane.run(endpoint: endpoint, label: "other", deadline: .seconds(1)) { _ in 2 }
        guard case .busy(let holder) = refused else { Issue.record("\(refused)"); return }
        #expect(holder == "meter unit 3")
        release.signal()
        // The late run returns at once now; the lane takes runs again as soon as it has.
        var outcome: ModbusLane.Outcome<Int> = .busy("")
        for _ in 0..<1000 {
            outcome = await lane.run(endpoint: endpoint, label: "after", deadline: .seconds(5)) { _ in 3 }
            if case .done = outcome { break }
            await Task.yield()
        }
        guard case .done(3) = outcome else { Issue.record("\(outcome)"); return }
    }

    @Test("a cancelled poll (shutdown) returns without waiting for the line")
    func cancellation() async {
        let endpoint = endpoint("cancel")
        let lane = ModbusLanes.lane(for: endpoint)
        let release = DispatchSemaphore(value: 0)
        let task = Task {
            await lane.run(endpoint: endpoint, label: "held", deadline: .seconds(60)) { _ in
                release.wait()
                return 1
            }
        }
        task.cancel()
        let outcome = await task.value
        release.signal()
        guard case .cancelled = outcome else { Issue.record("\(outcome)"); return }
    }
}
