// Placeholder: replaced by the real `alloy inspect` command.
#include "cli/commands.h"

namespace alloy {
void add_inspect_command(CLI::App& app, int& exit_code) { (void)app; (void)exit_code; }
}  // namespace alloy
