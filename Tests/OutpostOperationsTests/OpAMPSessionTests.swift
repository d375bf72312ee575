import Foundation
@testable import OutpostOperations
import Testing

@Suite("OpAMP: what the client tells the server")
struct OpAMPSessionTests {
    let facts = AgentFacts(identifying: [("service.instance.id", "g-1")], nonIdentifying: [("os.type", "linux")])
    let effective = EffectiveConfiguration(text: "[gateway]\nid = \"g-1\"\n", origin: "/etc/outpost.toml", hash: "ab")

    func health(_ healthy: Bool, at time: Int64) -> ComponentHealth {
        ComponentHealth(healthy: healthy, status: healthy ? .ok : .recoverableError, lastError: healthy ? "" : "down",
                        startTime: 0, statusTime: time)
    }

    @Test("the first message says everything; later ones only what changed; a failed send or ReportFullState sends all again")
    func onlyChanges() {
        var session = OpAMPSession(instanceUID: Array(repeating: 7, count: 16), acceptsRemoteConfig: false,
                                   lastRemoteConfigHash: [])
        let first = session.next(facts: facts, health: health(true, at: 1), effective: effective)
        #expect(first.sequenceNum == 1 && first.instanceUid == Data(repeating: 7, count: 16))
        #expect(first.hasAgentDescription && first.hasEffectiveConfig && first.hasHealth && !first.hasRemoteConfigStatus)
        #expect(String(decoding: first.effectiveConfig.configMap.configMap["outpost.toml"]?.body ?? Data(), as: UTF8.self)
            == effective.text)
        session.delivered()
        let quiet = session.next(facts: facts, health: health(true, at: 2), effective: effective)
        #expect(quiet.sequenceNum == 2 && !quiet.hasAgentDescription && !quiet.hasEffectiveConfig && !quiet.hasHealth)
        session.delivered()
        let sick = session.next(facts: facts, health: health(false, at: 3), effective: effective)
        #expect(sick.hasHealth && !sick.health.healthy && sick.health.lastError == "down")
        session.sendFailed()
        #expect(session.next(facts: facts, health: health(false, at: 4), effective: effective).hasAgentDescription)
        session.delivered()
        session.reportFullStateNext()
        #expect(session.next(facts: facts, health: health(false, at: 5), effective: effective).hasEffectiveConfig)
    }

    @Test("AcceptsRemoteConfig is announced only when allowed; the status reports the hash, APPLIED or FAILED and the error")
    func remoteConfig() {
        var closed = OpAMPSession(instanceUID: [1], acceptsRemoteConfig: false, lastRemoteConfigHash: [])
        let reportsOnly: UInt64 = 0x1 | 0x4 | 0x800
        #expect(closed.capabilities == reportsOnly)
        var open = OpAMPSession(instanceUID: [1], acceptsRemoteConfig: true, lastRemoteConfigHash: [])
        #expect(open.capabilities == reportsOnly | 0x2 | 0x1000)
        open.remoteConfigHandled(hash: [0xAB], status: (.failed, "c.toml:3:1: error[unknown-key]"))
        let message = open.next(facts: facts, health: health(true, at: 1), effective: effective)
        #expect(message.remoteConfigStatus.status == .failed)
        #expect(message.remoteConfigStatus.lastRemoteConfigHash == Data([0xAB]))
        #expect(message.remoteConfigStatus.errorMessage == "c.toml:3:1: error[unknown-key]")
        _ = closed.next(facts: facts, health: health(true, at: 1), effective: effective)
    }

    @Test("a kept remote configuration is reported APPLIED after a restart, so the server does not send it again")
    func keptConfig() {
        var session = OpAMPSession(instanceUID: [1], acceptsRemoteConfig: true, lastRemoteConfigHash: [9, 9])
        let message = session.next(facts: facts, health: health(true, at: 1), effective: effective)
        #expect(message.remoteConfigStatus.status == .applied && message.remoteConfigStatus.lastRemoteConfigHash == Data([9, 9]))
    }

    @Test("a remote configuration is one file: outpost.toml, or the only one whatever its name")
    func oneFile() {
        var map = Opamp_Proto_AgentConfigMap()
        var file = Opamp_Proto_AgentConfigFile()
        file.body = Data("x = 1".utf8)
        map.configMap["config.toml"] = file
        #expect(OpAMPClient.configurationText(map) == "x = 1")
        map.configMap["other.toml"] = file
        #expect(OpAMPClient.configurationText(map) == nil)
        map.configMap["outpost.toml"] = file
        #expect(OpAMPClient.configurationText(map) == "x = 1")
    }

    @Test("instance UIDs: UUID v7 with its version and variant, kept as hex")
    func instanceUID() {
        let uid = InstanceUID.make(unixMillis: 1_700_000_000_000)
        #expect(uid.count == 16 && uid[6] >> 4 == 7 && uid[8] >> 6 == 2)
        #expect(InstanceUID.parse(InstanceUID.text(uid)) == uid)
        #expect(InstanceUID.parse("0192f6a0-7b1c-7d2e-8f3a-0123456789ab")?.count == 16)
        #expect(InstanceUID.parse("xyz") == nil)
    }
}
