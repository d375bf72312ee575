/// One read on the wire: a run of addresses of one table, and the values of the register map it carries.
package struct ModbusRequest: Sendable, Equatable {
    package let table: ModbusTable
    package let start: Int
    package let count: Int
    /// Indices into the device's register list, in address order.
    package let values: [Int]

    package init(table: ModbusTable, start: Int, count: Int, values: [Int]) {
        self.table = table
        self.start = start
        self.count = count
        self.values = values
    }

    /// `holding registers 0–39`, for messages.
    package var place: String {
        count == 1 ? "\(table.label) \(start)" : "\(table.label)s \(start)–\(start + count - 1)"
    }
}

/// Cuts a register map into as few reads as the protocol allows: values of one table whose addresses lie close
/// together share a read of at most `maxRegisters` registers (2000 bits for coils and discrete inputs), and a gap
/// of up to `maxGap` unused addresses between two values is read along rather than costing another request.
///
/// On a serial line a request costs a turnaround (the device's reply delay plus 3.5 character times each way), far
/// more than a few unused registers; on TCP it costs a round trip. Some devices answer a read that touches an
/// unmapped address with exception 0x02; `ModbusReader` then reads the values of that request one by one.
package enum ModbusRequestPlanner {
    /// `max_gap` default: 10 unused registers (20 bytes, 17 ms at 9600 baud) are cheaper than a request.
    package static let defaultMaxGap = 10

    package static func plan(_ registers: [ModbusRegister], maxGap: Int, maxRegisters: Int) -> [ModbusRequest] {
        let byTable = Dictionary(grouping: registers.indices, by: { registers[$0].table })
        return byTable.keys.sorted().flatMap { table in
            plan(table: table, indices: byTable[table] ?? [], registers: registers, maxGap: maxGap,
                 maxRegisters: maxRegisters)
        }
    }

    /// Each value alone in its request: what a device that refuses bridged reads gets.
    package static func single(_ registers: [ModbusRegister], indices: [Int]) -> [ModbusRequest] {
        indices.map { index in
            ModbusRequest(table: registers[index].table, start: registers[index].address, count: registers[index].span,
                          values: [index])
        }
    }

    private static func plan(table: ModbusTable, indices: [Int], registers: [ModbusRegister], maxGap: Int,
                             maxRegisters: Int) -> [ModbusRequest] {
        let sorted = indices.sorted { (registers[$0].address, $0) < (registers[$1].address, $1) }
        // Gaps and limits count addresses: registers for register tables, bits for bit tables (16 bits bridged per
        // register of gap, since they travel packed 8 to a byte).
        let limit = table.holdsBits ? table.maximumPerRequest : min(maxRegisters, table.maximumPerRequest)
        let gap = table.holdsBits ? maxGap * 16 : maxGap
        var requests: [ModbusRequest] = []
        var start = -1, end = -1, members: [Int] = []
        for index in sorted {
            let register = registers[index]
            let newEnd = max(end, register.lastAddress)
            if !members.isEmpty, register.address - end - 1 <= gap, newEnd - start + 1 <= limit {
                end = newEnd
                members.append(index)
                continue
            }
            if !members.isEmpty {
                requests.append(ModbusRequest(table: table, start: start, count: end - start + 1, values: members))
            }
            start = register.address
            end = register.lastAddress
            members = [index]
        }
        if !members.isEmpty {
            requests.append(ModbusRequest(table: table, start: start, count: end - start + 1, values: members))
        }
        return requests
    }
}
