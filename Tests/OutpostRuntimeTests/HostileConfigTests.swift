@testable import OutpostCore
import OutpostDetect
import Testing
@testable import OutpostRuntime

/// Configs written to break the loader: every one is an error at a place in the file, never a crash.
@Suite("Hostile configs are errors, never crashes")
struct HostileConfigTests {
    func errors(_ toml: String) -> [ConfigError] {
        do {
            _ = try OutpostConfiguration.parse(toml, file: "outpost.toml", environment: [:])
            return []
        } catch let errors as ConfigErrors {
            return errors.errors
        } catch {
            Issue.record("unexpected \(error)")
            return []
        }
    }

    func simulated(_ line: String) -> String {
        "[[input.simulated]]\nname = \"a.b\"\n\(line)\n"
    }

    static let deepValues = [
        "arrays": "x = " + String(repeating: "[\n", count: 200_000),
        "inline tables": "x = " + String(repeating: "{a=", count: 5000),
        "mixed": "x = [" + String(repeating: "{a=[", count: 3000),
    ]

    @Test("arrays and inline tables nested without end stop at the depth limit, at the line and column",
          arguments: ["arrays", "inline tables", "mixed"])
    func deepNesting(_ kind: String) throws {
        let error = try #require(errors(Self.deepValues[kind]!).first)
        #expect(error.code == .syntax)
        #expect(error.message.contains("nest more than 32 levels"))
        #expect(error.location?.line == (kind == "arrays" ? 33 : 1))
        #expect(error.location?.column != nil)
    }

    @Test("a huge stale_after count is an error at its key; the largest allowed one saturates, never traps",
          arguments: ["9223372036854775807", "1000001"])
    func staleAfterCount(_ count: String) throws {
        let error = try #require(errors(simulated("interval = \"3650d\"\n[input.simulated.detect]\nstale_after = \(count)")).first)
        #expect(error.description.contains("stale_after"))
        #expect(error.message.contains("1000000 intervals"))
        #expect(error.location?.line == 5)
    }

    @Test("a million intervals of ten years is the longest silence a config can give")
    func staleAfterSaturates() throws {
        #expect(errors(simulated("interval = \"3650d\"\n[input.simulated.detect]\nstale_after = 1000000")).isEmpty)
        let limit = StaleAfter.intervals(1_000_000).limit(interval: .seconds(3650 * 86_400))
        #expect(limit == .seconds(3650 * 86_400))
    }

    @Test("nesting up to the limit is fine TOML")
    func nestingAtTheLimit() throws {
        let value = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(try TOMLParser.parse("x = \(value)\n").entries.count == 1)
    }

    @Test("dotted keys and headers with too many parts are refused", arguments: [1, 2])
    func longKeys(_ variant: Int) throws {
        let toml = variant == 1 ? String(repeating: "a.", count: 5000) + "a = 1"
            : "[" + String(repeating: "a.", count: 1000) + "a]"
        let error = try #require(errors(toml).first)
        #expect(error.code == .syntax)
        #expect(error.message.contains("at most 32 dotted parts"))
    }

    @Test("a line beyond 16KiB is refused at its line")
    func longLine() throws {
        let error = try #require(errors("# fine\nname = \"" + String(repeating: "x", count: 20_000) + "\"\n").first)
        #expect(error.message.contains("line longer than 16384 bytes"))
        #expect(error.location?.line == 2)
    }

    @Test("durations that are not finite or do not fit are config errors at the key", arguments: [
        "inf", "-inf", "nan", "1e10", "1e300", "9223372036854775807", "\"99999999999999999999999s\"", "\"99999999d\"",
        "\"5000d\"",
    ])
    func hostileDurations(_ value: String) throws {
        let found = errors("[gateway]\nstate_dir = \"/tmp\"\n" + simulated("interval = \(value)"))
        let error = try #require(found.first)
        #expect(found.count == 1)
        #expect(error.code == .invalidValue)
        #expect(error.message.contains("not a usable duration"))
        #expect(error.location?.line == 5)
        #expect(error.path?.description == "input.simulated[#1].interval")
    }

    @Test("every number from the config is checked: non-finite, out of range or too big for its type", arguments: [
        ("[detect]\nsigma = nan\n", "detect.sigma"),
        ("[detect]\nwindow = 9223372036854775807\n", "detect.window"),
        ("[batch]\ngzip_level = 4294967306\n", "batch.gzip_level"),
        ("[batch]\nmax_points = -1\n", "batch.max_points"),
        ("[[input.replay]]\npath = \"r.csv\"\nspeed = inf\n", "input.replay[#1].speed"),
        ("[[input.simulated]]\nname = \"a.b\"\nbase = -inf\n", "input.simulated[#1].base"),
        ("[[input.exec]]\ncommand = [\"true\"]\nmax_output = \"8GiB\"\n", "input.exec[#1].max_output"),
        ("[[input.exec]]\ncommand = [\"true\"]\nscale = nan\n", "input.exec[#1].scale"),
        ("[mqtt.brokers.b]\nurl = \"mqtt://127.0.0.1:1883\"\nkeepalive = \"1d\"\n", "mqtt.brokers.b.keepalive"),
        ("[[input.mqtt]]\nbroker = \"b\"\ntopics = [\"#\"]\ndevice_level = 0\n", "input.mqtt[#1].device_level"),
        ("[[input.mqtt]]\nbroker = \"b\"\ntopics = [\"#\"]\nmax_series = 0\n", "input.mqtt[#1].max_series"),
    ])
    func hostileNumbers(_ toml: String, key: String) throws {
        let found = errors(toml)
        let error = try #require(found.first { $0.path?.description == key }, "\(found)")
        #expect(error.code == .invalidValue)
        #expect(error.location != nil)
    }

    @Test("the largest duration still accepted is ten years")
    func longestDuration() throws {
        #expect(errors(simulated("interval = \"3650d\"")).isEmpty)
        #expect(ConfigQuantities.duration("3650d") == .seconds(3650 * 86_400))
        #expect(UnixNanos.from(.seconds(Int64.max)) == .max, "saturates instead of trapping")
    }
}

@Suite("Messages show invisible differences")
struct InvisibleCharacterTests {
    @Test("an unknown key with a zero-width space shows it escaped")
    func unknownKey() throws {
        do {
            _ = try OutpostConfiguration.parse("[[input.simulated]]\nname = \"a\"\n\"inter\u{200B}val\" = 5\n",
                                               file: "outpost.toml", environment: [:])
            Issue.record("accepted")
        } catch let errors as ConfigErrors {
            #expect(errors.errors.first?.message.contains("unknown key `inter\\u{200B}val`") == true)
        }
    }

    @Test("controls, format characters and odd spaces are escaped; ordinary text is not")
    func escaping() {
        #expect("\u{FEFF}a b\tc\u{00A0}é".escapingInvisibles == "\\u{FEFF}a b\\u{9}c\\u{A0}é")
    }
}
