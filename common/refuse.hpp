// refuse: turning a client away politely when the server has no room for it.
#pragma once

#include "status.hpp"
#include "sys.hpp"

#include <string_view>

namespace one {

// Sends "503 Service Unavailable" saying why, then closes without waiting on the client:
// whoever calls this is busy serving others. Bytes the client already sent are read first, so the
// close does not turn into a reset that could destroy the 503 before the client reads it.
// `why` is one of the 503 reasons of status::Refusal, counted for /status.
void refuse_busy(Fd client, status::Refusal why);

}  // namespace one
