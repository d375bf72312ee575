/// What a group of series usually looks like: a streaming mean and covariance of its members, each member's noise,
/// and the principal components of the covariance measured in units of that noise, refreshed on demand.
///
/// Members are scaled by their own noise (the typical change from one group sample to the next) rather than by their
/// spread, so that every member's noise weighs the same: a component then carries signal when its variance is well
/// above 1 (`signal_to_noise`), and what the model leaves out is noise alone. A flow meter that reads to 1 % and a
/// pressure gauge that reads to 0.1 % are then judged each by its own precision (maximum-likelihood scaling in the
/// sense of Wentzell et al. 1997, "Maximum likelihood principal component analysis"; scaling by the noise estimated
/// from successive differences, as in von Neumann's mean square successive difference, 1941).
///
/// The mean and covariance follow Welford (1962), or, for `method = "ewma"`, turn exponentially weighted once
/// `window` samples are learned. Memory: two d × d matrices and a few vectors of d (about 17 KiB at d = 32).
struct GroupModel: Sendable {
    let dimension: Int
    private let weightedAfter: Int?
    private let signalToNoise: Double
    /// Samples learned.
    private(set) var learned = 0
    private var mean: [Double]
    /// Welford's sums of products of deviations (upper triangle); the covariance itself once exponentially weighted.
    private var moments: [Double]
    private var weighted = false
    /// Each member's mean absolute nonzero step between group samples, and how many steps taught it.
    private var steps: [Double]
    private var stepCounts: [Int]
    /// The model the statistics are computed with, from the latest `refresh()`.
    private(set) var components: Components?

    /// The principal components as refreshed: how each member is scaled, which components carry signal, and the
    /// textbook limits of the statistics.
    struct Components: Sendable {
        /// Each member's noise (its standard deviation from one sample to the next), the unit it is measured in.
        let scale: [Double]
        /// Every eigenvalue of the scaled covariance, largest first.
        let values: [Double]
        /// The retained components' vectors, row-major by component (`retained` × dimension).
        let vectors: [Double]
        let retained: Int
        /// T² and Q at 99 % for Gaussian data, and the scale of Q's tail (Box's g).
        let t2Limit: Double
        let qLimit: Double
        let qScale: Double
        /// The step T² a sample-to-sample change of pure noise gives (2 Σ 1 / λ over the retained components).
        let noiseStep: Double
    }

    /// Both statistics of one sample, and how far the operating point moved since the previous one.
    struct Scores: Sendable {
        /// Hotelling's T² over the retained components, and the squared prediction error (the residual's length²).
        let t2: Double
        let q: Double
        /// T² of the change since the previous sample (nil without one).
        let step: Double?
    }

    init(dimension: Int, method: GroupConfiguration.Method, window: Int, signalToNoise: Double) {
        self.dimension = dimension
        self.weightedAfter = method == .ewma ? window : nil
        self.signalToNoise = signalToNoise
        mean = Array(repeating: 0, count: dimension)
        moments = Array(repeating: 0, count: dimension * dimension)
        steps = Array(repeating: 0, count: dimension)
        stepCounts = Array(repeating: 0, count: dimension)
    }

    // MARK: Learning

    /// Learns one group sample, and the step from `previous` (the group sample before it) into each member's noise.
    mutating func learn(_ x: [Double], previous: [Double]?) {
        if let previous { learnNoise(x, previous) }
        learned += 1
        let d = dimension
        if let window = weightedAfter, !weighted, learned > window {
            let n = Double(learned - 2)
            for index in moments.indices { moments[index] /= max(n, 1) }
            weighted = true
        }
        if weighted {
            let alpha = 2 / (Double(weightedAfter!) + 1)
            var delta = [Double](repeating: 0, count: d)
            for i in 0..<d {
                delta[i] = x[i] - mean[i]
                mean[i] += alpha * delta[i]
            }
            for i in 0..<d {
                for j in i..<d { moments[i * d + j] = (1 - alpha) * (moments[i * d + j] + alpha * delta[i] * delta[j]) }
            }
        } else {
            let n = Double(learned)
            var before = [Double](repeating: 0, count: d)
            for i in 0..<d {
                before[i] = x[i] - mean[i]
                mean[i] += before[i] / n
            }
            for i in 0..<d {
                let after = x[i] - mean[i]
                for j in 0..<(i + 1) { moments[j * d + i] += before[j] * after }
            }
        }
    }

    /// The mean of each member's nonzero steps, each clipped at four times the current estimate so that a pump
    /// starting (one large step) does not pass for noise; steps of exactly zero are a sensor holding its last digit.
    private mutating func learnNoise(_ x: [Double], _ previous: [Double]) {
        for i in 0..<dimension {
            let step = abs(x[i] - previous[i])
            guard step > 0, step.isFinite else { continue }
            guard stepCounts[i] > 0 else {
                steps[i] = step
                stepCounts[i] = 1
                continue
            }
            let weight = max(1 / (Double(stepCounts[i]) + 10), 1 / ExcursionTail.span)
            steps[i] += weight * (min(step, 4 * steps[i]) - steps[i])
            stepCounts[i] += 1
        }
    }

