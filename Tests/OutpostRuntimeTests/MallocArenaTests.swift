import CMallocTuning
import Dispatch
import Testing

@Suite("Memory")
struct MallocArenaTests {
    @Test("glibc's malloc keeps one arena however many threads allocate at once (set before main runs)")
    func oneArena() {
        // Eight threads allocating at the same time: glibc would give the contending ones arenas of their own.
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            var kept: [[UInt8]] = []
            for size in 0..<2_000 {
                kept.append([UInt8](repeating: UInt8(truncatingIfNeeded: thread), count: 64 + size))
            }
            #expect(kept.count == 2_000)
        }
        #expect(outpost_malloc_arena_count() == 1)
    }
}
