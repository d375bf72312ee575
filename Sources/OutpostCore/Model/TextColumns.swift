extension String {
    /// The text padded with spaces to `width` (right-aligned unless `left`), or with one space when it is wider:
    /// the columns of the command-line tables.
    package func padded(to width: Int, left: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(1, width - count))
        return left ? self + padding : padding + self
    }
}