    /// The covariance as learned so far (full, symmetric).
    private var covariance: [Double] {
        let d = dimension
        let divisor = weighted ? 1 : Double(max(1, learned - 1))
        var result = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in i..<d {
                result[i * d + j] = moments[i * d + j] / divisor
                result[j * d + i] = result[i * d + j]
            }
        }
        return result
    }

    /// Decomposes the covariance as learned so far; from now on the statistics use the new components.
    mutating func refresh() {
        guard learned > dimension else { return }
        let d = dimension
        let covariance = covariance
        // A step of N(0, 2σ²) has mean absolute value 2σ / √π.
        let scale = (0..<d).map { i -> Double in
            let spread = covariance[i * d + i].squareRoot()
            let floor = max(1e-3 * spread, 1e-6 * abs(mean[i]), 1e-12)
            return stepCounts[i] > 0 ? max(steps[i] * Double.pi.squareRoot() / 2, floor) : max(spread, floor)
        }
        var scaled = covariance
        for i in 0..<d { for j in 0..<d { scaled[i * d + j] /= scale[i] * scale[j] } }
        let eigen = SymmetricEigen(matrix: scaled, dimension: d)
        let values = eigen.values.map { max($0, 0) }
        let retained = min(max(values.count { $0 > signalToNoise }, 1), d - 1)
        let vectors = Array(eigen.vectors[0..<(retained * d)])
        let (qLimit, qScale) = ControlLimits.squaredPredictionError(residual: values[retained...])
        components = Components(
            scale: scale, values: values, vectors: vectors, retained: retained,
            t2Limit: ControlLimits.hotelling(components: retained), qLimit: max(qLimit, 1e-9), qScale: qScale,
            noiseStep: 2 * values[0..<retained].reduce(0) { $0 + 1 / max($1, 1e-12) })
    }

    // MARK: Judging

    /// T² and Q of `x` (and the step from `previous`), by the refreshed components; nil before the first refresh.
    func scores(_ x: [Double], previous: [Double]?) -> Scores? {
        guard let model = components else { return nil }
        let d = dimension
        var z = [Double](repeating: 0, count: d)
        var length = 0.0
        for i in 0..<d {
            z[i] = (x[i] - mean[i]) / model.scale[i]
            length += z[i] * z[i]
        }
        var t2 = 0.0, explained = 0.0, step = 0.0
        for j in 0..<model.retained {
            var score = 0.0, change = 0.0
            for i in 0..<d {
                score += model.vectors[j * d + i] * z[i]
                if let previous { change += model.vectors[j * d + i] * (x[i] - previous[i]) / model.scale[i] }
            }
            let value = max(model.values[j], 1e-12)
            t2 += score * score / value
            explained += score * score
            step += change * change / value
        }
        // The residual's length² is what the retained components leave of z's (the vectors are orthonormal).
        return Scores(t2: t2, q: max(0, length - explained), step: previous == nil ? nil : step)
    }

    /// How much each member contributes to `statistic` at `x`; the contributions add up to the statistic. For Q, each
    /// member's squared residual: how far (in its noise) it lies from what its relations to the others predict. For
    /// T², each member's term z_i (P Λ⁻¹ Pᵀ z)_i, zero where negative: how much it moves the sample away from the
    /// usual operating point (Westerhuis, Gurden and Smilde 2000, "Generalized contribution plots in multivariate
    /// statistical process monitoring", Chemometrics and Intelligent Laboratory Systems 51; Miller, Swanson and
    /// Heckler 1998 for Q). Reconstruction-based contributions (Alcalá and Qin 2009) were measured too: on faults that
    /// move several members at once (a valve sticking moves flow, pressure and current) they spread the blame evenly
    /// and divide by near-zero weights for members the model explains fully.
    func contributions(_ x: [Double], statistic: GroupStatistic) -> [Double] {
        guard let model = components else { return Array(repeating: 0, count: dimension) }
        let d = dimension
        let z = (0..<d).map { (x[$0] - mean[$0]) / model.scale[$0] }
        var scores = [Double](repeating: 0, count: model.retained)
        for j in 0..<model.retained {
            for i in 0..<d { scores[j] += model.vectors[j * d + i] * z[i] }
        }
        return (0..<d).map { i in
            switch statistic {
            case .q:
                var residual = z[i]
                for j in 0..<model.retained { residual -= model.vectors[j * d + i] * scores[j] }
                return residual * residual
            case .t2:
                var weighted = 0.0
                for j in 0..<model.retained {
                    weighted += model.vectors[j * d + i] * scores[j] / max(model.values[j], 1e-12)
                }
                return max(0, z[i] * weighted)
            }
        }
    }
}

/// The two statistics of a principal-component model.
package enum GroupStatistic: String, Sendable, CaseIterable {
    /// Hotelling's T²: how far the sample lies from the usual operating point, along the relations the model knows.
    case t2
    /// The squared prediction error: how far the sample lies off those relations.
    case q

    /// How the statistic is written in messages.
    package var symbol: String { self == .t2 ? "T²" : "Q" }
}
