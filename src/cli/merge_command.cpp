// Placeholder: replaced by the real `alloy merge` command.
#include "cli/commands.h"

namespace alloy {
void add_merge_command(CLI::App& app, int& exit_code) { (void)app; (void)exit_code; }
}  // namespace alloy
