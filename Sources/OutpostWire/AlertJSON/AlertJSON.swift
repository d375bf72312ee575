import OutpostCore

/// The alert JSON document: one object per event, the schema documented in the README ("Alert JSON").
///
/// Top-level fields are fixed; `attributes` holds the series' identifying attributes and `details` everything the
/// detector or rule recorded to explain the event (the `outpost.` prefix dropped).
package enum AlertJSON {
    package static let schema = "outpost.alert.v1"

    package static func encode(_ event: Event, gateway: String) -> String {
        var json = JSONWriter()
        json.beginObject()
        json.string("schema", schema)
        json.string("event", event.name.rawValue)
        json.string("severity", event.severity.text)
        json.integer("severity_number", Int64(event.severity.rawValue))
        json.string("time", RFC3339.format(event.time))
        json.integer("time_unix_nano", event.time)
        json.string("gateway", gateway)
        if let series = event.series {
            json.string("series", series.name)
            json.string("unit", series.unit)
        } else {
            json.null("series")
            json.null("unit")
        }
        if let value = event.attributes["outpost.value"], case .double(let number) = value {
            json.number("value", number)
        } else {
            json.null("value")
        }
        json.string("message", event.message)
        json.beginObject("attributes")
        for (key, value) in event.series?.attributes.entries ?? [] { write(value, key: key, into: &json) }
        json.endObject()
        json.beginObject("details")
        for (key, value) in event.attributes.entries where !["outpost.value", "outpost.series", "outpost.unit"].contains(key) {
            write(value, key: key.hasPrefix("outpost.") ? String(key.dropFirst(8)) : key, into: &json)
        }
        json.endObject()
        json.endObject()
        return json.text
    }

    private static func write(_ value: AttributeValue, key: String, into json: inout JSONWriter) {
        switch value {
        case .string(let text): json.string(key, text)
        case .int(let number): json.integer(key, number)
        case .double(let number): json.number(key, number)
        case .bool(let flag): json.bool(key, flag)
        }
    }
}
