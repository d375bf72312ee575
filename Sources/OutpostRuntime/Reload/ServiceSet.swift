import Logging
import ServiceLifecycle
import Synchronization

/// Services started and stopped one at a time while the pipeline runs: the inputs, the uplinks, the broker
/// connections. A reload stops one (gracefully, as a shutdown would) and starts another without touching the rest.
///
/// Each member runs in a service group of its own, so it can be shut down alone; all of them also shut down when
/// the set does (it is a service of the pipeline's group, which stops them in data-flow order, set by set).
final class ServiceSet: Service, CustomStringConvertible, Sendable {
    var description: String { "ServiceSet(\(name))" }

    private enum Command {
        case start(key: String, ServiceGroupConfiguration.ServiceConfiguration, started: @Sendable () -> Void)
    }

    private struct Member {
        let group: ServiceGroup
        let task: Task<Void, Never>
    }

    private struct State {
        var members: [String: Member] = [:]
    }

    private let name: String
    private let logger: Logger
    private let state = Mutex(State())
    private let commands: AsyncStream<Command>
    private let continuation: AsyncStream<Command>.Continuation

    init(name: String, logger: Logger) {
        self.name = name
        self.logger = logger
        (commands, continuation) = AsyncStream.makeStream()
    }

    /// The keys of the members running now.
    var keys: Set<String> { state.withLock { Set($0.members.keys) } }

    /// Starts `service` under `key` (replacing nothing: stop the old one first). Returns once it is started, or at
    /// once when the set has stopped.
    func start(_ key: String, _ service: any Service) async {
        await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
            let once = Mutex(Optional(started))
            add(key, service) { once.withLock { $0.take() }?.resume() }
        }
    }

    /// Queues `service` to start under `key` when the set runs (or at once when it does), without waiting.
    func add(_ key: String, _ service: any Service, started: @escaping @Sendable () -> Void = {}) {
        // A member that ends (a replay at its end of file, a failed input) ends alone: it never stops the others.
        let configuration = ServiceGroupConfiguration.ServiceConfiguration(
            service: service, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore)
        if case .terminated = continuation.yield(.start(key: key, configuration, started: started)) { started() }
    }

    /// Shuts the member `key` down gracefully and waits until it has stopped.
    func stop(_ key: String) async {
        guard let member = state.withLock({ $0.members.removeValue(forKey: key) }) else { return }
        await member.group.triggerGracefulShutdown()
        await member.task.value
    }

    func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await command in commands {
                    switch command {
                    case .start(let key, let service, let started):
                        launch(key, service)
                        started()
                    }
                }
            } onGracefulShutdown: { [continuation] in
                continuation.finish()
            }
        } onCancel: { [self] in
            for member in state.withLock({ $0.members.values }) { member.task.cancel() }
        }
        for member in state.withLock({ Array($0.members.values) }) { await member.task.value }
    }

    /// Runs on the set's own task, so the member inherits the set's graceful shutdown.
    private func launch(_ key: String, _ service: ServiceGroupConfiguration.ServiceConfiguration) {
        var configuration = ServiceGroupConfiguration(services: [service], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(20)
        let group = ServiceGroup(configuration: configuration)
        let task = Task { [logger, name] in
            do {
                try await group.run()
            } catch {
                logger.error("\(name) \(key) stopped: \(error)")
            }
        }
        state.withLock { $0.members[key] = Member(group: group, task: task) }
    }
}
