// front_door_spec: chapter 11's own tests start the front door in front of a fake backend (chapter
// 09's FakeBackend), with one worker unless a test asks for more.
#pragma once

#include "chapters/09-proxy/fake_backend.hpp"
#include "common/blackbox/harness.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace one::test {

inline ServerSpec front_door(const FakeBackend& backend, std::vector<std::string> extra = {}) {
    ServerSpec spec{{"--upstream", backend.address()}};
    if (std::find(extra.begin(), extra.end(), "--workers") == extra.end()) spec.args.insert(spec.args.end(), {"--workers", "1"});
    spec.args.insert(spec.args.end(), extra.begin(), extra.end());
    return spec;
}

}  // namespace one::test
