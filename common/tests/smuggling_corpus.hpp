// smuggling_corpus: reads common/tests/smuggling.corpus, the published request-smuggling payloads
// with the answer a strict RFC 9112 parser gives each (the format is described at the file's top).
// Two tests read it: the parser's own (test_smuggling.cpp), and chapter 09's, which sends every
// payload through the proxy and checks that what it refuses reaches no backend.
#pragma once

#include <algorithm>
#include <istream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace one::test::smuggling {

inline const std::string kCorpusPath = "common/tests/smuggling.corpus";  // tests run from the repository root

struct Expectation {
    bool accept = false;  // accept: Complete, else refuse: Error
    int status = 0;       // refuse: the status to answer with
    size_t consumed = 0;  // accept: bytes of the first request
};

struct Entry {
    std::string name, source, known_gap;
    bool has_expect = false;
    Expectation expect;
    std::string bytes;  // the payload, unescaped
    int line = 0;       // of its "# name:" line
};

// ---- reading the corpus. Each function returns "" or what is wrong.

inline int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Appends the bytes one payload line stands for: \r \n \t \\ \xHH, all else printable ASCII as is.
inline std::string unescape(std::string_view text, std::string& out) {
    if (text.back() == ' ' || text.back() == '\t') return "payload line ends in whitespace: write \\x20";
    for (size_t i = 0; i < text.size(); ++i) {
        auto u = static_cast<unsigned char>(text[i]);
        if (u < 0x20 || u > 0x7e) return "raw byte " + std::to_string(u) + " in a payload: escape it";
        if (text[i] != '\\') { out += text[i]; continue; }
        char e = i + 1 < text.size() ? text[++i] : '\0';
        if (e == 'r') out += '\r';
        else if (e == 'n') out += '\n';
        else if (e == 't') out += '\t';
        else if (e == '\\') out += '\\';
        else if (e == 'x' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 && hex_digit(text[i + 2]) >= 0) {
            out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
            i += 2;
        } else return "unknown escape at column " + std::to_string(i);
    }
    return "";
}

// "refuse 400" or "accept 71".
inline std::string parse_expect(std::string_view value, Expectation& e) {
    size_t space = value.find(' ');
    std::string_view verb = value.substr(0, space), number = space == value.npos ? "" : value.substr(space + 1);
    if (number.empty() || number.size() > 9 || !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return "expect needs a number: \"refuse 400\" or \"accept N\"";
    size_t n = std::stoul(std::string(number));
    if (verb == "accept") e = {true, 0, n};
    else if (verb == "refuse" && n >= 400 && n <= 599) e = {false, static_cast<int>(n), 0};
    else return "expect is \"refuse <4xx or 5xx>\" or \"accept N\"";
    return "";
}

inline std::string check_entry(const Entry& e, const std::set<std::string>& names) {
    if (names.count(e.name)) return "a second entry named \"" + e.name + "\"";
    if (e.source.empty()) return "no source";
    if (!e.has_expect) return "no expect";
    if (e.bytes.empty()) return "no payload";
    if (e.expect.accept && (e.expect.consumed == 0 || e.expect.consumed > e.bytes.size()))
        return "accept " + std::to_string(e.expect.consumed) + " but the payload has " + std::to_string(e.bytes.size()) + " bytes";
    return "";
}

// Splits "# key: value", key in lower case letters and '-'; false for any other line.
inline bool split_key(std::string_view line, std::string_view& key, std::string_view& value) {
    size_t colon = line.find(": ");
    if (!line.starts_with("# ") || colon == line.npos || colon == 2) return false;
    key = line.substr(2, colon - 2);
    value = line.substr(colon + 2);
    return std::all_of(key.begin(), key.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '-'; });
}

// One "# key: value" line of an open entry. A key given again continues its value.
inline std::string add_field(Entry& e, std::string_view key, std::string_view value) {
    auto append = [&](std::string& to) { to += (to.empty() ? "" : " ") + std::string(value); };
    if (key == "source") append(e.source);
    else if (key == "known-gap") append(e.known_gap);
    else if (key == "note") {}
    else if (key != "expect") return "unknown key \"" + std::string(key) + "\"";
    else if (e.has_expect) return "expect given twice";
    else {
        e.has_expect = true;
        return parse_expect(value, e.expect);
    }
    return "";
}

// Reads the corpus a line at a time. An entry opens at "# name:", takes key lines, then payload
// lines, and closes at the first blank or "#" line after its payload.
class CorpusReader {
public:
    // Reads every entry into `entries`; returns "" or "path:LINE: what is wrong".
    std::string read(std::istream& in) {
        std::string line, why;
        int number = 0;
        while (why.empty() && std::getline(in, line)) why = take(line, ++number);
        if (why.empty()) why = close();
        return why.empty() ? "" : kCorpusPath + ":" + std::to_string(bad_line_ ? bad_line_ : number) + ": " + why;
    }

    std::vector<Entry> entries;

private:
    std::string take(std::string_view line, int number) {
        if (!line.empty() && line[0] != '#') {
            if (!open_) return "payload outside an entry";
            in_payload_ = true;
            return unescape(line, current_.bytes);
        }
        std::string_view key, value;
        bool keyed = split_key(line, key, value);
        if (in_payload_ || (keyed && key == "name"))
            if (std::string why = close(); !why.empty()) return why;
        if (!keyed) return "";  // a blank line or a comment
        if (key == "name") {
            current_ = Entry{};
            current_.name = value, current_.line = number, open_ = true;
            return "";
        }
        if (open_) return add_field(current_, key, value);
        bool ours = key == "source" || key == "expect" || key == "known-gap" || key == "note";
        return ours ? "\"" + std::string(key) + "\" outside an entry: it belongs after a \"# name:\" line" : "";
    }

    // Ends the open entry; on a fault, reports the line of its name.
    std::string close() {
        if (!open_) return "";
        open_ = in_payload_ = false;
        std::string why = check_entry(current_, names_);
        names_.insert(current_.name);
        entries.push_back(current_);
        if (!why.empty()) bad_line_ = current_.line;
        return why;
    }

    std::set<std::string> names_;
    Entry current_;
    bool open_ = false, in_payload_ = false;
    int bad_line_ = 0;  // set when a fault belongs to an earlier line than the one being read
};


}  // namespace one::test::smuggling
