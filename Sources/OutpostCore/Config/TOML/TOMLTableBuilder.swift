/// A parsed TOML value and where it is written.
struct TOMLValue {
    enum Kind {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)
        case dateTime(String)
        case array([TOMLValue])
        case table(TOMLTableBuilder)
    }

    let kind: Kind
    let line: Int
    let column: Int
}

/// A table while the document is being read: keeps entries in file order and enforces TOML's rules on
/// redefinition (no duplicate keys, no table defined twice, no appending to a static array).
final class TOMLTableBuilder {
    enum Kind {
        /// Created on the way to a deeper header (`[a.b]` creates `a`); may still be defined by `[a]` later.
        case implicit
        /// Defined by its own `[header]`.
        case explicit
        /// Created by a dotted key (`a.b = 1` creates `a`).
        case dotted
        /// `{ ... }`: closed, nothing may be added afterwards.
        case inline
    }

    enum Entry {
        case value(TOMLValue)
        case table(TOMLTableBuilder)
        case arrayOfTables([TOMLTableBuilder])
    }

    private(set) var kind: Kind
    let line: Int
    let column: Int
    /// For each key, where it was written and what it holds, in file order.
    private(set) var entries: [(key: String, line: Int, column: Int, entry: Entry)] = []
    private var positions: [String: Int] = [:]

    init(kind: Kind, line: Int, column: Int) {
        self.kind = kind
        self.line = line
        self.column = column
    }

    private func existing(_ key: String) -> Entry? {
        positions[key].map { entries[$0].entry }
    }

    private func add(_ key: String, _ entry: Entry, line: Int, column: Int) {
        positions[key] = entries.count
        entries.append((key, line, column, entry))
    }

    private func replace(_ key: String, _ entry: Entry) {
        if let position = positions[key] { entries[position].entry = entry }
    }

    /// `key = value`.
    func set(_ key: String, _ value: TOMLValue, line: Int, column: Int) throws(TOMLSyntaxError) {
        guard existing(key) == nil else {
            throw TOMLSyntaxError(message: "duplicate key `\(key)`", line: line, column: column)
        }
        if case .table(let inline) = value.kind {
            add(key, .table(inline), line: line, column: column)
        } else {
            add(key, .value(value), line: line, column: column)
        }
    }

    /// The table a dotted key walks through (`a.b = 1` walks through `a`).
    func dottedTable(_ key: String, line: Int, column: Int) throws(TOMLSyntaxError) -> TOMLTableBuilder {
        switch existing(key) {
        case nil:
            let table = TOMLTableBuilder(kind: .dotted, line: line, column: column)
            add(key, .table(table), line: line, column: column)
            return table
        case .table(let table) where table.kind == .dotted || table.kind == .implicit:
            return table
        default:
            throw TOMLSyntaxError(message: "`\(key)` is already defined and cannot be extended with a dotted key",
                                  line: line, column: column)
        }
    }

    /// The table a header walks through (`[a.b]` walks through `a`; into the newest `[[a]]` element).
    func descend(_ key: String, line: Int, column: Int) throws(TOMLSyntaxError) -> TOMLTableBuilder {
        switch existing(key) {
        case nil:
            let table = TOMLTableBuilder(kind: .implicit, line: line, column: column)
            add(key, .table(table), line: line, column: column)
            return table
        case .table(let table) where table.kind != .inline:
            return table
        case .arrayOfTables(let tables):
            return tables[tables.count - 1]
        default:
            throw TOMLSyntaxError(message: "`\(key)` is already a value, not a table", line: line, column: column)
        }
    }

    /// `[key]`.
    func defineTable(_ key: String, line: Int, column: Int) throws(TOMLSyntaxError) -> TOMLTableBuilder {
        switch existing(key) {
        case nil:
            let table = TOMLTableBuilder(kind: .explicit, line: line, column: column)
            add(key, .table(table), line: line, column: column)
            return table
        case .table(let table) where table.kind == .implicit:
            table.kind = .explicit
            return table
        case .value:
            throw TOMLSyntaxError(message: "`\(key)` is already a value, not a table", line: line, column: column)
        default:
            throw TOMLSyntaxError(message: "table `[\(key)]` is defined more than once", line: line, column: column)
        }
    }

    /// `[[key]]`: a new element of an array of tables.
    func appendArrayTable(_ key: String, line: Int, column: Int) throws(TOMLSyntaxError) -> TOMLTableBuilder {
        let table = TOMLTableBuilder(kind: .explicit, line: line, column: column)
        switch existing(key) {
        case nil:
            add(key, .arrayOfTables([table]), line: line, column: column)
        case .arrayOfTables(let tables):
            replace(key, .arrayOfTables(tables + [table]))
        default:
            throw TOMLSyntaxError(message: "`[[\(key)]]` conflicts with `\(key)` defined earlier as a table or value",
                                  line: line, column: column)
        }
        return table
    }
}
