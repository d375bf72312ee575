import Logging
import OutpostCore
import OutpostInputs
import OutpostOperations
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Where a running Outpost reads its configuration again on a reload: the file it started with, read with the
/// same environment and the same sample clock.
package struct ConfigurationFile: Sendable {
    package let path: String
    package let environment: [String: String]

    package init(path: String, environment: [String: String]) {
        self.path = path
        self.environment = environment
    }

    /// The file's configuration, or the remote one it lets an OpAMP server keep in force (see `effective`).
    func load(sampleClock: SyncAwareWallClock?) throws -> (configuration: OutpostConfiguration, note: String?) {
        let local = try OutpostConfiguration.load(path: path, environment: environment, sampleClock: sampleClock)
        return OutpostConfiguration.effective(local: local, environment: environment)
    }
}

/// How a reload went.
package enum ReloadOutcome: Sendable, Equatable {
    /// Applied; `summary` is the short diff that was logged.
    case applied(summary: String)
    /// Nothing to do: the new configuration is the running one.
    case unchanged
    /// Refused: the configuration did not check, or could not start (then the previous one runs again). The
    /// running configuration is kept; `errors` are what was logged.
    case refused(errors: [String])
}

/// Runs the pipeline and keeps it running across reloads: SIGHUP (`kill -HUP`, `systemctl reload outpost`) reads
/// the configuration file again; a remote configuration (OpAMP) comes through `reload(to:)`. Both take the same
/// path: check, plan (`ReloadPlan`), apply in place or restart the pipeline, roll back on failure, log a short diff.
///
/// A reload never loses data: what an input read before it is detected and batched as usual, inputs and uplinks
/// that did not change keep running, and a pipeline restart stops gracefully (the open batch goes to the spool)
/// before the next starts on the same spool.
final class RuntimeSupervisor: Service, CustomStringConvertible, Sendable {
    var description: String { "RuntimeSupervisor" }

    private let file: ConfigurationFile?
    let memory: RuntimeMemory
    let context: Runtime.Context
    private let state: Mutex<State>
    /// The local HTTP endpoint and the OpAMP client, over the pipeline: they outlive a pipeline restart.
    private let operations: ServiceSet
    private let reloads = Mutex(ReloadCounts())
    /// One reload at a time, in the order asked.
    private let requests: AsyncStream<Request>
    private let requestContinuation: AsyncStream<Request>.Continuation
    /// Trapped from the start, so a SIGHUP that arrives while the first pipeline starts is a reload, not the end.
    private let hangups: UnixSignalsSequence

    private struct State {
        var configuration: OutpostConfiguration
        var pipeline: LivePipeline
        var pipelineTask: Task<Void, any Error>?
        /// While a reload stops one pipeline to start the next: its end is not the runtime's.
        var restarting = false
        /// Set when no pipeline could be started at all: the runtime ends with it.
        var fatal: (any Error)?
    }

    private struct Request: Sendable {
        /// nil: read the configuration file again.
        let configuration: OutpostConfiguration?
        let done: @Sendable (ReloadOutcome) -> Void
    }

    private init(file: ConfigurationFile?, memory: RuntimeMemory, context: Runtime.Context,
                 configuration: OutpostConfiguration, pipeline: LivePipeline, hangups: UnixSignalsSequence) {
        self.file = file
        self.memory = memory
        self.context = context
        self.state = Mutex(State(configuration: configuration, pipeline: pipeline))
        self.hangups = hangups
        self.operations = ServiceSet(name: "operations", logger: context.logger)
        (requests, requestContinuation) = AsyncStream.makeStream()
    }

    /// Builds the first pipeline (what stops the start throws here) and traps SIGHUP.
    static func start(_ configuration: OutpostConfiguration, file: ConfigurationFile?, memory: RuntimeMemory,
                      context: Runtime.Context) async throws -> RuntimeSupervisor {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        if let sampleClock = configuration.sampleClock, sampleClock.kernelSynchronised == false,
            sampleClock.doubt == nil
        {
            context.logger.info("the kernel reports the clock unsynchronised (adjtimex); no NTP daemon disciplines it")
        }
        let pipeline = try await LivePipeline.build(configuration, memory: memory, context: context)
        let supervisor = RuntimeSupervisor(file: file, memory: memory, context: context, configuration: configuration,
                                           pipeline: pipeline, hangups: hangups)
        do {
            try supervisor.startHTTP(configuration)
        } catch {
            throw StartupError("[http] listen: \(error)")
        }
        supervisor.startOpAMP(configuration)
        return supervisor
    }

