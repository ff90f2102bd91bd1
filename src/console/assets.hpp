// The web console's files (src/console/assets), built into the binary by embed.cmake: each with
// its content type and a strong ETag (a digest of its bytes).
#pragma once

#include <span>
#include <string_view>

namespace switchyard::console {

struct Asset {
    std::string_view name;          // "index.html", "app.js", ...
    std::string_view content_type;
    std::string_view etag;          // quoted, as sent in ETag
    std::string_view bytes;
};

std::span<const Asset> assets();

}  // namespace switchyard::console
