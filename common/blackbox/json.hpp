// json: just enough of a JSON reader for the tests to check a /status page: objects, arrays,
// strings (no \u escapes), whole numbers, true, false, null. Anything else fails the parse, so a
// page that is not valid JSON (a trailing comma, a missing quote) fails the test that reads it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace one::test {

struct Json {
    enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
    int64_t number = 0;
    std::string text;
    std::vector<Json> items;              // an array's
    std::map<std::string, Json> fields;   // an object's

    // The field `name` of an object; nullptr when this is not an object or has no such field.
    const Json* get(const std::string& name) const {
        auto it = fields.find(name);
        return kind == Kind::Object && it != fields.end() ? &it->second : nullptr;
    }
    // A number at a path of field names ("total", "refused", "400"); nullopt if absent or not a number.
    std::optional<int64_t> number_at(std::initializer_list<std::string> path) const {
        const Json* at = this;
        for (const std::string& name : path)
            if (!(at = at->get(name))) return std::nullopt;
        if (at->kind != Kind::Number) return std::nullopt;
        return at->number;
    }
};

namespace json_detail {

inline void skip_space(std::string_view& s) {
    while (!s.empty() && (s[0] == ' ' || s[0] == '\n' || s[0] == '\r' || s[0] == '\t')) s.remove_prefix(1);
}

inline bool take(std::string_view& s, std::string_view word) {
    if (s.substr(0, word.size()) != word) return false;
    s.remove_prefix(word.size());
    return true;
}

inline bool parse_string(std::string_view& s, std::string& out) {
    if (!take(s, "\"")) return false;
    while (!s.empty() && s[0] != '"') {
        if (static_cast<unsigned char>(s[0]) < 0x20) return false;
        if (s[0] == '\\') {
            if (s.size() < 2 || (s[1] != '"' && s[1] != '\\' && s[1] != '/')) return false;
            s.remove_prefix(1);
        }
        out += s[0];
        s.remove_prefix(1);
    }
    return take(s, "\"");
}

inline bool parse_value(std::string_view& s, Json& out, int depth) {
    if (depth > 32) return false;
    skip_space(s);
    if (s.empty()) return false;
    if (take(s, "null")) return true;
    if (take(s, "true") || take(s, "false")) {
        out.kind = Json::Kind::Bool;
        return true;
    }
    if (s[0] == '"') {
        out.kind = Json::Kind::String;
        return parse_string(s, out.text);
    }
    if (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
        out.kind = Json::Kind::Number;
        bool negative = take(s, "-");
        if (s.empty() || s[0] < '0' || s[0] > '9') return false;
        while (!s.empty() && s[0] >= '0' && s[0] <= '9') {
            out.number = out.number * 10 + (s[0] - '0');
            s.remove_prefix(1);
        }
        if (negative) out.number = -out.number;
        return true;
    }
    bool object = s[0] == '{';
    if (!object && s[0] != '[') return false;
    out.kind = object ? Json::Kind::Object : Json::Kind::Array;
    s.remove_prefix(1);
    skip_space(s);
    if (take(s, object ? "}" : "]")) return true;
    for (;;) {
        skip_space(s);
        std::string name;
        if (object) {
            if (!parse_string(s, name)) return false;
            skip_space(s);
            if (!take(s, ":")) return false;
        }
        Json item;
        if (!parse_value(s, item, depth + 1)) return false;
        if (object) {
            if (out.fields.count(name)) return false;  // a field given twice
            out.fields.emplace(std::move(name), std::move(item));
        } else {
            out.items.push_back(std::move(item));
        }
        skip_space(s);
        if (take(s, ",")) continue;
        return take(s, object ? "}" : "]");
    }
}

}  // namespace json_detail

// The value `text` holds, or nullopt if it is not one complete JSON value.
inline std::optional<Json> parse_json(std::string_view text) {
    Json out;
    if (!json_detail::parse_value(text, out, 0)) return std::nullopt;
    json_detail::skip_space(text);
    if (!text.empty()) return std::nullopt;
    return out;
}

}  // namespace one::test
