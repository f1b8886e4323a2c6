// refuse: turning a client away politely when the server has no room for it.
#pragma once

#include "sys.hpp"

#include <string_view>

namespace one {

// Sends "503 Service Unavailable" with `why` as the body, then closes without waiting on the client:
// whoever calls this is busy serving others. Bytes the client already sent are read first, so the
// close does not turn into a reset that could destroy the 503 before the client reads it.
void refuse_busy(Fd client, std::string_view why);

}  // namespace one
