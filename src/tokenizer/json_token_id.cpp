#include "tokenizer/json_token_id.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace alloy {

int32_t json_token_id(const nlohmann::json& value, std::string_view where, std::string_view entry) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
      value.get<int64_t>() > std::numeric_limits<int32_t>::max())
    fail(where, entry.empty() ? "" : cat(" '", entry, "'"), ": token id ", value.dump(), " is not a whole number from 0 to ", std::numeric_limits<int32_t>::max());
  return static_cast<int32_t>(value.get<int64_t>());
}

}  // namespace alloy
