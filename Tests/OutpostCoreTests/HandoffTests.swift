import Synchronization
import Testing
@testable import OutpostCore

@Suite("Handoff between pipeline tasks")
struct HandoffTests {
    @Test("elements arrive in order; a sender waits while the queue is full, and goes on once one is taken")
    func backPressure() async {
        let handoff = Handoff<Int>(capacity: 2)
        await handoff.send(1)
        await handoff.send(2)
        let sent = Flag()
        let third = Task {
            await handoff.send(3)
            sent.set()
        }
        for _ in 0..<1000 { await Task.yield() }
        let early = sent.isSet
        #expect(early == false, "the queue is full: the third send waits")
        #expect(await handoff.next() == 1)
        await third.value
        let late = sent.isSet
        #expect(late)
        #expect(await handoff.next() == 2)
        #expect(await handoff.next() == 3)
    }

    @Test("finish drains what was sent, including senders still waiting, then ends; later sends are dropped")
    func finishDrains() async {
        let handoff = Handoff<Int>(capacity: 1)
        await handoff.send(1)
        let waiting = Task { await handoff.send(2) }
        for _ in 0..<1000 { await Task.yield() }
        handoff.finish()
        await waiting.value
        await handoff.send(3)
        var received: [Int] = []
        for await element in handoff { received.append(element) }
        #expect(received == [1, 2])
    }

    @Test("a consumer waiting on an empty queue gets the next element, or nil at finish")
    func waitingConsumer() async {
        let handoff = Handoff<Int>(capacity: 0)
        let consumer = Task { () -> [Int] in
            var received: [Int] = []
            for await element in handoff { received.append(element) }
            return received
        }
        await handoff.send(7)
        await handoff.send(8)
        handoff.finish()
        #expect(await consumer.value == [7, 8])
    }

    @Test("a cancelled sender is let go; a cancelled consumer's iteration ends")
    func cancellation() async {
        let handoff = Handoff<Int>(capacity: 0)
        let sender = Task { await handoff.send(1) }
        sender.cancel()
        await sender.value
        let consumer = Task { await handoff.next() }
        consumer.cancel()
        #expect(await consumer.value == nil)
    }

    @Test("many senders, one consumer: every element arrives exactly once")
    func manySenders() async {
        let handoff = Handoff<Int>(capacity: 4)
        let consumer = Task { () -> [Int] in
            var received: [Int] = []
            for await element in handoff { received.append(element) }
            return received
        }
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<8 {
                group.addTask { for index in 0..<250 { await handoff.send(sender * 1000 + index) } }
            }
        }
        handoff.finish()
        let received = await consumer.value
        #expect(received.count == 2000)
        #expect(Set(received).count == 2000)
    }
}

private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
