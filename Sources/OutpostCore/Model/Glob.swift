/// A shell-style pattern over series names: `*` matches any run of characters, `?` one character.
///
/// Used by detection overrides and rules (`series = "host.*"`); dots are ordinary characters, so `system.*`
/// matches every system series and `*temperature*` any series whose name contains it.
package struct Glob: Sendable, Hashable, CustomStringConvertible {
    package let pattern: String
    private let characters: [Character]

    package init(_ pattern: String) {
        self.pattern = pattern
        self.characters = Array(pattern)
    }

    package var description: String { pattern }

    package func matches(_ text: String) -> Bool {
        let input = Array(text)
        var p = 0, t = 0
        var starPattern = -1, starText = 0
        while t < input.count {
            if p < characters.count, characters[p] == "?" || characters[p] == input[t] {
                p += 1
                t += 1
            } else if p < characters.count, characters[p] == "*" {
                starPattern = p
                starText = t
                p += 1
            } else if starPattern >= 0 {
                p = starPattern + 1
                starText += 1
                t = starText
            } else {
                return false
            }
        }
        while p < characters.count, characters[p] == "*" { p += 1 }
        return p == characters.count
    }
}
