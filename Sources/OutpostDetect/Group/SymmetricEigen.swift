/// The eigenvalues and eigenvectors of a real symmetric matrix, by cyclic Jacobi rotations.
///
/// Each rotation zeroes one off-diagonal pair; a sweep visits every pair once, and the off-diagonal mass falls
/// quadratically once it is small, so a d × d covariance (d up to 32) settles in 6 to 10 sweeps: about d³ · 4 · sweeps
/// multiplications, a millisecond at d = 32 on a Raspberry Pi 4, and the number of sweeps is capped so the cost is
/// bounded whatever the matrix. Rutishauser's formulation of Jacobi's method (Golub and Van Loan, "Matrix
/// Computations", 4th ed., §8.5.2 and Algorithm 8.5.3): the rotation angle from θ = (a_qq − a_pp) / (2 a_pq) with the
/// smaller root t = sign(θ) / (|θ| + √(θ² + 1)), which keeps the rotation within 45° and the update stable.
///
/// Values come sorted from the largest; each vector is scaled to unit length with its largest component positive, so
/// the same matrix always gives the same signs.
package struct SymmetricEigen: Sendable {
    package let dimension: Int
    /// Eigenvalues, largest first.
    package let values: [Double]
    /// Eigenvectors, row-major by vector: component `i` of vector `j` is `vectors[j * dimension + i]`.
    package let vectors: [Double]
    /// Sweeps it took (at most `maximumSweeps`).
    package let sweeps: Int

    package static let maximumSweeps = 50

    /// Decomposes `matrix` (row-major, `dimension` × `dimension`; only its upper triangle is read).
    package init(matrix: [Double], dimension d: Int) {
        precondition(matrix.count == d * d, "a \(d) × \(d) matrix has \(d * d) entries")
        var a = matrix
        for row in 0..<d { for column in 0..<row { a[row * d + column] = a[column * d + row] } }
        // Columns of `rotation` collect the eigenvectors.
        var rotation = [Double](repeating: 0, count: d * d)
        for index in 0..<d { rotation[index * d + index] = 1 }
        var sweep = 0
        while sweep < Self.maximumSweeps, !Self.isDiagonal(a, d) {
            sweep += 1
            for p in 0..<d {
                for q in (p + 1)..<max(p + 1, d) where a[p * d + q] != 0 {
                    Self.rotate(&a, &rotation, d, p, q)
                }
            }
        }
        let order = (0..<d).sorted { a[$0 * d + $0] > a[$1 * d + $1] }
        var vectors = [Double](repeating: 0, count: d * d)
        for (rank, column) in order.enumerated() {
            var largest = 0.0
            for row in 0..<d where abs(rotation[row * d + column]) > abs(largest) {
                largest = rotation[row * d + column]
            }
            let sign = largest < 0 ? -1.0 : 1.0
            for row in 0..<d { vectors[rank * d + row] = sign * rotation[row * d + column] }
        }
        dimension = d
        values = order.map { a[$0 * d + $0] }
        self.vectors = vectors
        sweeps = sweep
    }

    /// Component `component` of eigenvector `vector`.
    package func vector(_ vector: Int, _ component: Int) -> Double { vectors[vector * dimension + component] }

    /// Whether the off-diagonal entries are negligible beside the diagonal (relative to the matrix's own scale, so a
    /// covariance in any unit converges the same).
    private static func isDiagonal(_ a: [Double], _ d: Int) -> Bool {
        var off = 0.0, diagonal = 0.0
        for p in 0..<d {
            diagonal += a[p * d + p] * a[p * d + p]
            for q in (p + 1)..<max(p + 1, d) { off += a[p * d + q] * a[p * d + q] }
        }
        return off <= 1e-22 * max(diagonal, 1e-300) || off < 1e-300
    }

    /// One rotation in the (p, q) plane that zeroes a[p][q], applied to both sides of `a` and to `v`'s columns.
    private static func rotate(_ a: inout [Double], _ v: inout [Double], _ d: Int, _ p: Int, _ q: Int) {
        let apq = a[p * d + q], app = a[p * d + p], aqq = a[q * d + q]
        let theta = (aqq - app) / (2 * apq)
        let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
        let c = 1 / (t * t + 1).squareRoot(), s = t * c
        a[p * d + p] = app - t * apq
        a[q * d + q] = aqq + t * apq
        a[p * d + q] = 0
        a[q * d + p] = 0
        for r in 0..<d where r != p && r != q {
            let arp = a[r * d + p], arq = a[r * d + q]
            a[r * d + p] = c * arp - s * arq
            a[p * d + r] = a[r * d + p]
            a[r * d + q] = s * arp + c * arq
            a[q * d + r] = a[r * d + q]
        }
        for r in 0..<d {
            let vrp = v[r * d + p], vrq = v[r * d + q]
            v[r * d + p] = c * vrp - s * vrq
            v[r * d + q] = s * vrp + c * vrq
        }
    }
}
