// Token ids as tokenizer.json writes them (vocabularies, added_tokens, unk_id, post-processor ids).
#pragma once
#include <cstdint>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace alloy {

// The id `value` holds: a whole number from 0 to 2^31 - 1. Anything else throws Error
// "<where>: ..." or, with an entry, "<where> '<entry>': ..." (the message is formed only then, so a
// vocabulary loop passes its token as it is); nlohmann's get<int32_t>() would convert a float
// such as 1e30 (undefined behaviour) and wrap a larger integer into some other token's id.
int32_t json_token_id(const nlohmann::json& value, std::string_view where, std::string_view entry = {});

}  // namespace alloy