    // MARK: - Operations

    private func startHTTP(_ configuration: OutpostConfiguration) throws(HTTPServerError) {
        guard let endpoint = try HTTPEndpoint.bind(configuration.http, runtime: self, logger: context.logger) else {
            return
        }
        operations.add("http", endpoint)
    }

    private func startOpAMP(_ configuration: OutpostConfiguration) {
        guard configuration.opamp.endpoint != nil else { return }
        operations.add("opamp", OpAMPClient(configuration: configuration.opamp,
                                            stateDirectory: configuration.gateway.stateDirectory, runtime: self,
                                            clock: context.clock, wallClock: context.wallClock,
                                            logger: context.logger))
    }

    /// A changed `[http]`: the new address is bound before the old endpoint stops when they differ; when they are
    /// the same, the old one stops first and comes back if the new one cannot bind. Throws when `next` cannot be
    /// served (the reload is refused before anything else changes).
    private func rebindHTTP(from current: OutpostConfiguration, to next: OutpostConfiguration) async throws {
        let sameAddress = current.http.listen?.host == next.http.listen?.host
            && current.http.listen?.port == next.http.listen?.port
        if !sameAddress, let endpoint = try HTTPEndpoint.bind(next.http, runtime: self, logger: context.logger) {
            await operations.stop("http")
            await operations.start("http", endpoint)
            return
        }
        await operations.stop("http")
        do {
            if let endpoint = try HTTPEndpoint.bind(next.http, runtime: self, logger: context.logger) {
                await operations.start("http", endpoint)
            }
        } catch {
            if let endpoint = try? HTTPEndpoint.bind(current.http, runtime: self, logger: context.logger) {
                await operations.start("http", endpoint)
            }
            throw error
        }
    }

    /// The configuration running now.
    var configuration: OutpostConfiguration { state.withLock { $0.configuration } }

    /// What the status file, the endpoint and OpAMP read.
    var view: PipelineView { state.withLock { $0.pipeline.view } }

    var pipeline: LivePipeline { state.withLock { $0.pipeline } }

    var reloadCounts: ReloadCounts { reloads.withLock { $0 } }

