import OutpostCore

/// What one input writes into: the next stage's door, behind the sample gate when the runtime has one, so readings
/// stamped before the wall clock could be trusted wait in it and leave stamped right.
package struct GatedSink: ReadingSink {
    package let index: Int
    package let next: any ReadingSink
    package let gate: SampleGate?

    package init(index: Int, next: any ReadingSink, gate: SampleGate?) {
        self.index = index
        self.next = next
        self.gate = gate
    }

    package func accept(_ readings: [Reading]) async {
        guard let gate else { return await next.accept(readings) }
        let ready = gate.admit(readings, from: index)
        if !ready.isEmpty { await next.accept(ready) }
    }
}
