// TcpStream: the ByteStream of a tcp link, over a connected socket (non-blocking, TCP_NODELAY,
// large buffers). End of stream and resets surface as kUnavailable.
#pragma once

#include <memory>
#include <string>

#include "runtime/net/socket.h"
#include "runtime/transport/stream_link.h"

namespace cohort {

// Takes a connected socket (any blocking mode) and configures it. `peer_address` ("10.0.0.2:41234")
// appears in error messages.
Result<std::unique_ptr<ByteStream>> MakeTcpStream(UniqueFd fd, std::string peer_address);

}  // namespace cohort