    /// Reloads to `configuration` (already checked), or reads the file again when nil, after any reload asked before.
    func reload(to configuration: OutpostConfiguration? = nil) async -> ReloadOutcome {
        await withCheckedContinuation { continuation in
            let once = Mutex(Optional(continuation))
            let done: @Sendable (ReloadOutcome) -> Void = { outcome in
                once.withLock { $0.take() }?.resume(returning: outcome)
            }
            let request = Request(configuration: configuration, done: done)
            if case .terminated = requestContinuation.yield(request) {
                done(.refused(errors: ["Outpost is stopping"]))
            }
        }
    }

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { [operations] in try await operations.run() }
            group.addTask { [hangups, requestContinuation, context] in
                for await _ in hangups {
                    context.logger.notice("SIGHUP: reloading the configuration")
                    requestContinuation.yield(Request(configuration: nil, done: { _ in }))
                }
            }
            startPipeline()
            await withGracefulShutdownHandler {
                for await request in requests {
                    request.done(await handle(request))
                }
            } onGracefulShutdown: { [requestContinuation] in
                requestContinuation.finish()
            }
            // The pipeline's group got the graceful shutdown too (it runs under this service): wait for it.
            try await state.withLock { $0.pipelineTask }?.value
            if let fatal = state.withLock({ $0.fatal }) { throw fatal }
            group.cancelAll()
        }
    }

    /// Runs the current pipeline's group on a task of its own, under this service's graceful shutdown. A pipeline
    /// that fails on its own (a service threw) ends the process, as it did before reloads existed.
    private func startPipeline() {
        let pipeline = state.withLock { $0.pipeline }
        let task = Task { [self] in
            defer {
                // Not replaced by a reload: the pipeline ended (shutdown, a service failed), and so does the runtime.
                if state.withLock({ $0.pipeline === pipeline && !$0.restarting }) { requestContinuation.finish() }
            }
            do {
                try await pipeline.group.run()
            } catch {
                context.logger.critical("the pipeline stopped: \(error)")
                throw error
            }
        }
        state.withLock { $0.pipelineTask = task }
    }

    private func handle(_ request: Request) async -> ReloadOutcome {
        let next: OutpostConfiguration
        if let configuration = request.configuration {
            next = configuration
        } else {
            guard let file else {
                context.logger.notice("reload: running the built-in demo, which has no file to read again")
                return .unchanged
            }
            do {
                let loaded = try file.load(sampleClock: configuration.sampleClock)
                if let note = loaded.note { context.logger.notice("reload: \(note)") }
                next = loaded.configuration
            } catch let errors as ConfigErrors {
                let lines = errors.errors.map(\.description)
                context.logger.error("""
                    reload refused, the running configuration is kept: \(file.path) has \(lines.count) error(s):
                    \(lines.joined(separator: "\n"))
                    """)
                reloads.withLock { $0.refused += 1 }
                return .refused(errors: lines)
            } catch {
                context.logger.error("reload refused; the running configuration is kept: \(error)")
                reloads.withLock { $0.refused += 1 }
                return .refused(errors: ["\(error)"])
            }
        }
        return await apply(next)
    }

    private func apply(_ next: OutpostConfiguration) async -> ReloadOutcome {
        let current = configuration
        if let reason = ReloadPlan.refusal(from: current, to: next) {
            context.logger.error("reload refused, the running configuration is kept: \(reason)")
            reloads.withLock { $0.refused += 1 }
            return .refused(errors: [reason])
        }
        let plan = ReloadPlan(from: current, to: next)
        guard !plan.isEmpty else {
            context.logger.info("reload: the configuration is unchanged")
            state.withLock { $0.configuration = next }
            return .unchanged
        }
        do {
            // First, so an address that cannot be served refuses the reload before anything else changed.
            if plan.httpChanged { try await rebindHTTP(from: current, to: next) }
            if plan.restartsPipeline {
                try await restartPipeline(with: next)
            } else {
                try await state.withLock { $0.pipeline }.apply(plan, to: next)
                state.withLock { $0.configuration = next }
            }
        } catch {
            context.logger.error("reload failed, the previous configuration runs again: \(error)")
            reloads.withLock { $0.refused += 1 }
            return .refused(errors: ["\(error)"])
        }
        reloads.withLock { $0.applied += 1 }
        if plan.logLevelChanged { context.logLevel?.set(next.log.level) }
        if plan.opampChanged {
            await operations.stop("opamp")
            startOpAMP(next)
        }
        context.logger.notice("reloaded \(next.origin): \(plan.summary)")
        return .applied(summary: plan.summary)
    }

    /// Stops the running pipeline gracefully and starts one for `next` on the same spool, carrying the detection
    /// state. If `next` cannot start, the previous configuration starts again and the error is thrown.
    private func restartPipeline(with next: OutpostConfiguration) async throws {
        let (previous, old, task) = state.withLock { state in
            state.restarting = true
            return (state.configuration, state.pipeline, state.pipelineTask)
        }
        defer { state.withLock { $0.restarting = false } }
        await old.group.triggerGracefulShutdown()
        _ = try? await task?.value
        do {
            let pipeline = try await LivePipeline.build(next, memory: memory, context: context)
            state.withLock { $0.configuration = next; $0.pipeline = pipeline }
            startPipeline()
        } catch {
            do {
                let pipeline = try await LivePipeline.build(previous, memory: memory, context: context)
                state.withLock { $0.pipeline = pipeline }
                startPipeline()
            } catch let rollback {
                // Neither starts (the disk went away between the two): nothing can run, the process ends.
                context.logger.critical("cannot start the previous configuration again either: \(rollback)")
                state.withLock { $0.fatal = rollback }
                requestContinuation.finish()
            }
            throw error
        }
    }
}
