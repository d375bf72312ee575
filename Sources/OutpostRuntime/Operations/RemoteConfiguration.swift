import OutpostCore
import OutpostInputs
import OutpostOperations

extension OutpostConfiguration {
    /// The configuration to run: the local file's, or, when that file lets an OpAMP server configure this gateway
    /// (`[opamp] accept_remote_config`) and one did, the last remote configuration that applied
    /// (`<state_dir>/opamp/remote.toml`), run with the local file's `[opamp]`. A kept remote configuration that no
    /// longer checks (an upgrade removed a key it uses) is set aside for the local file, with a note saying so.
    package static func effective(local: OutpostConfiguration, environment: [String: String])
        -> (configuration: OutpostConfiguration, note: String?)
    {
        guard local.opamp.remoteConfigAllowed else { return (local, nil) }
        let store = RemoteConfigStore(stateDirectory: local.gateway.stateDirectory)
        guard let kept = store.load() else { return (local, nil) }
        do {
            var remote = try parse(kept.text, file: store.configPath, environment: environment,
                                   sampleClock: local.sampleClock)
            guard !remote.setsOpAMP else { return (local, "\(store.configPath) sets [opamp]; running the local file") }
            remote.opamp = local.opamp
            return (remote, "running the configuration an OpAMP server sent (\(store.configPath)); delete it, or set "
                + "[opamp] accept_remote_config = false, and reload to run \(local.origin) again")
        } catch {
            return (local, "the kept remote configuration \(store.configPath) does not check (\(error)); running "
                + "\(local.origin)")
        }
    }
}
